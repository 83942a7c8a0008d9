// Package atomicfile replaces files whole: a crash leaves the old content
// or the new, never half of either.
package atomicfile

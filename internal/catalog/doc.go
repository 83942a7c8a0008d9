// Package catalog is the registry of built-in kinds: each substrate and
// layer kind is one package, listed here on one line. The CLI, the
// provider, validation and the engine read what it returns.
package catalog

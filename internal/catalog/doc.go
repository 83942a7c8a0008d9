// Package catalog lists the built-in substrate and layer kinds: the one
// place a new kind is added.
package catalog

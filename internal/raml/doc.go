// Package raml reads the data-type part of RAML 1.0 (libraries of named types
// and the files they pull in with uses:) and checks decoded JSON values
// against those types, reporting every problem with its JSON path.
//
// It exists so that JSON we produce can be held to a published RAML contract
// rather than to our own Go structs. Only types are read; resources, methods,
// traits and security schemes are ignored. A construct that would change what
// is valid but is not implemented makes the type unusable with an error
// naming the construct and where it is, rather than being ignored.
package raml

// Package raml reads the data-type part of RAML 1.0 (libraries of named types
// and the files they pull in with uses:) and checks decoded JSON values
// against those types, reporting every problem with its JSON path.
//
// It exists so that JSON we produce can be held to a published RAML contract
// rather than to our own Go structs. Only types are read; resources, methods,
// traits and annotation types are ignored, as are documentation facets
// (description, example, default, annotations...). Understood: the built-in
// types except file; type expressions (A | B, T[], T?, parentheses);
// inheritance from one or several types; library prefixes; properties with
// name? and required; pattern properties (/regex/, // for any name);
// additionalProperties, min/maxProperties, discriminator and
// discriminatorValue; items, min/maxItems, uniqueItems; enum; pattern,
// min/maxLength; minimum, maximum, multipleOf and format. Any other facet, the
// file type and inline JSON or XML schemas make the type unusable: Load lists
// them (Schema.Issues) and validation that reaches them fails naming the
// construct and where it is, rather than passing.
package raml

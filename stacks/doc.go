// Package stacks is the stack language: it parses a stack (one HCL or HCL
// JSON file, or every *.strata.hcl / *.strata.json of a folder), resolves
// variables, decodes substrates, pools, layers and outputs against the
// kinds it is given, and validates the whole — references, placements,
// cycles, counts, inline secrets — reporting every problem at once as
// hcl.Diagnostics with file, line and column.
package stacks

// Package schema describes the attributes and nested blocks that a substrate
// kind or a layer kind accepts, and decodes an HCL body against that
// description with diagnostics that point at the offending line.
package schema

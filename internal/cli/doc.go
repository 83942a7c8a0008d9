// Package cli implements the strata commands on plain arguments (main
// parses flags and hands them over): validate, plan and render a stack,
// printing diagnostics the way a compiler does.
package cli

// Package state keeps the CLI's record of the stacks it brought up: one
// JSON file per stack, written atomically (temporary file, fsync, rename),
// with the stack's source, variables, time to live and machines.
package state

// Package state keeps the CLI's record of the stacks it brought up behind
// one seam, Backend: the record (the stack's source, variables, time to
// live and machines), its secret seed, and a lock per stack held while it
// is applied or destroyed. Files is the local backend: one JSON file per
// stack written atomically (temporary file, fsync, rename), a seed file
// and a flock'd lock file; pgstate is the shared one.
package state

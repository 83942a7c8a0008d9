// Package engine applies a plan: it finds what already exists by the
// stack's tags, removes what the plan no longer wants, creates and waits
// for the rest stage by stage with bounded parallelism per substrate,
// retries transient errors with backoff and jitter, and reports progress.
// The Terraform provider, the CLI and the tests all drive it; it knows
// substrates only through provisioners.Provisioner.
package engine

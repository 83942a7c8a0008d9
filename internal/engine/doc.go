// Package engine applies a plan: it finds what already exists by the
// stack's tags and labels, removes what the plan no longer wants (what is
// on a layer before the layer), creates machines and submits hosted roles
// stage by stage with bounded parallelism per substrate and host, retries
// transient errors with backoff and jitter, and reports progress. The
// Terraform provider, the CLI and the tests all drive it; it knows
// substrates only through provisioners.Provisioner, and the layers that
// host roles only through layers.Host.
package engine

// Package pgstate keeps stacks' records in PostgreSQL, for CI runners that
// share stacks: one row per stack (its record as JSON and its secret seed,
// sealed with AES-256-GCM under the runner's STRATA_STATE_KEY), and a
// session-level advisory lock per stack while it is applied or destroyed,
// which PostgreSQL releases when the session ends (a killed runner holds
// nothing). Terraform's pg backend is the model.
package pgstate

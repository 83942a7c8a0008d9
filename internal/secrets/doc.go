// Package secrets derives a stack's secrets (join tokens, passwords, key
// material) from one random per-stack seed, so every render of a stack
// agrees with every other, and nothing secret is ever hard-coded.
package secrets

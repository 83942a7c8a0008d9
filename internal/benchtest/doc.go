// Package benchtest holds what the substrates' benchmarks share: sizes
// from the environment and a bounded fan-out of calls.
package benchtest

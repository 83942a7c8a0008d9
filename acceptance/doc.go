// Package acceptance holds the end-to-end tests: they build the real
// binaries and drive them as a user would, against the examples and (in
// later suites) the test substrates.
package acceptance

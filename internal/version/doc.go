// Package version describes a build of strata or its provider: the
// release version main was linked with, and the commit, Go version and
// platform the Go toolchain stamped into the binary.
package version

// Package memo remembers what a provisioner looks up once per run (a
// template, a datastore, the flavor list): computed on first use while a
// lock is held, so concurrent callers compute it once, and not kept when
// the lookup failed, so a fixed mistake is seen on the next call.
package memo

// Package fakesub is an in-memory substrate, a provisioners.Provisioner
// that keeps its machines in a map. It is for tests only.
//
// An in-memory substrate is acceptable there because the tests that use it
// check the engine's and the provider's own rules — ordering, parallelism
// bounds, retries, cancellation, adoption, and what the provider makes of
// the engine's results (plans, state, diagnostics) — which do not depend on
// how a substrate makes its machines. Real substrates are tested against
// their simulators (vSphere against vcsim) in their own packages and
// under acceptance/.
//
// Its knobs let a test slow every create down, fail a machine's create
// (transiently a number of times, or for good) or delete, and fail Open;
// it counts opens, keeps a log of events, the user data of every machine it
// made, and the most calls it saw in flight at once.
package fakesub

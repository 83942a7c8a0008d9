// Package fakehost is an in-memory host for hosted roles, a layers.Host
// that keeps submitted objects in a map, and a wrapper that makes any
// layer kind a layers.Hosting one served by it. It is for tests only.
//
// An in-memory host is acceptable there because the tests that use it
// check the engine's own rules for hosted roles — a host is used only once
// its layer is up, objects are submitted in bring-up order and waited for,
// re-runs adopt, what the stack no longer asks for is removed, and destroy
// removes what is on a layer before the layer's machines — which do not
// depend on how a host runs its objects. The real hosts are tested against
// a real Kubernetes API server and a Marathon test server in their own
// packages and under acceptance/.
package fakehost

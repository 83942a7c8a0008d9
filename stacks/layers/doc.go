// Package layers defines the Layer seam: what a layer kind (mesos,
// kubernetes, openstack) tells the stack language about itself — its roles,
// where each may be placed, its settings — and how it renders a role for a
// placement: cloud-init for a machine of a pool, or objects for a host layer.
// One package per kind implements it; the stack compiler knows kinds only
// through this interface.
//
// A running layer is also a place things go. A kind that is a Substrate
// (openstack) is opened as one for the pools placed on it; a kind that is
// Hosting (mesos through Marathon, kubernetes through its API) is reached
// as a Host for the roles of other layers placed on it. Every hosted object
// carries the labels Cluster.Labels gives, by which hosts list a stack's
// objects.
package layers

// Package layers defines the Layer seam: what a layer kind (mesos,
// kubernetes, openstack) tells the stack language about itself — its roles,
// where each may be placed, its settings — and how it renders a role for a
// placement: cloud-init for a machine of a pool, or objects for a host layer.
// One package per kind implements it; the stack compiler knows kinds only
// through this interface.
package layers

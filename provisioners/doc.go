// Package provisioners defines the Provisioner seam: how the engine makes,
// finds and removes machines on one substrate kind, and the Spec of the
// settings that kind accepts in a stack file. One package per substrate
// (vsphere, aws, openstack, baremetal) implements both.
package provisioners

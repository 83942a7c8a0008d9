// Package vcsim runs govmomi's vCenter simulator in-process, shaped for
// strata: one datacenter (DC0) with a cluster (DC0_C0), a datastore
// (LocalDS_0), the standard port group "VM Network", and a VM template to
// clone (default "ubuntu-24.04"), behind the user and password you choose.
//
// The simulator only reports a guest IP address when a VM's ExtraConfig
// asks for one (SET.guest.ipAddress). Real guests get theirs from DHCP, and
// the vSphere provisioner must not know it talks to a simulator, so this
// package plays the guest's part: every VM that powers on is given its own
// address from Options.Subnet, kept for the VM's life and dropped again
// when it powers off, as VMware Tools would report.
//
// It serves the vSphere provisioner's tests and `strata sim vsphere`.
package vcsim

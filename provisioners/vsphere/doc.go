// Package vsphere is the vSphere substrate: the settings a `substrate
// "vsphere"` block accepts (and, later, the govmomi provisioner).
package vsphere

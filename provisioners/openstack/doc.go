// Package openstack is the OpenStack substrate: the settings a `substrate
// "openstack"` block (or a pool on an openstack layer) accepts, and later
// the gophercloud provisioner.
package openstack

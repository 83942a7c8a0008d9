// Package vsphere is the vSphere substrate: the settings a `substrate
// "vsphere"` block accepts (Spec) and a govmomi provisioner (Open).
//
// A machine is a clone of a template, placed in the VM folder
// <folder or the datacenter's VM root>/strata-<stack> (made on first use),
// sized from the machine (CPUs, memory, a larger first disk), and
// powered on. Its bootstrap travels as cloud-init's VMware guestinfo:
//
//	guestinfo.userdata           base64 of the machine's user-data
//	guestinfo.userdata.encoding  base64
//	guestinfo.metadata           base64 of {"instance-id": NAME, "local-hostname": NAME}
//	guestinfo.metadata.encoding  base64
//
// Tags are written into the clone spec's ExtraConfig, so a VM carries them
// from the moment it exists and a crashed run's machines are found again
// by List:
//
//	strata:NAME  ->  guestinfo.strata.tags.NAME      (strata:stack -> guestinfo.strata.tags.stack)
//	KEY          ->  guestinfo.strata.usertags.KEY   (tags outside the strata: namespace)
//
// NAME and KEY may hold letters, digits, '.', '_' and '-'. Being guestinfo
// keys, they are also readable inside the guest (`vmware-rpctool "info-get
// guestinfo.strata.tags.pool"`). Where vCenter has custom attributes named
// like a tag (strata:stack, strata:pool, ... for VirtualMachine or global),
// they are set too, best effort, so the tags show in the vSphere client.
//
// Open logs in and resolves every name in the substrate block (datacenter,
// cluster or resource pool, folder, template, datastore, network), so a
// typo fails before anything is made, naming what is missing and what
// exists; Close logs out. Errors worth retrying (busy or restarting
// vCenter, dropped connections, TaskInProgress and similar faults) are
// provisioners.Transient.
//
// Instance IDs are VM managed object references ("vm-123"). States:
// pending (powered on, no guest address yet), running (powered on with an
// address), stopped (powered off or suspended), error (the VM is
// disconnected, orphaned or inaccessible), gone (it no longer exists).
package vsphere

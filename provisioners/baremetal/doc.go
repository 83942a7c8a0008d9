// Package baremetal is the bare-metal substrate: the settings a `substrate
// "baremetal"` block accepts (boot server, boot image, machines and their
// BMCs), and later the boot server, BMC power control and provisioner.
package baremetal

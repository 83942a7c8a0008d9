// Package baremetal is the bare-metal substrate: the settings a `substrate
// "baremetal"` block accepts (boot server, boot image, machines and their
// BMCs) and the provisioner that takes those machines.
//
// Machines are not created, they are taken: Create picks the physical
// machine Machines(substrate, pool)[strata:index], registers a profile (the
// image plus the machine's user-data) and the machine with the boot
// server's API, sets the next boot to PXE and powers it on (or cycles it).
// Ready polls the boot server until the machine phones home and, on
// timeout, names the last boot step it reached. Delete powers the machine
// off and deregisters it and its profile. BMC passwords come from
// Config.BMCPassword and never reach the boot server, state or errors.
package baremetal

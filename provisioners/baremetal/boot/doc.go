// Package boot runs the bare-metal boot server as one process: the durable
// inventory, the HTTP side (iPXE scripts, assets, user-data, phone-home,
// API), TFTP for the iPXE binaries, and optionally DHCP (full or proxy) on
// one interface. `strata boot serve` is a thin front to Run.
package boot

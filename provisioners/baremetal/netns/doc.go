// Package netns makes, enters and removes named Linux network namespaces,
// the ones `ip netns` manages under /run/netns. The bare-metal lab and the
// tests that need a private network (DHCP, router advertisements) use it so
// that nothing they send reaches a real interface.
//
// Setup goes through the `ip` command (iproute2): it is what users run to
// look inside, and it mounts /run/netns the way every other tool expects.
// Code that must open sockets inside a namespace uses Do or Go, which move
// one locked OS thread into it.
package netns

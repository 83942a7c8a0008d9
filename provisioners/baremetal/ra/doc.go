// Package ra sends IPv6 router advertisements on one interface of a boot
// network.
//
// iPXE starts IPv6 autoconfiguration next to DHCPv4 and, on a network with
// no IPv6 router, waits about 13 s for it to time out before it boots. One
// advertisement (answering its router solicitation) ends that wait. The
// advertisement carries a router lifetime of 0, so no host takes this
// server as its default router, and one prefix with the autonomous flag, so
// hosts can form an address on it. It is for labs and isolated boot
// networks that have no IPv6 router of their own; where one exists, leave
// this off.
package ra

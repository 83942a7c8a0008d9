// Package dhcp is the DHCPv4 responder of the Strata boot server: it tells
// each network-booting machine what to boot and, in full mode, gives it an
// address.
//
// # Client types and what each is given
//
// Classify reads the request's options (60 vendor class, 77 user class,
// 93 architecture, 175 iPXE features):
//
//	BIOS PXE   arch 0, "PXEClient:Arch:00000"  -> TFTP undionly.kpxe
//	UEFI PXE   arch 7/9 (x86-64), 6 (ia32), .. -> TFTP ipxe.efi (per-arch table)
//	UEFI HTTP  "HTTPClient", arch 16/15/..     -> http://.../ipxe.efi, option 60 "HTTPClient"
//	iPXE       user class "iPXE" or option 175 -> the iPXE script URL (http://...boot.ipxe?mac=...)
//
// The firmware kinds only ever get an iPXE binary; iPXE then asks again
// and gets the script. Every reply to iPXE carries option 175.176 = 1
// ("no-pxedhcp"), which makes iPXE take an address offer at once instead
// of waiting about 2 s for ProxyDHCP offers (it only matters on offers
// that carry an address, i.e. in full mode). An iPXE that announces
// features without HTTP first chainloads a full iPXE binary over TFTP.
//
// Machines are known or not by Config.Known. Unknown MACs get no reply at
// all, unless Config.DiscoveryURL is set: then they are booted like known
// ones but into the discovery script.
//
// # Modes
//
// Full mode leases addresses from Config.Leases (MemoryLeases for labs and
// tests; the boot server can back it with its inventory):
// DISCOVER -> OFFER, REQUEST -> ACK, or NAK for an address outside the
// range or leased to another machine, INFORM -> ACK without an address or
// lease time, RELEASE frees the lease, DECLINE parks the address. Plain
// DHCP clients (the booted OS) of served machines get leases too.
//
// Proxy mode is proxyDHCP (PXE 2.1) beside a DHCP server that owns the
// addresses. It answers only network-boot clients, never with an address
// or lease options, in the way dnsmasq's proxy mode does, which PXE ROMs,
// EDK2-based UEFI firmware and iPXE are known to accept:
//
//   - port 67, DISCOVER -> OFFER with yiaddr 0, siaddr and option 54 =
//     ServerIP, option 60 "PXEClient" ("HTTPClient" for HTTP boot), the
//     boot file, option 97 echoed. BIOS ROMs also get option 43 with
//     PXE_DISCOVERY_CONTROL = 8 ("boot the file in this packet, skip boot
//     server discovery") and a zero-timeout menu prompt, so they boot from
//     the offer. iPXE boots from the offer too, because it has siaddr and
//     a file name.
//   - UEFI PXE firmware does not reliably boot from a port-67 proxy offer,
//     so its offer leaves option 43 out: the firmware then sends a
//     ProxyDHCPREQUEST to ServerIP:4011, and ServeBootServer (port 4011)
//     answers with a DHCPACK carrying the file and option 43. Proxy mode
//     therefore needs two sockets: Serve on 67 and ServeBootServer on
//     4011.
//   - REQUESTs on port 67 belong to the real DHCP server and are ignored.
//
// Full mode sends PXE ROMs option 60 "PXEClient" and the same option 43 in
// its offers and ACKs, so they boot from them and never go to port 4011.
//
// # Serving
//
// Reply and ReplyBootServer are pure in the sense that matters for tests:
// packet in, packet out, no I/O except through Leases and Observe. Serve
// and ServeBootServer run them over a net.PacketConn until the context
// ends. The lab runs the server inside its own network namespace (a
// bridge and one tap per VM), so its broadcasts never reach a real
// network; never point it at an interface of a network you do not own.
// Tests use 127.0.0.1 with ephemeral ports.
//
// # IPv6
//
// iPXE also waits about 13 s for IPv6 autoconfiguration after DHCP on a
// network without an IPv6 router. Package ra sends the router
// advertisement that ends that wait (strata boot serve -ra-prefix); it is
// separate because it is ICMPv6, not DHCP.
package dhcp

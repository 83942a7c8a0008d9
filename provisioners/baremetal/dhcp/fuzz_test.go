package dhcp

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// FuzzReply feeds arbitrary bytes through the server's request path
// (dhcpv4.FromBytes, then every Reply method in both modes, then the
// reply's wire form). It must never panic, and a proxy must never hand
// out an address, whatever arrives.
//
// The seed corpus is the requests of every client type this package
// knows, in every message type, plus a few damaged ones; `go test` runs
// the seeds, `go test -fuzz FuzzReply` explores from them.
func FuzzReply(f *testing.F) {
	clients := [][]dhcpv4.Modifier{
		biosPXE(), uefiPXE(iana.EFI_X86_64), uefiPXE(iana.EFI_IA32), uefiPXE(iana.EFI_ARM64),
		httpBoot(iana.EFI_X86_64_HTTP), httpBoot(iana.EFI_ARM64_HTTP),
		ipxe(iana.INTEL_X86PC, ipxeFeatures), ipxe(iana.EFI_X86_64, ipxeNoHTTP), plain(),
	}
	types := []dhcpv4.MessageType{
		dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeInform,
		dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeDecline,
	}
	for i, mods := range clients {
		for _, mt := range types {
			mac := macKnown
			if i%3 == 2 {
				mac = macUnknown
			}
			p, err := dhcpv4.New(append([]dhcpv4.Modifier{
				dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(mt),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 0, 2, 101))),
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(testServer)),
			}, mods...)...)
			if err != nil {
				f.Fatal(err)
			}
			b := p.ToBytes()
			f.Add(b)
			f.Add(b[:len(b)/2])
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, 240))

	full, _, _ := fullConfig(f)
	full.DiscoveryURL = testDiscovery
	rFull := mustNew(f, full)
	rProxy := mustNew(f, proxyConfig())

	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := dhcpv4.FromBytes(data)
		if err != nil {
			return
		}
		_ = Classify(req)
		for _, reply := range []func(*dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error){
			rFull.Reply, rFull.ReplyBootServer, rProxy.Reply, rProxy.ReplyBootServer,
		} {
			resp, err := reply(req)
			if err != nil || resp == nil {
				continue
			}
			if _, err := dhcpv4.FromBytes(resp.ToBytes()); err != nil {
				t.Fatalf("reply does not parse back: %v", err)
			}
		}
		for _, reply := range []func(*dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error){rProxy.Reply, rProxy.ReplyBootServer} {
			if resp, _ := reply(req); resp != nil && !resp.YourIPAddr.IsUnspecified() {
				t.Fatalf("proxy handed out %v", resp.YourIPAddr)
			}
		}
	})
}

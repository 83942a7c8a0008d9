package dhcp

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

const (
	scriptKnown  = "http://192.0.2.1:8080/boot.ipxe?mac=52:54:00:12:34:56"
	httpIPXEEFI  = "http://192.0.2.1:8080/ipxe.efi"
	serverString = "192.0.2.1"
)

// TestFullModeByClientType runs DISCOVER -> OFFER -> REQUEST -> ACK for each
// client type and checks both replies field by field.
func TestFullModeByClientType(t *testing.T) {
	first := net.IPv4(192, 0, 2, 100).To4()
	tests := []struct {
		name string
		mods []dhcpv4.Modifier
		want want
	}{
		{"BIOS PXE chainloads undionly.kpxe over TFTP", biosPXE(), want{
			yiaddr: first, siaddr: testServer, file: "undionly.kpxe", opt67: "undionly.kpxe", opt66: serverString,
			opt60: "PXEClient", opt43: true, opt97: true, lease: true,
		}},
		{"UEFI x86-64 PXE chainloads ipxe.efi over TFTP", uefiPXE(iana.EFI_X86_64), want{
			yiaddr: first, siaddr: testServer, file: "ipxe.efi", opt67: "ipxe.efi", opt66: serverString,
			opt60: "PXEClient", opt43: true, opt97: true, lease: true,
		}},
		{"UEFI BC PXE chainloads ipxe.efi over TFTP", uefiPXE(iana.EFI_BC), want{
			yiaddr: first, siaddr: testServer, file: "ipxe.efi", opt67: "ipxe.efi", opt66: serverString,
			opt60: "PXEClient", opt43: true, opt97: true, lease: true,
		}},
		{"UEFI HTTP gets the URL of ipxe.efi", httpBoot(iana.EFI_X86_64_HTTP), want{
			yiaddr: first, siaddr: testServer, file: httpIPXEEFI, opt67: httpIPXEEFI,
			opt60: "HTTPClient", lease: true,
		}},
		{"iPXE on BIOS gets the script URL and 175.176", ipxe(iana.INTEL_X86PC, ipxeFeatures), want{
			yiaddr: first, siaddr: testServer, file: scriptKnown, opt67: scriptKnown, ipxe176: true, lease: true,
		}},
		{"iPXE on UEFI gets the script URL and 175.176", ipxe(iana.EFI_X86_64, ipxeFeatures), want{
			yiaddr: first, siaddr: testServer, file: scriptKnown, opt67: scriptKnown, ipxe176: true, lease: true,
		}},
		{"iPXE without HTTP chainloads undionly.kpxe first", ipxe(iana.INTEL_X86PC, ipxeNoHTTP), want{
			yiaddr: first, siaddr: testServer, file: "undionly.kpxe", opt67: "undionly.kpxe", opt66: serverString,
			ipxe176: true, lease: true,
		}},
		{"iPXE without HTTP on UEFI chainloads ipxe.efi first", ipxe(iana.EFI_X86_64, ipxeNoHTTP), want{
			yiaddr: first, siaddr: testServer, file: "ipxe.efi", opt67: "ipxe.efi", opt66: serverString,
			ipxe176: true, lease: true,
		}},
		{"UEFI ia32 without a configured binary gets an address only", uefiPXE(iana.EFI_IA32), want{
			yiaddr: first, siaddr: testServer, lease: true,
		}},
		{"plain client of a known machine gets a lease only", plain(), want{
			yiaddr: first, siaddr: testServer, lease: true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, _ := fullConfig(t)
			var events []Event
			cfg.Observe = func(e Event) { events = append(events, e) }
			r := mustNew(t, cfg)

			disc := newDiscover(t, macKnown, tt.mods)
			offer, err := r.Reply(disc)
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want
			w.msgType = dhcpv4.MessageTypeOffer
			checkReply(t, offer, w)
			if offer.TransactionID != disc.TransactionID || !bytes.Equal(offer.ClientHWAddr, macKnown) {
				t.Errorf("offer xid/chaddr = %v/%v, want %v/%v", offer.TransactionID, offer.ClientHWAddr, disc.TransactionID, macKnown)
			}

			ack, err := r.Reply(newRequest(t, offer, tt.mods))
			if err != nil {
				t.Fatal(err)
			}
			w.msgType = dhcpv4.MessageTypeAck
			checkReply(t, ack, w)

			if len(events) != 2 || events[0].Reply != dhcpv4.MessageTypeOffer || events[1].Reply != dhcpv4.MessageTypeAck ||
				!events[1].Addr.Equal(first) || events[1].BootFile != tt.want.opt67 {
				t.Errorf("events = %+v", events)
			}
		})
	}
}

// TestProxyModeByClientType checks the port-67 proxy offer of each client
// type, and that everything else on port 67 is left to the real server.
func TestProxyModeByClientType(t *testing.T) {
	tests := []struct {
		name string
		mods []dhcpv4.Modifier
		want *want // nil: no reply
	}{
		{"BIOS PXE boots from the offer (option 43, discovery control 8)", biosPXE(), &want{
			siaddr: testServer, file: "undionly.kpxe", opt67: "undionly.kpxe", opt66: serverString,
			opt60: "PXEClient", opt43: true, opt97: true,
		}},
		{"UEFI PXE offer has no option 43, so the firmware asks on 4011", uefiPXE(iana.EFI_X86_64), &want{
			siaddr: testServer, file: "ipxe.efi", opt67: "ipxe.efi", opt66: serverString,
			opt60: "PXEClient", opt97: true,
		}},
		{"UEFI HTTP gets HTTPClient and the URL", httpBoot(iana.EFI_X86_64_HTTP), &want{
			siaddr: testServer, file: httpIPXEEFI, opt67: httpIPXEEFI, opt60: "HTTPClient",
		}},
		{"iPXE gets PXEClient, siaddr and the script URL", ipxe(iana.INTEL_X86PC, ipxeFeatures), &want{
			siaddr: testServer, file: scriptKnown, opt67: scriptKnown, opt60: "PXEClient", ipxe176: true,
		}},
		{"UEFI arm64 without a binary: silent", uefiPXE(iana.EFI_ARM64), nil},
		{"plain DHCP client: silent", plain(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, proxyConfig())
			disc := newDiscover(t, macKnown, tt.mods)
			offer, err := r.Reply(disc)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if offer != nil {
					t.Fatalf("reply %v, want none", offer.Summary())
				}
				return
			}
			w := *tt.want
			w.msgType = dhcpv4.MessageTypeOffer
			checkReply(t, offer, w)
			if !offer.IsBroadcast() {
				t.Error("proxy offer is not flagged broadcast")
			}

			// The REQUEST the client then broadcasts is for the real server.
			realOffer := offer.ToBytes()
			ro, _ := dhcpv4.FromBytes(realOffer)
			ro.YourIPAddr = net.IPv4(192, 0, 2, 150)
			ro.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 0, 2, 2)))
			if resp, _ := r.Reply(newRequest(t, ro, tt.mods)); resp != nil {
				t.Errorf("proxy answered a REQUEST on port 67: %v", resp.Summary())
			}
		})
	}
}

// TestBootServerPort is the second half of the proxy exchange: the
// ProxyDHCPREQUEST a UEFI PXE client sends to ServerIP:4011.
func TestBootServerPort(t *testing.T) {
	ciaddr := net.IPv4(192, 0, 2, 150).To4()
	proxyRequest := func(mods []dhcpv4.Modifier, sid net.IP) *dhcpv4.DHCPv4 {
		m := append([]dhcpv4.Modifier{dhcpv4.WithClientIP(ciaddr)}, mods...)
		if sid != nil {
			m = append(m, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid)))
		}
		return newPacket(t, macKnown, dhcpv4.MessageTypeRequest, m...)
	}
	for _, mode := range []Config{proxyConfig(), func() Config { c, _, _ := fullConfig(t); return c }()} {
		t.Run(mode.Mode.String(), func(t *testing.T) {
			r := mustNew(t, mode)
			tests := []struct {
				name string
				req  *dhcpv4.DHCPv4
				want *want
			}{
				{"UEFI PXE with our server id", proxyRequest(uefiPXE(iana.EFI_X86_64), testServer), &want{
					siaddr: testServer, file: "ipxe.efi", opt67: "ipxe.efi", opt66: serverString,
					opt60: "PXEClient", opt43: true, opt97: true,
				}},
				{"BIOS PXE without a server id", proxyRequest(biosPXE(), nil), &want{
					siaddr: testServer, file: "undionly.kpxe", opt67: "undionly.kpxe", opt66: serverString,
					opt60: "PXEClient", opt43: true, opt97: true,
				}},
				{"iPXE", proxyRequest(ipxe(iana.EFI_X86_64, ipxeFeatures), testServer), &want{
					siaddr: testServer, file: scriptKnown, opt67: scriptKnown, opt60: "PXEClient", ipxe176: true,
				}},
				{"another proxy's server id", proxyRequest(uefiPXE(iana.EFI_X86_64), net.IPv4(192, 0, 2, 9)), nil},
				{"plain client", proxyRequest(plain(), testServer), nil},
				{"DISCOVER", newDiscover(t, macKnown, uefiPXE(iana.EFI_X86_64)), nil},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ack, err := r.ReplyBootServer(tt.req)
					if err != nil {
						t.Fatal(err)
					}
					if tt.want == nil {
						if ack != nil {
							t.Fatalf("reply %v, want none", ack.Summary())
						}
						return
					}
					w := *tt.want
					w.msgType = dhcpv4.MessageTypeAck
					checkReply(t, ack, w)
					if !ack.ClientIPAddr.Equal(ciaddr) {
						t.Errorf("ciaddr = %v, want %v", ack.ClientIPAddr, ciaddr)
					}
				})
			}
		})
	}
}

// TestProxyNeverHandsOutAddress throws every client type and message type
// at both ports of a proxy and checks that no reply carries an address or
// lease options, and that no NAK ever goes out.
func TestProxyNeverHandsOutAddress(t *testing.T) {
	r := mustNew(t, proxyConfig())
	clients := map[string][]dhcpv4.Modifier{
		"bios": biosPXE(), "uefi": uefiPXE(iana.EFI_X86_64), "http": httpBoot(iana.EFI_X86_64_HTTP),
		"ipxe": ipxe(iana.INTEL_X86PC, ipxeFeatures), "ipxe-nohttp": ipxe(iana.EFI_X86_64, ipxeNoHTTP), "plain": plain(),
	}
	types := []dhcpv4.MessageType{
		dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeInform,
		dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeDecline,
	}
	answered := 0
	for name, mods := range clients {
		for _, mt := range types {
			for _, extra := range [][]dhcpv4.Modifier{
				nil,
				{dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 0, 2, 77)))},
				{dhcpv4.WithClientIP(net.IPv4(192, 0, 2, 77)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(testServer))},
			} {
				req := newPacket(t, macKnown, mt, append(append([]dhcpv4.Modifier{}, mods...), extra...)...)
				for port, reply := range map[int]func(*dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error){67: r.Reply, 4011: r.ReplyBootServer} {
					resp, err := reply(req)
					if err != nil {
						t.Fatalf("%s %v port %d: %v", name, mt, port, err)
					}
					if resp == nil {
						continue
					}
					answered++
					resp = roundTrip(t, resp)
					if !resp.YourIPAddr.IsUnspecified() {
						t.Errorf("%s %v port %d: yiaddr %v", name, mt, port, resp.YourIPAddr)
					}
					if mt := resp.MessageType(); mt != dhcpv4.MessageTypeOffer && mt != dhcpv4.MessageTypeAck {
						t.Errorf("%s port %d: sent %v", name, port, mt)
					}
					for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer, dhcpv4.OptionIPAddressLeaseTime} {
						if resp.Options.Has(code) {
							t.Errorf("%s %v port %d: has lease option %v", name, mt, port, code)
						}
					}
				}
			}
		}
	}
	if answered == 0 {
		t.Fatal("the proxy answered nothing at all")
	}
}

func TestUnknownMAC(t *testing.T) {
	kinds := map[string][]dhcpv4.Modifier{
		"bios": biosPXE(), "uefi": uefiPXE(iana.EFI_X86_64), "http": httpBoot(iana.EFI_X86_64_HTTP),
		"ipxe": ipxe(iana.INTEL_X86PC, ipxeFeatures), "plain": plain(),
	}
	for _, mode := range []string{"full", "proxy"} {
		cfg := proxyConfig()
		if mode == "full" {
			cfg, _, _ = fullConfig(t)
		}
		t.Run(mode+"/no discovery: silent", func(t *testing.T) {
			var reasons []string
			cfg := cfg
			cfg.Observe = func(e Event) { reasons = append(reasons, e.Reason) }
			r := mustNew(t, cfg)
			for name, mods := range kinds {
				if resp, err := r.Reply(newDiscover(t, macUnknown, mods)); resp != nil || err != nil {
					t.Errorf("%s: reply %v, err %v; want silence", name, resp, err)
				}
			}
			for _, why := range reasons {
				if why != "unknown MAC and no discovery profile" {
					t.Errorf("reason %q", why)
				}
			}
		})
		t.Run(mode+"/discovery profile", func(t *testing.T) {
			cfg := cfg
			cfg.DiscoveryURL = testDiscovery
			r := mustNew(t, cfg)
			resp, err := r.Reply(newDiscover(t, macUnknown, kinds["ipxe"]))
			if err != nil || resp == nil {
				t.Fatalf("iPXE: reply %v, err %v", resp, err)
			}
			if want := "http://192.0.2.1:8080/discovery.ipxe?mac=52:54:00:ff:ff:01"; resp.BootFileName != want || resp.BootFileNameOption() != want {
				t.Errorf("iPXE boot file %q / %q, want %q", resp.BootFileName, resp.BootFileNameOption(), want)
			}
			// The firmware step is the same as for known machines.
			resp, err = r.Reply(newDiscover(t, macUnknown, kinds["bios"]))
			if err != nil || resp == nil || resp.BootFileName != "undionly.kpxe" {
				t.Fatalf("BIOS: reply %v, err %v", resp, err)
			}
			// Known machines still get their own script.
			resp, _ = r.Reply(newDiscover(t, macKnown, kinds["ipxe"]))
			if resp == nil || resp.BootFileName != scriptKnown {
				t.Errorf("known iPXE got %v", resp)
			}
		})
	}
}

func TestFullModeNAKAndSilence(t *testing.T) {
	cfg, leases, _ := fullConfig(t)
	r := mustNew(t, cfg)
	// macKnown2 holds the first address.
	if err := leases.Bind(macKnown2, testFirst, time.Hour); err != nil {
		t.Fatal(err)
	}
	requestFor := func(ip net.IP, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
		return newPacket(t, macKnown, dhcpv4.MessageTypeRequest,
			append([]dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip))}, append(ipxe(iana.INTEL_X86PC, ipxeFeatures), mods...)...)...)
	}
	naks := []struct {
		name string
		req  *dhcpv4.DHCPv4
		why  string
	}{
		{"INIT-REBOOT outside the range", requestFor(net.IPv4(10, 9, 9, 9)), ErrNotInRange.Error()},
		{"SELECTING an address leased to another machine", requestFor(testFirst, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(testServer))), ErrAddressTaken.Error()},
		{"RENEWING an address leased to another machine", newPacket(t, macKnown, dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(testFirst)), ErrAddressTaken.Error()},
	}
	for _, tt := range naks {
		t.Run(tt.name, func(t *testing.T) {
			nak, err := r.Reply(tt.req)
			if err != nil || nak == nil {
				t.Fatalf("reply %v, err %v; want NAK", nak, err)
			}
			nak = roundTrip(t, nak)
			if nak.MessageType() != dhcpv4.MessageTypeNak {
				t.Fatalf("got %v, want NAK", nak.MessageType())
			}
			if !nak.YourIPAddr.IsUnspecified() || !nak.ServerIPAddr.IsUnspecified() || nak.BootFileName != "" {
				t.Errorf("NAK carries yiaddr %v siaddr %v file %q", nak.YourIPAddr, nak.ServerIPAddr, nak.BootFileName)
			}
			if !nak.ServerIdentifier().Equal(testServer) || nak.Message() != tt.why || !nak.IsBroadcast() {
				t.Errorf("NAK server id %v, message %q, broadcast %v", nak.ServerIdentifier(), nak.Message(), nak.IsBroadcast())
			}
			for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionSubnetMask, dhcpv4.OptionBootfileName, optIPXE} {
				if nak.Options.Has(code) {
					t.Errorf("NAK has option %v", code)
				}
			}
		})
	}
	silent := []struct {
		name string
		req  *dhcpv4.DHCPv4
	}{
		{"SELECTING another server's offer", requestFor(net.IPv4(192, 0, 2, 101), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 0, 2, 2))))},
		{"REQUEST naming no address", newPacket(t, macKnown, dhcpv4.MessageTypeRequest)},
		{"BOOTREPLY", newPacket(t, macKnown, dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootReply })},
		{"no message type (BOOTP)", func() *dhcpv4.DHCPv4 {
			p := newPacket(t, macKnown, dhcpv4.MessageTypeDiscover)
			p.Options.Del(dhcpv4.OptionDHCPMessageType)
			return p
		}()},
		{"no hardware address", newPacket(t, net.HardwareAddr{}, dhcpv4.MessageTypeDiscover)},
	}
	for _, tt := range silent {
		t.Run(tt.name, func(t *testing.T) {
			if resp, err := r.Reply(tt.req); resp != nil || err != nil {
				t.Fatalf("reply %v, err %v; want silence", resp, err)
			}
		})
	}
}

// TestRenewAfterRestart: a fresh server (leases lost) grants a RENEW for
// a free address in its range, so machines keep their addresses.
func TestRenewAfterRestart(t *testing.T) {
	cfg, leases, _ := fullConfig(t)
	r := mustNew(t, cfg)
	ip := net.IPv4(192, 0, 2, 102).To4()
	ack, err := r.Reply(newPacket(t, macKnown, dhcpv4.MessageTypeRequest, append(plain(), dhcpv4.WithClientIP(ip))...))
	if err != nil {
		t.Fatal(err)
	}
	checkReply(t, ack, want{msgType: dhcpv4.MessageTypeAck, yiaddr: ip, siaddr: testServer, lease: true})
	if !ack.ClientIPAddr.Equal(ip) {
		t.Errorf("ciaddr = %v, want %v", ack.ClientIPAddr, ip)
	}
	if got, _, ok := leases.Lease(macKnown); !ok || !got.Equal(ip) {
		t.Errorf("lease = %v %v, want %v", got, ok, ip)
	}
}

func TestReleaseDeclineInform(t *testing.T) {
	cfg, leases, _ := fullConfig(t)
	r := mustNew(t, cfg)
	offer, _ := r.Reply(newDiscover(t, macKnown, plain()))
	ack, _ := r.Reply(newRequest(t, offer, plain()))
	ip := ack.YourIPAddr

	// INFORM: configuration without an address or lease time.
	inf, err := r.Reply(newPacket(t, macKnown, dhcpv4.MessageTypeInform, append(biosPXE(), dhcpv4.WithClientIP(ip))...))
	if err != nil {
		t.Fatal(err)
	}
	checkReply(t, inf, want{
		msgType: dhcpv4.MessageTypeAck, siaddr: testServer, file: "undionly.kpxe", opt67: "undionly.kpxe",
		opt66: serverString, opt60: "PXEClient", opt43: true, opt97: true, config: true,
	})
	if !inf.ClientIPAddr.Equal(ip) {
		t.Errorf("INFORM ack ciaddr = %v, want %v", inf.ClientIPAddr, ip)
	}

	// RELEASE for another server is ignored.
	rel := func(sid net.IP) *dhcpv4.DHCPv4 {
		return newPacket(t, macKnown, dhcpv4.MessageTypeRelease, dhcpv4.WithClientIP(ip), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid)))
	}
	if resp, _ := r.Reply(rel(net.IPv4(192, 0, 2, 2))); resp != nil {
		t.Fatal("replied to RELEASE")
	}
	if _, _, ok := leases.Lease(macKnown); !ok {
		t.Fatal("RELEASE for another server freed the lease")
	}
	// RELEASE frees the lease, and no reply is sent.
	if resp, _ := r.Reply(rel(testServer)); resp != nil {
		t.Fatal("replied to RELEASE")
	}
	if _, _, ok := leases.Lease(macKnown); ok {
		t.Fatal("RELEASE did not free the lease")
	}
	// The machine comes back to the same address.
	offer, _ = r.Reply(newDiscover(t, macKnown, plain()))
	if !offer.YourIPAddr.Equal(ip) {
		t.Errorf("after release offered %v, want %v again", offer.YourIPAddr, ip)
	}
	// DECLINE: the address is parked, the machine gets another one.
	dec := newPacket(t, macKnown, dhcpv4.MessageTypeDecline,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(testServer)))
	if resp, _ := r.Reply(dec); resp != nil {
		t.Fatal("replied to DECLINE")
	}
	offer, _ = r.Reply(newDiscover(t, macKnown, plain()))
	if offer == nil || offer.YourIPAddr.Equal(ip) {
		t.Errorf("after decline offered %v, want another address than %v", offer, ip)
	}
}

func TestExhaustionIsSilent(t *testing.T) {
	cfg, _, _ := fullConfig(t)
	var last Event
	cfg.Known = func(net.HardwareAddr) bool { return true }
	cfg.Observe = func(e Event) { last = e }
	r := mustNew(t, cfg)
	for i := 0; i < 4; i++ { // the range holds 4 addresses
		mac := net.HardwareAddr{0x52, 0x54, 0, 0, 1, byte(i)}
		if offer, _ := r.Reply(newDiscover(t, mac, plain())); offer == nil {
			t.Fatalf("client %d got no offer", i)
		}
	}
	if offer, err := r.Reply(newDiscover(t, net.HardwareAddr{0x52, 0x54, 0, 0, 1, 9}, plain())); offer != nil || err != nil {
		t.Fatalf("fifth client: %v, %v; want silence", offer, err)
	}
	if !strings.Contains(last.Reason, ErrNoFreeAddress.Error()) {
		t.Errorf("reason %q", last.Reason)
	}
}

func TestLongScriptURL(t *testing.T) {
	cfg := proxyConfig()
	cfg.ScriptURL = "http://192.0.2.1:8080/machines/${mac}/boot.ipxe?token=" + strings.Repeat("a", 120)
	r := mustNew(t, cfg)
	resp, err := r.Reply(newDiscover(t, macKnown, ipxe(iana.INTEL_X86PC, ipxeFeatures)))
	if err != nil || resp == nil {
		t.Fatalf("reply %v, err %v", resp, err)
	}
	long := "http://192.0.2.1:8080/machines/52:54:00:12:34:56/boot.ipxe?token=" + strings.Repeat("a", 120)
	checkReply(t, resp, want{msgType: dhcpv4.MessageTypeOffer, siaddr: testServer, opt67: long, opt60: "PXEClient", ipxe176: true})
}

func TestReplyDoesNotModifyRequest(t *testing.T) {
	cfg, _, _ := fullConfig(t)
	r := mustNew(t, cfg)
	for _, mods := range [][]dhcpv4.Modifier{biosPXE(), ipxe(iana.EFI_X86_64, ipxeFeatures), httpBoot(iana.EFI_X86_64_HTTP)} {
		req := newDiscover(t, macKnown, mods)
		before := req.ToBytes()
		resp, _ := r.Reply(req)
		resp.ClientHWAddr[0] ^= 0xff // the reply must not share memory with the request
		if !bytes.Equal(before, req.ToBytes()) {
			t.Error("Reply modified its request")
		}
	}
}

func TestConfigOptions(t *testing.T) {
	t.Run("EFIBootFiles and HTTPBootBase", func(t *testing.T) {
		cfg := proxyConfig()
		cfg.EFIBootFiles = map[iana.Arch]string{iana.EFI_ARM64: "arm64/ipxe.efi", iana.EFI_IA32: "i386/ipxe.efi"}
		cfg.HTTPBootBase = "http://192.0.2.1:9000/efi"
		cfg.BIOSBootFile = "ipxe/undionly.kpxe"
		r := mustNew(t, cfg)
		for _, tt := range []struct {
			mods []dhcpv4.Modifier
			file string
		}{
			{uefiPXE(iana.EFI_ARM64), "arm64/ipxe.efi"},
			{uefiPXE(iana.EFI_IA32), "i386/ipxe.efi"},
			{uefiPXE(iana.EFI_X86_64), ""}, // a table given replaces the default
			{httpBoot(iana.EFI_ARM64_HTTP), "http://192.0.2.1:9000/efi/arm64/ipxe.efi"},
			{httpBoot(iana.EFI_X86_HTTP), "http://192.0.2.1:9000/efi/i386/ipxe.efi"},
			{biosPXE(), "ipxe/undionly.kpxe"},
		} {
			resp, _ := r.Reply(newDiscover(t, macKnown, tt.mods))
			got := ""
			if resp != nil {
				got = resp.BootFileName
			}
			if got != tt.file {
				t.Errorf("%s: file %q, want %q", Classify(newDiscover(t, macKnown, tt.mods)).VendorClass, got, tt.file)
			}
		}
	})
	t.Run("defaults", func(t *testing.T) {
		cfg, _, _ := fullConfig(t)
		cfg.LeaseTime = 0
		r := mustNew(t, cfg)
		if r.cfg.LeaseTime != DefaultLeaseTime || r.cfg.BIOSBootFile != DefaultBIOSBootFile ||
			r.cfg.EFIBootFiles[iana.EFI_X86_64] != DefaultEFIBootFile || r.cfg.HTTPBootBase != "http://192.0.2.1:8080/" {
			t.Errorf("defaults: %+v", r.cfg)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	full := func(f func(*Config)) Config { c, _, _ := fullConfig(t); f(&c); return c }
	proxy := func(f func(*Config)) Config { c := proxyConfig(); f(&c); return c }
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no mode", proxy(func(c *Config) { c.Mode = 0 }), "Mode"},
		{"IPv6 server", proxy(func(c *Config) { c.ServerIP = net.ParseIP("2001:db8::1") }), "ServerIP"},
		{"no Known", proxy(func(c *Config) { c.Known = nil }), "Known"},
		{"no script", proxy(func(c *Config) { c.ScriptURL = "" }), "ScriptURL"},
		{"tftp script", proxy(func(c *Config) { c.ScriptURL = "tftp://192.0.2.1/boot.ipxe" }), "ScriptURL"},
		{"script too long", proxy(func(c *Config) { c.ScriptURL = "http://h/" + strings.Repeat("x", 250) }), "255"},
		{"bad discovery", proxy(func(c *Config) { c.DiscoveryURL = "boot.ipxe" }), "DiscoveryURL"},
		{"bad HTTP base", proxy(func(c *Config) { c.HTTPBootBase = "ftp://x/" }), "HTTPBootBase"},
		{"long boot file", proxy(func(c *Config) { c.BIOSBootFile = strings.Repeat("x", 128) }), "127"},
		{"long EFI file", proxy(func(c *Config) { c.EFIBootFiles = map[iana.Arch]string{7: strings.Repeat("x", 128)} }), "127"},
		{"full without leases", full(func(c *Config) { c.Leases = nil }), "Leases"},
		{"full without mask", full(func(c *Config) { c.SubnetMask = nil }), "SubnetMask"},
		{"full with IPv6 router", full(func(c *Config) { c.Router = net.ParseIP("2001:db8::1") }), "Router"},
		{"full with IPv6 DNS", full(func(c *Config) { c.DNS = []net.IP{net.ParseIP("2001:db8::1")} }), "DNS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if Full.String() != "full" || Proxy.String() != "proxy" || Mode(7).String() != "Mode(7)" {
		t.Error("Mode.String")
	}
}

package dhcp

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Addresses in packets are from TEST-NET-1 (RFC 5737): they are only ever
// values inside packets, never destinations, except in serve_test.go,
// which uses 127.0.0.0/8.
var (
	testServer = net.IPv4(192, 0, 2, 1).To4()
	testRouter = net.IPv4(192, 0, 2, 254).To4()
	testDNS    = net.IPv4(192, 0, 2, 53).To4()
	testFirst  = net.IPv4(192, 0, 2, 100).To4()
	testLast   = net.IPv4(192, 0, 2, 103).To4()
	testMask   = net.CIDRMask(24, 32)

	macKnown   = mustMAC("52:54:00:12:34:56")
	macKnown2  = mustMAC("52:54:00:12:34:57")
	macUnknown = mustMAC("52:54:00:ff:ff:01")
)

const (
	testScript    = "http://192.0.2.1:8080/boot.ipxe?mac=${mac}"
	testDiscovery = "http://192.0.2.1:8080/discovery.ipxe?mac=${mac}"
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func knownSet(macs ...net.HardwareAddr) func(net.HardwareAddr) bool {
	set := map[string]bool{}
	for _, m := range macs {
		set[m.String()] = true
	}
	return func(m net.HardwareAddr) bool { return set[m.String()] }
}

// fakeClock is a settable clock for MemoryLeases.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLeases(t testing.TB) (*MemoryLeases, *fakeClock) {
	t.Helper()
	l, err := NewMemoryLeases(testFirst, testLast)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l.now = clk.now
	return l, clk
}

func fullConfig(t testing.TB) (Config, *MemoryLeases, *fakeClock) {
	l, clk := newTestLeases(t)
	return Config{
		Mode:       Full,
		ServerIP:   testServer,
		Known:      knownSet(macKnown, macKnown2),
		ScriptURL:  testScript,
		Leases:     l,
		SubnetMask: testMask,
		Router:     testRouter,
		DNS:        []net.IP{testDNS},
		LeaseTime:  2 * time.Hour,
	}, l, clk
}

func proxyConfig() Config {
	return Config{
		Mode:      Proxy,
		ServerIP:  testServer,
		Known:     knownSet(macKnown, macKnown2),
		ScriptURL: testScript,
	}
}

func mustNew(t testing.TB, cfg Config) *Responder {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The client builders below reproduce what real clients put in their
// requests (option sets taken from PXE 2.1, EDK2 and iPXE).

var testGUID = []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00}

// pxeROM is a PXE ROM: vendor class, option 93, UNDI version (94), GUID
// (97), the parameter list PXE 2.1 asks for, broadcast flag.
func pxeROM(arch iana.Arch, class string) []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier(class)),
		dhcpv4.WithOption(dhcpv4.OptClientArch(arch)),
		dhcpv4.WithGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 2, 1}),
		dhcpv4.WithGeneric(dhcpv4.OptionClientMachineIdentifier, testGUID),
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1260)),
		requested(1, 2, 3, 4, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135),
		dhcpv4.WithBroadcast(true),
	}
}

func biosPXE() []dhcpv4.Modifier {
	return pxeROM(iana.INTEL_X86PC, "PXEClient:Arch:00000:UNDI:002001")
}

func uefiPXE(arch iana.Arch) []dhcpv4.Modifier {
	return pxeROM(arch, "PXEClient:Arch:"+pad5(arch)+":UNDI:003016")
}

func httpBoot(arch iana.Arch) []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("HTTPClient:Arch:" + pad5(arch) + ":UNDI:003001")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(arch)),
		dhcpv4.WithGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 3, 0}),
		dhcpv4.WithGeneric(dhcpv4.OptionClientMachineIdentifier, testGUID),
		requested(1, 3, 6, 15, 43, 60, 67),
	}
}

// ipxeFeatures is option 175 as iPXE 1.21 sends it: feature flags (PXE
// ext, iSCSI, AoE, HTTP, HTTPS, TFTP, DNS, bzImage, ...), bus ID
// (175.177) and version (175.235).
var ipxeFeatures = []byte{
	0x10, 1, 2, 0x11, 1, 1, 0x12, 1, 1, 0x13, 1, 1, 0x14, 1, 1, 0x15, 1, 1,
	0x17, 1, 1, 0x18, 1, 1, 0x19, 1, 1, 0x21, 1, 1, 0x24, 1, 1, 0x27, 1, 1,
	0xb1, 5, 1, 0x1a, 0xf4, 0x10, 0x00,
	0xeb, 3, 1, 21, 1,
}

// ipxeNoHTTP is a feature list from a TFTP-only iPXE build.
var ipxeNoHTTP = []byte{0x10, 1, 2, 0x15, 1, 1, 0x18, 1, 1, 0x21, 1, 1, 0xeb, 3, 1, 21, 1}

func ipxe(arch iana.Arch, features []byte) []dhcpv4.Modifier {
	m := []dhcpv4.Modifier{
		// iPXE sends the bare string, not RFC 3004 form.
		dhcpv4.WithOption(dhcpv4.OptUserClass("iPXE")),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:" + pad5(arch) + ":UNDI:002001")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(arch)),
		dhcpv4.WithGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 2, 1}),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{1, 0x52, 0x54, 0, 0x12, 0x34, 0x56})),
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1472)),
		requested(1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203),
	}
	if features != nil {
		m = append(m, dhcpv4.WithGeneric(optIPXE, features))
	}
	return m
}

// plain is an OS DHCP client such as udhcpc.
func plain() []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("udhcp 1.36.1")),
		requested(1, 3, 6, 12, 15, 28, 42),
	}
}

// requested is option 55 from plain option numbers.
func requested(codes ...uint8) dhcpv4.Modifier {
	oc := make([]dhcpv4.OptionCode, len(codes))
	for i, c := range codes {
		oc[i] = dhcpv4.GenericOptionCode(c)
	}
	return dhcpv4.WithRequestedOptions(oc...)
}

func pad5(a iana.Arch) string {
	s := []byte("00000")
	n := int(a)
	for i := 4; i >= 0 && n > 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

func newDiscover(t testing.TB, mac net.HardwareAddr, mods []dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	d, err := dhcpv4.NewDiscovery(mac, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, d)
}

// newRequest builds the SELECTING request for offer, as the client would.
func newRequest(t testing.TB, offer *dhcpv4.DHCPv4, mods []dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	req, err := dhcpv4.NewRequestFromOffer(offer, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, req)
}

func newPacket(t testing.TB, mac net.HardwareAddr, mt dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	p, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(mt)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, p)
}

// roundTrip passes a packet through its wire form, as the server sees it.
func roundTrip(t testing.TB, p *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	t.Helper()
	q, err := dhcpv4.FromBytes(p.ToBytes())
	if err != nil {
		t.Fatalf("packet does not parse back: %v", err)
	}
	return q
}

// want is a reply checked field by field; every field is checked, so a
// zero value means "must be absent".
type want struct {
	msgType dhcpv4.MessageType
	yiaddr  net.IP // nil: 0.0.0.0
	siaddr  net.IP // nil: 0.0.0.0
	file    string // file field
	opt67   string
	opt66   string
	opt60   string
	opt43   bool // PXE vendor options (discovery control 8)
	opt97   bool // GUID echoed
	ipxe176 bool // 175.176 = 1
	lease   bool // options 1, 3, 6 and 51 (full mode with an address)
	config  bool // options 1, 3, 6 without 51 (INFORM)
}

func checkReply(t *testing.T, resp *dhcpv4.DHCPv4, w want) {
	t.Helper()
	if resp == nil {
		t.Fatalf("no reply, want %v", w.msgType)
	}
	resp = roundTrip(t, resp)
	if resp.OpCode != dhcpv4.OpcodeBootReply {
		t.Errorf("op = %v, want BootReply", resp.OpCode)
	}
	if got := resp.MessageType(); got != w.msgType {
		t.Errorf("option 53 = %v, want %v", got, w.msgType)
	}
	if sid := resp.ServerIdentifier(); !sid.Equal(testServer) {
		t.Errorf("option 54 = %v, want %v", sid, testServer)
	}
	ipEq := func(name string, got, want net.IP) {
		if want == nil {
			want = net.IPv4zero
		}
		if !got.Equal(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	ipEq("yiaddr", resp.YourIPAddr, w.yiaddr)
	ipEq("siaddr", resp.ServerIPAddr, w.siaddr)
	if resp.BootFileName != w.file {
		t.Errorf("file = %q, want %q", resp.BootFileName, w.file)
	}
	strOpt := func(code dhcpv4.OptionCode, want string) {
		got := resp.Options.Get(code)
		if want == "" && got != nil {
			t.Errorf("option %d = %q, want absent", code.Code(), got)
		} else if want != "" && string(got) != want {
			t.Errorf("option %d = %q, want %q", code.Code(), got, want)
		}
	}
	strOpt(dhcpv4.OptionBootfileName, w.opt67)
	strOpt(dhcpv4.OptionTFTPServerName, w.opt66)
	strOpt(dhcpv4.OptionClassIdentifier, w.opt60)

	o43 := resp.Options.Get(dhcpv4.OptionVendorSpecificInformation)
	if w.opt43 {
		if !bytes.Equal(o43, []byte{6, 1, 8, 10, 4, 0, 'P', 'X', 'E', 255}) {
			t.Errorf("option 43 = % x, want discovery control 8 and an empty prompt", o43)
		}
	} else if o43 != nil {
		t.Errorf("option 43 = % x, want absent", o43)
	}
	o97 := resp.Options.Get(dhcpv4.OptionClientMachineIdentifier)
	if w.opt97 != (o97 != nil) || (o97 != nil && !bytes.Equal(o97, testGUID)) {
		t.Errorf("option 97 = % x, want echoed: %v", o97, w.opt97)
	}
	o175 := resp.Options.Get(optIPXE)
	if w.ipxe176 {
		if !bytes.Equal(o175, []byte{176, 1, 1}) {
			t.Errorf("option 175 = % x, want 175.176 = 1", o175)
		}
	} else if o175 != nil {
		t.Errorf("option 175 = % x, want absent", o175)
	}

	leaseTime := resp.Options.Get(dhcpv4.OptionIPAddressLeaseTime)
	if w.lease {
		if got := resp.IPAddressLeaseTime(0); got != 2*time.Hour {
			t.Errorf("option 51 = %v, want 2h", got)
		}
	} else if leaseTime != nil {
		t.Errorf("option 51 = % x, want absent", leaseTime)
	}
	if w.lease || w.config {
		if m := resp.SubnetMask(); !bytes.Equal(m, testMask) {
			t.Errorf("option 1 = %v, want %v", m, testMask)
		}
		if r := resp.Router(); len(r) != 1 || !r[0].Equal(testRouter) {
			t.Errorf("option 3 = %v, want %v", r, testRouter)
		}
		if d := resp.DNS(); len(d) != 1 || !d[0].Equal(testDNS) {
			t.Errorf("option 6 = %v, want %v", d, testDNS)
		}
	} else {
		for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer} {
			if v := resp.Options.Get(code); v != nil {
				t.Errorf("option %d = % x, want absent", code.Code(), v)
			}
		}
	}
}

package dhcp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// These tests exchange real UDP packets, only ever on 127.0.0.0/8 with
// ephemeral ports: the server's "broadcasts" are redirected to the test
// client with BroadcastTo, and its leases are loopback addresses so that
// unicast replies to ciaddr stay on the loopback too.

var (
	loServer = net.IPv4(127, 0, 0, 1).To4()
	loClient = net.IPv4(127, 0, 0, 2).To4() // first address of the lease range
)

func listen(t *testing.T, ip net.IP) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", (&net.UDPAddr{IP: ip}).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startServe runs serve in the background and returns a function that
// stops it and checks it returned nil promptly.
func startServe(t *testing.T, serve func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v after cancel, want nil", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
}

// exchange sends req to the server and waits (bounded) for one reply.
func exchange(t *testing.T, client net.PacketConn, server net.Addr, req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	t.Helper()
	if _, err := client.WriteTo(req.ToBytes(), server); err != nil {
		t.Fatal(err)
	}
	return receive(t, client, 2*time.Second)
}

func receive(t *testing.T, client net.PacketConn, wait time.Duration) *dhcpv4.DHCPv4 {
	t.Helper()
	buf := make([]byte, 1500)
	client.SetReadDeadline(time.Now().Add(wait))
	n, _, err := client.ReadFrom(buf)
	if err != nil {
		return nil
	}
	resp, err := dhcpv4.FromBytes(buf[:n])
	if err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	return resp
}

func TestServeFullModeRoundTrip(t *testing.T) {
	leases, err := NewMemoryLeases(loClient, net.IPv4(127, 0, 0, 9))
	if err != nil {
		t.Fatal(err)
	}
	r := mustNew(t, Config{
		Mode:       Full,
		ServerIP:   loServer,
		Known:      func(net.HardwareAddr) bool { return true },
		ScriptURL:  "http://127.0.0.1:8080/boot.ipxe?mac=${mac}",
		Leases:     leases,
		SubnetMask: net.CIDRMask(8, 32),
		LeaseTime:  time.Hour,
	})
	srv := listen(t, loServer)
	client := listen(t, loClient)
	caddr := client.LocalAddr().(*net.UDPAddr)
	startServe(t, func(ctx context.Context) error {
		return Serve(ctx, srv, r, BroadcastTo(caddr), ClientPort(caddr.Port))
	})
	mods := ipxe(iana.EFI_X86_64, ipxeFeatures)

	// Not DHCP at all: ignored, and the server keeps serving.
	if _, err := client.WriteTo([]byte("hello, not dhcp"), srv.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, client, 100*time.Millisecond); got != nil {
		t.Fatalf("reply to garbage: %v", got.Summary())
	}

	disc := newDiscover(t, macKnown, mods)
	offer := exchange(t, client, srv.LocalAddr(), disc)
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer || !offer.YourIPAddr.Equal(loClient) ||
		offer.TransactionID != disc.TransactionID {
		t.Fatalf("offer = %v", offer)
	}
	if offer.BootFileName != "http://127.0.0.1:8080/boot.ipxe?mac=52:54:00:12:34:56" {
		t.Errorf("boot file %q", offer.BootFileName)
	}
	ack := exchange(t, client, srv.LocalAddr(), newRequest(t, offer, mods))
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.Equal(loClient) {
		t.Fatalf("ack = %v", ack)
	}

	// RENEWING: unicast to ciaddr (the client's own loopback address).
	renew, err := dhcpv4.NewRenewFromAck(ack)
	if err != nil {
		t.Fatal(err)
	}
	if ack2 := exchange(t, client, srv.LocalAddr(), renew); ack2 == nil || ack2.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("renew ack = %v", ack2)
	}

	// A NAK goes out as a broadcast.
	bad := newPacket(t, macKnown, dhcpv4.MessageTypeRequest, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(127, 0, 1, 1))))
	if nak := exchange(t, client, srv.LocalAddr(), bad); nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("nak = %v", nak)
	}

	// RELEASE: no reply, lease gone.
	rel, err := dhcpv4.NewReleaseFromACK(ack)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.WriteTo(rel.ToBytes(), srv.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, client, 200*time.Millisecond); got != nil {
		t.Fatalf("reply to RELEASE: %v", got.Summary())
	}
	if _, _, ok := leases.Lease(macKnown); ok {
		t.Fatal("RELEASE over the wire did not free the lease")
	}
}

func TestServeProxyBothPorts(t *testing.T) {
	r := mustNew(t, Config{
		Mode:      Proxy,
		ServerIP:  loServer,
		Known:     func(net.HardwareAddr) bool { return true },
		ScriptURL: "http://127.0.0.1:8080/boot.ipxe",
	})
	srv67 := listen(t, loServer)
	srv4011 := listen(t, loServer)
	client := listen(t, loClient)
	caddr := client.LocalAddr().(*net.UDPAddr)
	startServe(t, func(ctx context.Context) error { return Serve(ctx, srv67, r, BroadcastTo(caddr)) })
	startServe(t, func(ctx context.Context) error { return ServeBootServer(ctx, srv4011, r) })

	mods := uefiPXE(iana.EFI_X86_64)
	offer := exchange(t, client, srv67.LocalAddr(), newDiscover(t, macKnown, mods))
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer || !offer.YourIPAddr.IsUnspecified() ||
		offer.Options.Has(dhcpv4.OptionVendorSpecificInformation) {
		t.Fatalf("proxy offer = %v", offer)
	}
	// The firmware then asks the proxy's server id on port 4011, from the
	// address the real server gave it; the ACK comes back to that socket.
	req := newPacket(t, macKnown, dhcpv4.MessageTypeRequest, append(mods,
		dhcpv4.WithClientIP(loClient), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(offer.ServerIdentifier())))...)
	ack := exchange(t, client, srv4011.LocalAddr(), req)
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || ack.BootFileName != "ipxe.efi" ||
		!ack.Options.Has(dhcpv4.OptionVendorSpecificInformation) {
		t.Fatalf("4011 ack = %v", ack)
	}
}

func TestServeReturnsReadError(t *testing.T) {
	r := mustNew(t, proxyConfig())
	conn := listen(t, loServer)
	conn.Close()
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), conn, r) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Serve on a closed conn returned nil")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve on a closed conn did not return")
	}
}

func TestServeCancelledBeforeStart(t *testing.T) {
	r := mustNew(t, proxyConfig())
	conn := listen(t, loServer)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, conn, r) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve with a cancelled context did not return")
	}
}

func TestDestination(t *testing.T) {
	bcast := &net.UDPAddr{IP: net.IPv4bcast, Port: 68}
	o := serveOptions{broadcast: bcast, clientPort: 68}
	ack := newPacket(t, macKnown, dhcpv4.MessageTypeAck)
	nak := newPacket(t, macKnown, dhcpv4.MessageTypeNak)
	relay := net.IPv4(192, 0, 2, 254)
	ci := net.IPv4(192, 0, 2, 100)
	for _, tt := range []struct {
		name string
		req  *dhcpv4.DHCPv4
		resp *dhcpv4.DHCPv4
		want string
	}{
		{"relayed", newPacket(t, macKnown, dhcpv4.MessageTypeRequest, dhcpv4.WithGatewayIP(relay), dhcpv4.WithClientIP(ci)), ack, "192.0.2.254:67"},
		{"relayed NAK", newPacket(t, macKnown, dhcpv4.MessageTypeRequest, dhcpv4.WithGatewayIP(relay)), nak, "192.0.2.254:67"},
		{"NAK to a client with ciaddr", newPacket(t, macKnown, dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(ci)), nak, "255.255.255.255:68"},
		{"renewing", newPacket(t, macKnown, dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(ci)), ack, "192.0.2.100:68"},
		{"no address yet", newPacket(t, macKnown, dhcpv4.MessageTypeDiscover), ack, "255.255.255.255:68"},
		{"no address yet, broadcast flag", newPacket(t, macKnown, dhcpv4.MessageTypeDiscover, dhcpv4.WithBroadcast(true)), ack, "255.255.255.255:68"},
	} {
		if got := destination(tt.req, tt.resp, o).String(); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

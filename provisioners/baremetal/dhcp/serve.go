package dhcp

import (
	"context"
	"net"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// ServeOption adjusts where Serve sends replies.
type ServeOption func(*serveOptions)

type serveOptions struct {
	broadcast  *net.UDPAddr
	clientPort int
}

// BroadcastTo sends the replies that RFC 2131 broadcasts to addr instead
// of 255.255.255.255:68: a subnet-directed broadcast, or a loopback
// address in tests.
func BroadcastTo(addr *net.UDPAddr) ServeOption {
	return func(o *serveOptions) { o.broadcast = addr }
}

// ClientPort replaces port 68 as the destination of unicast replies to a
// client's ciaddr (tests).
func ClientPort(port int) ServeOption {
	return func(o *serveOptions) { o.clientPort = port }
}

// Serve answers DHCP requests arriving on conn, the server port (67), with
// r.Reply until ctx ends, and then returns nil; it returns the read error
// if conn fails. It does not close conn.
//
// On a machine with several interfaces, make conn with
// server4.NewIPv4UDPConn(iface, &net.UDPAddr{Port: 67}), which binds it to
// the boot interface so that broadcasts leave through it. The lab runs
// this inside its network namespace, where the bridge is the only
// interface: never run it on an interface of a network you do not own.
//
// Requests are handled one at a time: DHCP traffic on a boot network is
// light, and it keeps replies in the order requests came.
func Serve(ctx context.Context, conn net.PacketConn, r *Responder, opts ...ServeOption) error {
	return serve(ctx, conn, r, r.Reply, false, opts)
}

// ServeBootServer is Serve for the PXE boot server port (4011), answering
// with r.ReplyBootServer and replying to the address and port each
// request came from. Proxy mode needs it beside Serve: UEFI PXE firmware
// asks there for its boot file.
func ServeBootServer(ctx context.Context, conn net.PacketConn, r *Responder, opts ...ServeOption) error {
	return serve(ctx, conn, r, r.ReplyBootServer, true, opts)
}

func serve(ctx context.Context, conn net.PacketConn, r *Responder, reply func(*dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error), toPeer bool, opts []ServeOption) error {
	o := serveOptions{
		broadcast:  &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort},
		clientPort: dhcpv4.ClientPort,
	}
	for _, opt := range opts {
		opt(&o)
	}
	// A read deadline in the past wakes the blocked ReadFrom when ctx ends,
	// without closing a conn that belongs to the caller.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	buf := make([]byte, 64<<10)
	for {
		n, peer, err := conn.ReadFrom(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		req, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			continue // not DHCP, or malformed: nothing to answer
		}
		resp, err := reply(req)
		if err != nil {
			r.observe(Event{MAC: req.ClientHWAddr, Request: req.MessageType(), Reason: "building reply", Err: err})
			continue
		}
		if resp == nil {
			continue
		}
		dst := peer
		if !toPeer {
			dst = destination(req, resp, o)
		}
		if _, err := conn.WriteTo(resp.ToBytes(), dst); err != nil {
			// A failed send is the client's loss, not the server's: it
			// retransmits. Report it and keep serving.
			r.observe(Event{MAC: req.ClientHWAddr, Request: req.MessageType(), Reply: resp.MessageType(),
				Addr: resp.YourIPAddr, Reason: "sending to " + dst.String(), Err: err})
		}
	}
}

// destination applies RFC 2131 4.1: relay first, then NAKs broadcast,
// then a configured client's ciaddr, else broadcast. Unicast to yiaddr
// would need an ARP entry that a UDP socket cannot add, so clients without
// an address get broadcasts, which every PXE ROM and iPXE accept.
func destination(req, resp *dhcpv4.DHCPv4, o serveOptions) net.Addr {
	if gi := req.GatewayIPAddr; gi != nil && !gi.IsUnspecified() {
		return &net.UDPAddr{IP: gi, Port: dhcpv4.ServerPort}
	}
	if resp.MessageType() == dhcpv4.MessageTypeNak {
		return o.broadcast
	}
	if ci := req.ClientIPAddr; ci != nil && !ci.IsUnspecified() {
		return &net.UDPAddr{IP: ci, Port: o.clientPort}
	}
	return o.broadcast
}

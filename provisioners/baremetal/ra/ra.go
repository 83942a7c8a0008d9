package ra

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// DefaultInterval is how often an unsolicited advertisement goes out. RFC
// 4861 allows 4-1800 s for routers; a boot network wants machines that did
// not solicit (or whose solicitation was lost) to hear one quickly.
const DefaultInterval = 4 * time.Second

// prefixLifetime is the valid and preferred lifetime advertised for the
// prefix: long enough for a boot, short enough that a host forgets a
// prefix whose lab is gone.
const prefixLifetime = time.Hour

// Config is one advertiser.
type Config struct {
	// Interface is the one interface to advertise on.
	Interface string
	// Prefix is the /64 advertised for autoconfiguration.
	Prefix netip.Prefix
	// Interval between unsolicited advertisements; DefaultInterval when 0.
	Interval time.Duration
	// OnSendError, when set, hears about advertisements that could not be
	// sent. Sending fails while the interface is down or has no link-local
	// address yet; Serve goes on and tries again at the next occasion.
	OnSendError func(error)
}

// Advertisement returns the ICMPv6 router advertisement for prefix (RFC
// 4861 section 4.2) without its checksum, which the kernel fills in on raw
// ICMPv6 sockets.
func Advertisement(prefix netip.Prefix) ([]byte, error) {
	if !prefix.Addr().Is6() || prefix.Addr().Is4In6() || prefix.Bits() != 64 {
		return nil, fmt.Errorf("ra: prefix %s is not an IPv6 /64 (stateless autoconfiguration needs one)", prefix)
	}
	body := []byte{
		64,   // current hop limit
		0,    // M and O flags clear: no DHCPv6
		0, 0, // router lifetime 0: not a default router
		0, 0, 0, 0, // reachable time: unspecified
		0, 0, 0, 0, // retransmission timer: unspecified
		3, 4, // option: prefix information, 4 x 8 bytes
		64,   // prefix length
		0xc0, // on-link and autonomous
	}
	life := uint32(prefixLifetime / time.Second)
	body = binary.BigEndian.AppendUint32(body, life) // valid lifetime
	body = binary.BigEndian.AppendUint32(body, life) // preferred lifetime
	body = append(body, 0, 0, 0, 0)                  // reserved
	a := prefix.Masked().Addr().As16()
	body = append(body, a[:]...)
	msg := icmp.Message{Type: ipv6.ICMPTypeRouterAdvertisement, Body: &icmp.RawBody{Data: body}}
	return msg.Marshal(nil)
}

// allRouters is where router solicitations go; joining it on the
// interface lets the socket hear them.
var allRouters = netip.MustParseAddr("ff02::2")

// Serve advertises on cfg.Interface until ctx ends: at once, every
// Interval, and in answer to each router solicitation on that interface.
// It needs CAP_NET_RAW.
func Serve(ctx context.Context, cfg Config) error {
	wb, err := Advertisement(cfg.Prefix)
	if err != nil {
		return err
	}
	interval := cfg.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return fmt.Errorf("ra: %w", err)
	}
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return fmt.Errorf("ra: raw ICMPv6 socket (needs root or CAP_NET_RAW): %w", err)
	}
	defer c.Close()
	p := c.IPv6PacketConn()
	// RFC 4861 section 6.1.2: receivers drop advertisements whose hop
	// limit is not 255, which proves they were not forwarded.
	if err := p.SetMulticastHopLimit(255); err != nil {
		return fmt.Errorf("ra: %w", err)
	}
	if err := p.SetMulticastInterface(ifi); err != nil {
		return fmt.Errorf("ra: %w", err)
	}
	if err := p.SetControlMessage(ipv6.FlagInterface, true); err != nil {
		return fmt.Errorf("ra: %w", err)
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterSolicitation)
	if err := p.SetICMPFilter(&f); err != nil {
		return fmt.Errorf("ra: %w", err)
	}
	if err := p.JoinGroup(ifi, &net.IPAddr{IP: allRouters.AsSlice()}); err != nil {
		return fmt.Errorf("ra: joining ff02::2 on %s: %w", cfg.Interface, err)
	}
	dst := &net.IPAddr{IP: net.IPv6linklocalallnodes, Zone: cfg.Interface}
	send := func() {
		_, err := p.WriteTo(wb, &ipv6.ControlMessage{HopLimit: 255, IfIndex: ifi.Index}, dst)
		if err != nil && cfg.OnSendError != nil && ctx.Err() == nil {
			cfg.OnSendError(fmt.Errorf("ra: sending on %s: %w", cfg.Interface, err))
		}
	}

	solicited := make(chan struct{}, 1)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 1500)
		for {
			_, cm, _, err := p.ReadFrom(buf)
			if err != nil {
				readErr <- err
				return
			}
			if cm != nil && cm.IfIndex != ifi.Index {
				continue // a solicitation on another interface is not ours to answer
			}
			select {
			case solicited <- struct{}{}:
			default: // one answer pending is enough
			}
		}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	send()
	for {
		select {
		case <-ctx.Done():
			return nil // the deferred Close ends the reader
		case err := <-readErr:
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("ra: reading on %s: %w", cfg.Interface, err)
		case <-solicited:
		case <-tick.C:
		}
		send()
	}
}

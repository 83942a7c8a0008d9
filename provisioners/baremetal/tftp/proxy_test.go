package tftp

import (
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lossyProxy sits between TFTP clients and the server on loopback and drops
// chosen packets, so that tests can exercise retransmission without touching
// the machine's network configuration (no netem on a shared host). For every
// client it opens one socket towards the server and one towards the client,
// which then plays the server's transfer port.
type lossyProxy struct {
	addr    string // where clients send requests
	dropped atomic.Int64
}

// dropFunc decides whether to drop a packet; toClient tells the direction,
// first whether this DATA block (or ACK) number passes the proxy for the
// first time in that direction.
type dropFunc func(toClient bool, op, block uint16, first bool) bool

// dropBlocks drops the first transmission of the listed DATA blocks (towards
// the client) and ACKs (towards the server).
func dropBlocks(data, acks []uint16) dropFunc {
	return func(toClient bool, op, block uint16, first bool) bool {
		switch {
		case !first:
			return false
		case toClient && op == 3:
			return slices.Contains(data, block)
		case !toClient && op == 4:
			return slices.Contains(acks, block)
		}
		return false
	}
}

// Bounds on the proxy's loops, should a test forget to end it: each loop
// stops after this many packets or this long without one.
const (
	proxyMaxPackets = 1 << 20
	proxyIdle       = 60 * time.Second
)

func startLossyProxy(t testing.TB, server string, drop dropFunc) *lossyProxy {
	t.Helper()
	srv, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{addr: front.LocalAddr().String()}
	var (
		mu      sync.Mutex
		conns   = []*net.UDPConn{front}
		session = map[string]*net.UDPConn{} // client addr -> socket towards server
		wg      sync.WaitGroup
	)
	t.Cleanup(func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Error(err)
			return nil
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		return c
	}
	// relay copies packets from in to out, to the address dst returns,
	// until in is closed at the end of the test. seen counts per direction
	// so that drop can spare retransmissions.
	relay := func(in, out *net.UDPConn, toClient bool, from func(*net.UDPAddr), dst func() *net.UDPAddr) {
		defer wg.Done()
		seen := map[[2]uint16]bool{}
		buf := make([]byte, 65536)
		for range proxyMaxPackets {
			in.SetReadDeadline(time.Now().Add(proxyIdle))
			n, src, err := in.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if from != nil {
				from(src)
			}
			to := dst()
			if to == nil {
				continue
			}
			if n >= 4 {
				k := [2]uint16{binary.BigEndian.Uint16(buf), binary.BigEndian.Uint16(buf[2:])}
				first := !seen[k]
				seen[k] = true
				if drop(toClient, k[0], k[1], first) {
					p.dropped.Add(1)
					continue
				}
			}
			out.WriteToUDP(buf[:n], to)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for range proxyMaxPackets {
			front.SetReadDeadline(time.Now().Add(proxyIdle))
			n, client, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			mu.Lock()
			up, ok := session[client.String()]
			mu.Unlock()
			if !ok {
				var down *net.UDPConn
				up, down = listen(), listen()
				if up == nil || down == nil {
					return
				}
				mu.Lock()
				session[client.String()] = up
				mu.Unlock()
				// serverTID is the server's transfer port, learnt from its
				// first answer.
				var serverTID atomic.Pointer[net.UDPAddr]
				wg.Add(2)
				go relay(up, down, true,
					func(a *net.UDPAddr) { serverTID.CompareAndSwap(nil, a) },
					func() *net.UDPAddr { return client })
				go relay(down, up, false, nil, serverTID.Load)
			}
			up.WriteToUDP(buf[:n], srv) // the request, or its retransmission
		}
	}()
	return p
}

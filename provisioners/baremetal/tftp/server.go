package tftp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// DefaultRoot is where Debian's ipxe package installs undionly.kpxe and
// ipxe.efi. Callers that serve the stock iPXE binaries pass it to New.
const DefaultRoot = "/usr/lib/ipxe"

// Defaults for Options fields left zero.
const (
	// DefaultTimeout is how long the server waits for an ACK before it
	// retransmits. One second is what tftp-hpa and dnsmasq use: PXE ROMs on a
	// LAN answer in well under a millisecond, so waiting longer only delays
	// recovery from a lost packet.
	DefaultTimeout = time.Second
	// DefaultRetries is how many times a packet is retransmitted before the
	// transfer is abandoned, so a vanished client holds its goroutine and
	// socket for at most (DefaultRetries+1)*DefaultTimeout.
	DefaultRetries = 5
	// DefaultWindowSize is the largest RFC 7440 window granted by default.
	// 16 is the value RFC 7440's measurements single out as most of the
	// gain; 16 Ethernet-sized blocks (24 KB) fit every client's socket
	// buffer, so a window does not overrun the client it is meant to speed up.
	DefaultWindowSize = 16
	// DefaultMaxTransfers bounds the transfers running at once, each of
	// which holds a socket, so that a flood of requests cannot exhaust file
	// descriptors. Requests above it are dropped; clients retry them.
	DefaultMaxTransfers = 1024
)

// Options tune a Server. The zero value is a sensible configuration.
type Options struct {
	// Timeout is how long to wait for an ACK before retransmitting
	// (default DefaultTimeout). A client may negotiate the timeout option
	// (RFC 2349, 1..255 s): its value is acknowledged and the server then
	// retransmits after the smaller of the two, so Timeout still bounds
	// how long a vanished client holds a transfer.
	Timeout time.Duration
	// Retries is how many times a packet (or a window of them) is
	// retransmitted without progress before the transfer fails (default
	// DefaultRetries).
	Retries int
	// MaxBlockSize caps the blksize (RFC 2348) a client may negotiate. Zero
	// leaves only the natural cap, the MTU of the interface the request came
	// in on minus IP, UDP and TFTP headers. Non-zero values must be in
	// 512..65464.
	MaxBlockSize int
	// WindowSize is the largest windowsize (RFC 7440) the server grants: a
	// client that asks for one gets min(asked, WindowSize) and the server
	// then sends that many blocks per ACK. Clients that do not ask get
	// classic lock-step. 0 means DefaultWindowSize; 1 grants only lock-step.
	// Must be in 0..65535.
	WindowSize int
	// MaxTransfers bounds the transfers running at once (default
	// DefaultMaxTransfers). Requests beyond it are dropped unanswered, so
	// the client retransmits its request later.
	MaxTransfers int
	// OnTransfer, if set, is called once for every request that reaches a
	// handler: when a download ends (well or not) or a request is refused.
	// It runs on the transfer's goroutine, concurrently with other
	// transfers, so it must be safe for concurrent use and return quickly.
	OnTransfer func(Transfer)
}

// Transfer describes one TFTP request and its outcome, for Options.OnTransfer.
type Transfer struct {
	// Remote is the client's address and port (its transfer ID).
	Remote netip.AddrPort
	// Filename is the name as the client sent it.
	Filename string
	// Path is the file served, relative to the root; empty when the name
	// was refused before it could be resolved.
	Path string
	// Write is true for a write request (always refused).
	Write bool
	// Size is the file's size in bytes, or -1 when no file was opened.
	Size int64
	// Bytes is how many bytes of the file the client acknowledged.
	Bytes int64
	// Start is when the request was handled; Duration how long it took.
	Start    time.Time
	Duration time.Duration
	// Err is nil for a complete download. Refusals wrap fs.ErrNotExist or
	// fs.ErrPermission, so errors.Is tells which TFTP error the client got.
	Err error
}

// Server is a read-only TFTP server for one root directory. It holds no
// open resources between Serve calls, so it needs no Close, and one Server
// may Serve on several connections (say, IPv4 and IPv6) at once.
type Server struct {
	root     string   // absolute root directory, as given
	prefixes []string // spellings of root that absolute request names may start with
	opts     Options
}

// New checks root and opts and returns a Server for them. root is the
// directory to serve (DefaultRoot for Debian's iPXE binaries); it must exist
// when New is called and again when Serve starts.
func New(root string, opts Options) (*Server, error) {
	if root == "" {
		return nil, fmt.Errorf("tftp: no root directory given (Debian's ipxe package installs to %s)", DefaultRoot)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("tftp: root %q: %w", root, err)
	}
	// Fail now rather than at the first request, and with a clear message.
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("tftp: root: %w", err)
	}
	r.Close()
	prefixes := []string{abs}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil && resolved != abs {
		prefixes = append(prefixes, resolved)
	}

	switch {
	case opts.Timeout < 0:
		return nil, fmt.Errorf("tftp: negative timeout %v", opts.Timeout)
	case opts.Retries < 0:
		return nil, fmt.Errorf("tftp: negative retries %d", opts.Retries)
	case opts.MaxBlockSize != 0 && (opts.MaxBlockSize < defaultBlockSize || opts.MaxBlockSize > maxBlockSize):
		return nil, fmt.Errorf("tftp: max block size %d outside %d..%d", opts.MaxBlockSize, defaultBlockSize, maxBlockSize)
	case opts.WindowSize < 0 || opts.WindowSize > maxWindowSize:
		return nil, fmt.Errorf("tftp: window size %d outside 1..%d (0 for the default %d)", opts.WindowSize, maxWindowSize, DefaultWindowSize)
	case opts.MaxTransfers < 0:
		return nil, fmt.Errorf("tftp: negative max transfers %d", opts.MaxTransfers)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Retries == 0 {
		opts.Retries = DefaultRetries
	}
	if opts.MaxBlockSize == 0 {
		opts.MaxBlockSize = maxBlockSize
	}
	if opts.WindowSize == 0 {
		opts.WindowSize = DefaultWindowSize
	}
	if opts.MaxTransfers == 0 {
		opts.MaxTransfers = DefaultMaxTransfers
	}
	return &Server{root: abs, prefixes: prefixes, opts: opts}, nil
}

// Root returns the absolute root directory the server serves.
func (s *Server) Root() string { return s.root }

// ListenAndServe listens on the UDP address addr (":69" for the standard
// port, which needs root or CAP_NET_BIND_SERVICE) and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	conn, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("tftp: %w", err)
	}
	return s.Serve(ctx, conn)
}

// Serve answers TFTP requests arriving on conn until ctx ends, then shuts
// down cleanly: it stops taking requests, aborts running downloads (their
// clients get a TFTP error, not silence) and returns nil once every
// transfer goroutine is gone. Serve closes conn before it returns; closing
// conn from outside instead makes Serve end the transfers the same way
// and return an error.
//
// Each transfer runs on its own UDP socket (a new transfer ID, RFC 1350)
// bound to the address the request was sent to. conn should therefore be
// a *net.UDPConn: Serve then learns each request's destination address
// and interface (IP_PKTINFO / IPV6_RECVPKTINFO), which it needs to answer
// from the right address and to allow blocks above 512 bytes.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	defer conn.Close()
	// The root is opened per Serve call so that a Server owns no file
	// descriptor while it is not serving.
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return fmt.Errorf("tftp: root: %w", err)
	}
	defer root.Close()

	ctx, cancel := context.WithCancel(ctx)
	sv := &serving{srv: s, root: root, active: map[netip.AddrPort]bool{}}
	err = sv.listen(ctx, conn)
	// Transfers watch ctx: cancelling it ends them, whatever stopped the
	// listener; root and conn are closed (deferred) only after they are gone.
	cancel()
	sv.wg.Wait()
	return err
}

// serving is the state of one Serve call.
type serving struct {
	srv  *Server
	root *os.Root
	wg   sync.WaitGroup

	mu     sync.Mutex
	active map[netip.AddrPort]bool // clients with a transfer running
}

// maxReadErrors is how many failed reads in a row the listener tolerates
// (say, ENOBUFS under memory pressure) before it gives up.
const maxReadErrors = 100

// listen reads requests from conn and starts a transfer for each, until ctx
// ends (nil) or conn fails (an error).
func (sv *serving) listen(ctx context.Context, conn net.PacketConn) error {
	src := newPacketSource(conn)
	// A read blocks without a deadline; ending ctx unblocks it.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	// Requests fit in 512 bytes (RFC 2347); the rest is room for odd clients.
	buf := make([]byte, 4096)
	failures := 0
	for {
		n, from, local, ifIndex, err := src.read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			if errors.Is(err, net.ErrClosed) || failures > maxReadErrors {
				return fmt.Errorf("tftp: serve: %w", err)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		failures = 0
		if n < 2 || buf[0] != 0 || (buf[1] != opRRQ && buf[1] != opWRQ) {
			continue // not a request: stray DATA/ACK/ERROR for the listening port
		}
		req, perr := parseRequest(buf[:n])
		client := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if !sv.claim(client) {
			continue
		}
		sv.wg.Go(func() {
			t, ok := sv.handle(ctx, req, perr, client, local, ifIndex)
			// The slot is free before OnTransfer runs, so whoever learns
			// of the end from the hook can start the next transfer at once.
			sv.release(client)
			if ok && sv.srv.opts.OnTransfer != nil {
				sv.srv.opts.OnTransfer(t)
			}
		})
	}
}

// claim registers a transfer for client. It refuses a client that already
// has one, because that request is a retransmission of the one being
// served (whose own retransmissions answer it), and refuses any client
// once MaxTransfers are running.
func (sv *serving) claim(client netip.AddrPort) bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.active[client] || len(sv.active) >= sv.srv.opts.MaxTransfers {
		return false
	}
	sv.active[client] = true
	return true
}

func (sv *serving) release(client netip.AddrPort) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	delete(sv.active, client)
}

// packetSource reads requests with their destination address and arriving
// interface when the kernel reports them.
type packetSource struct {
	v4    *ipv4.PacketConn
	v6    *ipv6.PacketConn
	plain net.PacketConn
}

// newPacketSource asks the kernel to report each datagram's destination
// address and interface (IP_PKTINFO / IPV6_RECVPKTINFO). A socket bound to
// an IPv6 address (the wildcard "::" included, which also takes IPv4 on a
// dual-stack host) uses the IPv6 option; Linux then reports IPv4 requests
// as v4-mapped addresses. Without either, requests are still served, with
// the kernel choosing the reply's source address and 512-byte blocks.
func newPacketSource(conn net.PacketConn) *packetSource {
	ps := &packetSource{plain: conn}
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return ps
	}
	la, ok := uc.LocalAddr().(*net.UDPAddr)
	if !ok {
		return ps
	}
	if la.IP.To4() != nil {
		pc := ipv4.NewPacketConn(uc)
		if pc.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true) == nil {
			ps.v4 = pc
		}
	} else {
		pc := ipv6.NewPacketConn(uc)
		if pc.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true) == nil {
			ps.v6 = pc
		}
	}
	return ps
}

// read returns one datagram, its sender, and the local address and
// interface index it arrived at (nil and 0 when unknown).
func (ps *packetSource) read(b []byte) (n int, from netip.AddrPort, local net.IP, ifIndex int, err error) {
	var src net.Addr
	switch {
	case ps.v4 != nil:
		var cm *ipv4.ControlMessage
		n, cm, src, err = ps.v4.ReadFrom(b)
		if cm != nil {
			local, ifIndex = cm.Dst, cm.IfIndex
		}
	case ps.v6 != nil:
		var cm *ipv6.ControlMessage
		n, cm, src, err = ps.v6.ReadFrom(b)
		if cm != nil {
			local, ifIndex = cm.Dst, cm.IfIndex
		}
	default:
		n, src, err = ps.plain.ReadFrom(b)
	}
	if err != nil {
		return 0, netip.AddrPort{}, nil, 0, err
	}
	ua, ok := src.(*net.UDPAddr)
	if !ok {
		return 0, netip.AddrPort{}, nil, 0, nil // not UDP: nothing to answer
	}
	return n, ua.AddrPort(), local, ifIndex, nil
}

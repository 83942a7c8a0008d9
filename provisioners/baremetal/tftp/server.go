package tftp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	pintftp "github.com/pin/tftp/v3"
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
)

// Limits that pin/tftp imposes on the corresponding options. The library
// silently ignores values outside them; New reports them as errors instead.
const (
	minMaxBlockSize = 513   // pin's SetBlockSize ignores 512 and below
	maxMaxBlockSize = 65464 // RFC 2348's largest blksize
	maxWindowSize   = 60    // pin caps its send-ahead window at 60 blocks

	// sendAheadMaxBlockSize caps blksize when send-ahead is on and the
	// caller set no cap: see Options.WindowSize.
	sendAheadMaxBlockSize = 1468
)

// TFTP error codes (RFC 1350) that this server sends itself.
const (
	codeAccessViolation = 2
	opError             = 5
)

// Options tune a Server. The zero value is a sensible configuration.
type Options struct {
	// Timeout is how long to wait for an ACK before retransmitting
	// (default DefaultTimeout).
	Timeout time.Duration
	// Retries is how many times a packet is retransmitted before the
	// transfer fails (default DefaultRetries).
	Retries int
	// MaxBlockSize caps the blksize (RFC 2348) a client may negotiate. Zero
	// leaves only the natural cap, the MTU of the interface the request came
	// in on minus IP and UDP headers. Non-zero values must be in 513..65464.
	MaxBlockSize int
	// WindowSize, when 2..60, makes the server send that many blocks before
	// it waits for their ACKs (pin/tftp's send-ahead). 0 or 1 is classic
	// lock-step, the default. This is not RFC 7440 negotiation: see the
	// package comment. It is experimental, as pin/tftp says: after one lost
	// packet the transfer fails (it waits for ACKs no client sends), so it
	// is for benchmarks and lossless links only. With it on and
	// MaxBlockSize zero, blocks are capped at 1468 bytes (an Ethernet
	// frame), because a window of 64 KB blocks overflows a client's socket
	// buffer even on loopback, which is such a loss.
	WindowSize int
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
	// Bytes is how many bytes of the file were sent.
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
	case opts.MaxBlockSize != 0 && (opts.MaxBlockSize < minMaxBlockSize || opts.MaxBlockSize > maxMaxBlockSize):
		return nil, fmt.Errorf("tftp: max block size %d outside %d..%d", opts.MaxBlockSize, minMaxBlockSize, maxMaxBlockSize)
	case opts.WindowSize < 0 || opts.WindowSize > maxWindowSize:
		return nil, fmt.Errorf("tftp: window size %d outside 0..%d", opts.WindowSize, maxWindowSize)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Retries == 0 {
		opts.Retries = DefaultRetries
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
// down cleanly: it stops taking requests, aborts running downloads at their
// next block (clients get a TFTP error, not silence) and returns nil once
// every transfer goroutine is gone. A transfer stuck waiting for an ACK
// ends within (Retries+1)*Timeout. Serve closes conn before it returns.
//
// conn should be a *net.UDPConn: pin/tftp then learns the local address
// and interface MTU of each request, which it needs to answer from the
// right address and to allow blocks above 512 bytes. Stop the server by
// ending ctx, never by closing conn: pin/tftp's loop treats read errors as
// "try again" and would spin.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	defer conn.Close()
	enablePacketInfo(conn)
	// The root is opened per Serve call so that a Server owns no file
	// descriptor while it is not serving.
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return fmt.Errorf("tftp: root: %w", err)
	}
	defer root.Close()

	h := &handler{ctx: ctx, srv: s, root: root}
	ps := pintftp.NewServer(h.read, h.write)
	ps.SetTimeout(s.opts.Timeout)
	ps.SetRetries(s.opts.Retries)
	// pin's default backoff sleeps a random 0-1 s before every retransmit,
	// on top of the timeout; the timeout alone already spaces them out.
	ps.SetBackoff(func(int) time.Duration { return 0 })
	switch {
	case s.opts.MaxBlockSize != 0:
		ps.SetBlockSize(s.opts.MaxBlockSize)
	case s.opts.WindowSize > 1:
		ps.SetBlockSize(sendAheadMaxBlockSize)
	}
	if s.opts.WindowSize > 1 {
		ps.SetAnticipate(uint(s.opts.WindowSize))
	}

	done := make(chan error, 1)
	go func() { done <- ps.Serve(conn) }()
	select {
	case <-ctx.Done():
		// Shutdown closes conn, which unblocks ps.Serve, and waits for the
		// transfer goroutines; those see ctx ended through ctxReader.
		ps.Shutdown()
		<-done
		return nil
	case err := <-done:
		// ps.Serve only returns on its own for a conn it cannot use.
		ps.Shutdown()
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		return fmt.Errorf("tftp: serve: %w", err)
	}
}

// handler holds what pin/tftp's read and write callbacks need for one Serve
// call. It keeps Serve's ctx because pin/tftp's callbacks take none, and
// transfers must see the shutdown; the handler lives exactly as long as
// that Serve call.
type handler struct {
	ctx  context.Context
	srv  *Server
	root *os.Root
}

// read serves one read request. The error it returns becomes the message
// of the TFTP error that pin/tftp sends to the client, so it is kept short
// and never includes server-side paths.
func (h *handler) read(filename string, rf io.ReaderFrom) error {
	t := Transfer{Filename: filename, Size: -1, Start: time.Now()}
	if ot, ok := rf.(pintftp.OutgoingTransfer); ok {
		t.Remote = addrPort(ot.RemoteAddr())
	}
	clientErr, denied := h.serve(&t, rf)
	t.Duration = time.Since(t.Start)
	if denied {
		// pin/tftp can only send error code 1 (file not found). For an
		// access violation we send code 2 ourselves first; the client stops
		// at that first error and ignores pin's code 1 that follows.
		h.sendError(rf, codeAccessViolation, clientErr.Error())
	}
	h.report(t)
	return clientErr
}

// serve resolves, opens and sends the file, recording the outcome in t. It
// returns the error to show the client (nil on success) and whether the
// request was refused as an access violation.
func (h *handler) serve(t *Transfer, rf io.ReaderFrom) (clientErr error, denied bool) {
	rel, err := cleanName(h.srv.prefixes, t.Filename)
	if err != nil {
		t.Err = err
		return errors.New("access violation"), true
	}
	t.Path = filepath.ToSlash(rel)
	f, fi, err := openFile(h.root, rel)
	if err != nil {
		t.Err = err
		if isNotFound(err) {
			return errors.New("file not found"), false
		}
		return errors.New("access violation"), true
	}
	defer f.Close()
	t.Size = fi.Size()
	if ot, ok := rf.(pintftp.OutgoingTransfer); ok {
		// Answers tsize (RFC 2349) with the real size whatever value the
		// client sent: atftp 0.8 sends "enable" instead of "0", which
		// pin/tftp would otherwise echo back. No-op without tsize.
		ot.SetSize(fi.Size())
	}
	// ctxReader lets a shutdown end the download at the next block.
	n, err := rf.ReadFrom(&ctxReader{ctx: h.ctx, f: f})
	t.Bytes = n
	if err != nil {
		t.Err = err
		// The transfer has started; pin/tftp has already told the client.
		return err, false
	}
	return nil, false
}

// write refuses every write request: the boot server never accepts files
// from the network.
func (h *handler) write(filename string, wt io.WriterTo) error {
	t := Transfer{Filename: filename, Write: true, Size: -1, Start: time.Now()}
	if it, ok := wt.(pintftp.IncomingTransfer); ok {
		t.Remote = addrPort(it.RemoteAddr())
	}
	const msg = "access violation: read-only server"
	t.Err = fmt.Errorf("write request refused: %w", fs.ErrPermission)
	h.sendError(wt, codeAccessViolation, msg)
	h.report(t)
	return errors.New(msg)
}

// addrPort converts a peer address for Transfer.Remote. IPv4 peers of a
// dual-stack socket arrive as ::ffff:a.b.c.d; unmapping them lets the boot
// server compare them with the plain IPv4 addresses it handed out.
func addrPort(a net.UDPAddr) netip.AddrPort {
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (h *handler) report(t Transfer) {
	if h.srv.opts.OnTransfer != nil {
		h.srv.opts.OnTransfer(t)
	}
}

// sendError sends a TFTP ERROR packet to the peer of transfer x (pin/tftp's
// sender or receiver) from a fresh port on the local address the request
// arrived at, as RFC 1350 wants replies to come from a new transfer ID.
// Failures are ignored: pin/tftp sends its own error right after.
func (h *handler) sendError(x any, code uint16, msg string) {
	var remote net.UDPAddr
	switch t := x.(type) {
	case pintftp.OutgoingTransfer:
		remote = t.RemoteAddr()
	case pintftp.IncomingTransfer:
		remote = t.RemoteAddr()
	default:
		return
	}
	var local net.IP
	if pi, ok := x.(pintftp.RequestPacketInfo); ok {
		local = pi.LocalIP()
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: local})
	if err != nil {
		// The local address may not be bindable (a broadcast destination,
		// say); let the kernel pick the source address instead.
		if conn, err = net.ListenUDP("udp", nil); err != nil {
			return
		}
	}
	defer conn.Close()
	conn.WriteToUDP(errorPacket(code, msg), &remote)
}

// errorPacket builds a TFTP ERROR packet (RFC 1350, opcode 5).
func errorPacket(code uint16, msg string) []byte {
	p := make([]byte, 0, 5+len(msg))
	p = binary.BigEndian.AppendUint16(p, opError)
	p = binary.BigEndian.AppendUint16(p, code)
	p = append(p, msg...)
	return append(p, 0)
}

// ctxReader reads a file until ctx ends, so that shutting the server down
// aborts running downloads instead of waiting for them to finish.
type ctxReader struct {
	ctx context.Context
	f   *os.File
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, errors.New("server shutting down")
	}
	return r.f.Read(p)
}

// enablePacketInfo asks the kernel to report each datagram's destination
// address and interface (IP_PKTINFO / IPV6_RECVPKTINFO). pin/tftp turns this
// on too, but only once its serving goroutine runs, and a request that
// arrives before carries no interface and is held to 512-byte blocks. Doing
// it first thing narrows that window to requests queued before Serve was
// called. pin/tftp picks IPv4 or IPv6 the same way.
func enablePacketInfo(conn net.PacketConn) {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return
	}
	la, ok := uc.LocalAddr().(*net.UDPAddr)
	if !ok {
		return
	}
	// Errors are ignored: pin/tftp retries and falls back on its own.
	if la.IP.To4() != nil {
		ipv4.NewPacketConn(uc).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
	} else {
		ipv6.NewPacketConn(uc).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
	}
}

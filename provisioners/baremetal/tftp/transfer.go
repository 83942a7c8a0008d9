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
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors a transfer ends with, for Transfer.Err.
var (
	errShutdown = errors.New("server shutting down")
	errTimedOut = errors.New("client stopped acknowledging")
)

// IP + UDP + TFTP DATA header bytes, subtracted from an interface's MTU to
// get the largest block that travels unfragmented.
const (
	overheadIPv4 = 20 + 8 + 4
	overheadIPv6 = 40 + 8 + 4
)

// handle answers one request on a socket of its own and returns what to
// report, if anything. parseErr is set when the request could not be
// parsed.
func (sv *serving) handle(ctx context.Context, req request, parseErr error, client netip.AddrPort, local net.IP, ifIndex int) (Transfer, bool) {
	t := Transfer{Remote: client, Filename: req.filename, Write: req.write, Size: -1, Start: time.Now()}
	conn, err := dialTransfer(local, ifIndex, client)
	if err != nil {
		// Nothing can be sent without a socket; the client will retry.
		t.Err = fmt.Errorf("opening a transfer socket: %w", err)
		return t, parseErr == nil
	}
	defer conn.Close()
	if parseErr != nil {
		// Not reported: there is no file name to report it under.
		conn.Write(errorPacket(codeIllegal, parseErr.Error()))
		return t, false
	}
	if req.write {
		// The boot server never accepts files from the network.
		conn.Write(errorPacket(codeAccessViolation, "access violation: read-only server"))
		t.Err = fmt.Errorf("write request refused: %w", fs.ErrPermission)
	} else {
		t.Err = sv.serveRead(ctx, conn, &t, req, local, ifIndex)
	}
	t.Duration = time.Since(t.Start)
	return t, true
}

// dialTransfer opens the transfer's socket, connected to the client so
// that the kernel drops datagrams from anyone else (another transfer ID)
// and reports an ICMP "port unreachable" as an error. It is bound to the
// address the request was sent to, so the reply comes from the address
// the client talked to; when that cannot be bound (a broadcast or
// multicast destination, say) the kernel picks the source by route.
func dialTransfer(local net.IP, ifIndex int, client netip.AddrPort) (*net.UDPConn, error) {
	raddr := net.UDPAddrFromAddrPort(client)
	network := "udp4"
	if client.Addr().Is6() {
		network = "udp6"
	}
	if local != nil && !local.IsMulticast() && !local.IsUnspecified() {
		la := &net.UDPAddr{IP: local}
		if v4 := local.To4(); v4 != nil {
			la.IP = v4 // a v4-mapped destination of a dual-stack socket
		} else if local.IsLinkLocalUnicast() {
			la.Zone = strconv.Itoa(ifIndex)
		}
		if c, err := net.DialUDP(network, la, raddr); err == nil {
			return c, nil
		}
	}
	return net.DialUDP(network, nil, raddr)
}

// serveRead resolves, opens and sends the file, recording the outcome in
// t. Refusals are answered with the TFTP error that matches the returned
// error; messages never include server-side paths.
func (sv *serving) serveRead(ctx context.Context, conn *net.UDPConn, t *Transfer, req request, local net.IP, ifIndex int) error {
	rel, err := cleanName(sv.srv.prefixes, req.filename)
	if err != nil {
		conn.Write(errorPacket(codeAccessViolation, "access violation"))
		return err
	}
	t.Path = filepath.ToSlash(rel)
	f, fi, err := openFile(sv.root, rel)
	if err != nil {
		if isNotFound(err) {
			conn.Write(errorPacket(codeNotFound, "file not found"))
		} else {
			conn.Write(errorPacket(codeAccessViolation, "access violation"))
		}
		return err
	}
	defer f.Close()
	t.Size = fi.Size()

	lim := limits{maxBlock: defaultBlockSize, maxWindow: sv.srv.opts.WindowSize}
	if hasOption(req.opts, "blksize") {
		// Only looked up when needed: it is a netlink round trip.
		lim.maxBlock = sv.blockLimit(local, ifIndex)
	}
	p := negotiate(req.opts, lim, fi.Size())
	x := newSender(conn, f, req.netascii(), p, sv.srv.opts)
	err = x.run(ctx)
	t.Bytes = x.delivered()
	return err
}

func hasOption(opts []option, name string) bool {
	for _, o := range opts {
		if strings.EqualFold(o.name, name) {
			return true
		}
	}
	return false
}

// blockLimit is the largest blksize for a request that arrived on
// interface ifIndex: Options.MaxBlockSize, and what fits the interface's
// MTU unfragmented. With the interface unknown only 512 bytes are safe.
func (sv *serving) blockLimit(local net.IP, ifIndex int) int {
	limit := sv.srv.opts.MaxBlockSize
	if ifIndex <= 0 {
		return min(limit, defaultBlockSize)
	}
	ifi, err := net.InterfaceByIndex(ifIndex)
	if err != nil {
		return min(limit, defaultBlockSize)
	}
	overhead := overheadIPv6
	if local == nil || local.To4() != nil {
		overhead = overheadIPv4
	}
	return max(defaultBlockSize, min(limit, ifi.MTU-overhead))
}

// sender runs one download. Blocks are numbered from 1 in an int64 that
// never wraps; only the 16-bit number on the wire rolls over, from 65535
// to 0 as tftp-hpa, atftp and curl expect, so files of any size work.
// Block 0 stands for the OACK, which the client acknowledges as ACK 0.
//
// The DATA packets of a window are laid out back to back in buf, so that
// one sendmsg with UDP segmentation offload (Linux) sends up to batch of
// them: the packets are all 4+blksize bytes but the last, which is exactly
// the shape GSO cuts a buffer into. It saves most of the per-datagram
// cost of the sending side, the server's main cost with windows.
type sender struct {
	conn    *net.UDPConn
	src     blockSource
	oack    []byte // nil: no options accepted, start with block 1
	blksize int
	window  int64
	timeout time.Duration
	retries int
	buf     []byte // batch DATA packets of 4+blksize bytes each
	batch   int
	gso     []byte // the UDP_SEGMENT control message; nil: one write per packet
	in      []byte // the client's last packet
	acked   int64  // highest block acknowledged; -1 while an OACK is pending
	next    int64  // next block to send
	last    int64  // the final (short) block, once read; -1 before
}

// GSO limits: the kernel takes at most 64 segments per send (older
// kernels; newer ones 128), and the whole buffer must fit one IP packet.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
)

func newSender(conn *net.UDPConn, f *os.File, netascii bool, p params, o Options) *sender {
	slot := 4 + p.blksize
	batch := min(p.window, gsoMaxSegments, gsoMaxBytes/slot)
	x := &sender{
		conn:    conn,
		blksize: p.blksize,
		window:  int64(p.window),
		timeout: o.Timeout,
		retries: o.Retries,
		batch:   max(batch, 1),
		// ACKs are 4 bytes; ERRORs are read far enough to log their text.
		in:   make([]byte, 516),
		last: -1,
	}
	x.buf = make([]byte, x.batch*slot)
	if x.batch > 1 {
		x.gso = gsoControl(slot)
	}
	if p.timeout > 0 {
		// The smaller of the client's and the server's: a client may ask
		// for faster retransmission, but not to hold a transfer longer
		// than Options.Timeout allows.
		x.timeout = min(x.timeout, p.timeout)
	}
	if netascii {
		x.src = newNetasciiSource(f, p.blksize, p.window)
	} else {
		x.src = &octetSource{f: f, blksize: p.blksize, end: -1}
	}
	if len(p.oack) > 0 {
		x.oack = oackPacket(p.oack)
		x.acked, x.next = -1, 0
	} else {
		x.acked, x.next = 0, 1
	}
	return x
}

// run sends the file (RFC 1350, windowed as in RFC 7440): a window of
// blocks, then a wait for the ACK. An ACK for the window's last block
// moves on; an ACK for an earlier block of the window means the client
// lost the block after it, so sending resumes there (RFC 7440 section 4).
// Duplicate and stale ACKs are ignored, which keeps one late ACK from
// doubling every later packet (the Sorcerer's Apprentice bug); a timeout
// resends from the first unacknowledged block instead. The client gets an
// ERROR packet when the transfer fails on the server's side.
func (x *sender) run(ctx context.Context) error {
	// Ending ctx interrupts the read the transfer is blocked in.
	stop := context.AfterFunc(ctx, func() { x.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	tries := 0
	for {
		if err := x.sendWindow(); err != nil {
			return err
		}
		done, progress, err := x.await(ctx)
		switch {
		case err != nil:
			return err
		case done:
			return nil
		case progress:
			tries = 0
		default: // timeout: resend from the first block not acknowledged
			if tries++; tries > x.retries {
				x.conn.Write(errorPacket(codeUndefined, "timeout"))
				return fmt.Errorf("%w: no ACK after %d retransmissions", errTimedOut, x.retries)
			}
			x.next = x.acked + 1
		}
	}
}

// sendWindow sends the blocks from x.next up to the end of the window that
// starts after x.acked (the OACK alone while it is pending).
func (x *sender) sendWindow() error {
	if x.acked < 0 {
		// DATA only after the client has accepted the options.
		if x.next == 0 {
			x.next = 1
			if _, err := x.conn.Write(x.oack); err != nil {
				return sendError(err)
			}
		}
		return nil
	}
	end := x.acked + x.window
	// fill finds the final block, so x.last can change inside the loop.
	for x.next <= end && (x.last < 0 || x.next <= x.last) {
		size, count, err := x.fill(x.next, int(min(end-x.next+1, int64(x.batch))))
		if err != nil {
			x.conn.Write(errorPacket(codeUndefined, "read error"))
			return err
		}
		if err := x.send(size, count); err != nil {
			return err
		}
		x.next += int64(count)
	}
	return nil
}

// fill lays out up to n DATA packets from block b on in x.buf and returns
// the bytes used and the packets made, fewer than n if the file ends.
func (x *sender) fill(b int64, n int) (size, count int, err error) {
	count, lastLen, err := x.src.readBlocks(b, n, x.buf)
	if err != nil {
		return 0, 0, fmt.Errorf("reading from block %d: %w", b, err)
	}
	slot := 4 + x.blksize
	for i := range count {
		binary.BigEndian.PutUint16(x.buf[i*slot:], opDATA)
		binary.BigEndian.PutUint16(x.buf[i*slot+2:], uint16(b+int64(i)))
	}
	if lastLen < x.blksize {
		x.last = b + int64(count) - 1
	}
	return (count-1)*slot + 4 + lastLen, count, nil
}

// send sends the count packets in x.buf[:size]: in one sendmsg when GSO
// works, else one by one. A kernel or device without UDP GSO fails the
// first attempt (EIO, EINVAL...); the transfer then stops trying.
func (x *sender) send(size, count int) error {
	if count > 1 && x.gso != nil {
		_, _, err := x.conn.WriteMsgUDP(x.buf[:size], x.gso, nil)
		if err == nil {
			return nil
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return sendError(err)
		}
		x.gso = nil
	}
	slot := 4 + x.blksize
	for i := range count {
		if _, err := x.conn.Write(x.buf[i*slot : min((i+1)*slot, size)]); err != nil {
			return sendError(err)
		}
	}
	return nil
}

// queuedGrace is how long await looks for packets already queued once its
// deadline has passed.
const queuedGrace = 10 * time.Millisecond

// await reads the client's packets until one moves the transfer on or the
// timeout passes. Duplicate ACKs do not extend the wait, so a client that
// repeats itself cannot hold the transfer open without making progress.
func (x *sender) await(ctx context.Context) (done, progress bool, err error) {
	x.conn.SetReadDeadline(time.Now().Add(x.timeout))
	// Checked after setting the deadline: a shutdown that came before has
	// already set its own, past deadline, or has ended ctx by now.
	if ctx.Err() != nil {
		return false, false, x.shutdown()
	}
	expired := false
	for {
		if expired {
			// A server short of CPU can pass its deadline with the ACK
			// already queued, and Go then reports the deadline without
			// reading: look again, briefly, before calling it a timeout.
			x.conn.SetReadDeadline(time.Now().Add(queuedGrace))
		}
		n, err := x.conn.Read(x.in)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return false, false, x.shutdown()
			case errors.Is(err, os.ErrDeadlineExceeded) && !expired:
				expired = true
				continue
			case errors.Is(err, os.ErrDeadlineExceeded):
				return false, false, nil
			default:
				return false, false, sendError(err)
			}
		}
		if n < 4 {
			continue
		}
		num := binary.BigEndian.Uint16(x.in[2:])
		switch binary.BigEndian.Uint16(x.in) {
		case opERROR:
			msg := errorMessage(x.in[:n])
			if num == codeOptionsRefused && x.acked < 0 {
				return false, false, fmt.Errorf("client refused the options (TFTP error 8: %s)", msg)
			}
			return false, false, fmt.Errorf("client sent TFTP error %d: %s", num, msg)
		case opACK:
			// The ACK's distance from the last one, in 16-bit arithmetic so
			// that it works across the rollover; valid ACKs name a block
			// that was sent and not yet acknowledged.
			delta := int64(uint16(num - uint16(x.acked)))
			if delta == 0 || delta > x.next-1-x.acked {
				continue
			}
			x.acked += delta
			if x.acked == x.last {
				return true, true, nil
			}
			if x.acked < x.next-1 {
				x.next = x.acked + 1 // the client lost the block after this one
			}
			return false, true, nil
		}
	}
}

// shutdown tells the client the server is going away.
func (x *sender) shutdown() error {
	x.conn.Write(errorPacket(codeUndefined, errShutdown.Error()))
	return errShutdown
}

// delivered is how many bytes of the file the client has acknowledged.
func (x *sender) delivered() int64 {
	if x.acked <= 0 {
		return 0
	}
	return x.src.offset(x.acked)
}

// sendError describes a failed send or receive on the transfer socket;
// ECONNREFUSED is how a connected UDP socket reports the client's ICMP
// "port unreachable", meaning it has gone.
func sendError(err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("client gone (port unreachable): %w", err)
	}
	return err
}

// blockSource produces the data of the file's blocks (numbered from 1).
type blockSource interface {
	// readBlocks puts blocks b, b+1... (at most n) into buf, which holds
	// n packets of 4+blksize bytes, each block after its packet's 4-byte
	// header. It returns how many blocks it filled and the length of the
	// last; fewer than n blocks, or a last one shorter than blksize, mean
	// the file has ended (the final block may be empty).
	readBlocks(b int64, n int, buf []byte) (count, lastLen int, err error)
	// offset is how many bytes of the file blocks 1..b hold; it is only
	// asked for blocks that have been read and are at most a window old.
	offset(b int64) int64
}

// octetSource reads blocks straight from the file by offset, so a resend
// needs no copy of the window.
type octetSource struct {
	f       *os.File
	blksize int
	end     int64 // where the final block ended, once read; -1 before
}

// readBlocks reads the whole run with one ReadAt into the tail of buf,
// then moves each block forward to its place after its header. A block's
// place never lies past the data of the blocks after it, so moving them
// in order overwrites nothing still to be moved.
func (s *octetSource) readBlocks(b int64, n int, buf []byte) (int, int, error) {
	bs, slot := s.blksize, 4+s.blksize
	off := (b - 1) * int64(bs)
	data := buf[4*n : n*slot]
	got, err := s.f.ReadAt(data, off)
	if err != nil && err != io.EOF {
		return 0, 0, err
	}
	count, lastLen := n, bs
	if got < len(data) {
		count, lastLen = got/bs+1, got%bs
		s.end = off + int64(got)
	}
	for i := range min(count, n-1) { // block n-1, if read, is in place already
		l := bs
		if i == count-1 {
			l = lastLen
		}
		copy(buf[i*slot+4:i*slot+4+l], data[i*bs:i*bs+l])
	}
	return count, lastLen, nil
}

func (s *octetSource) offset(b int64) int64 {
	if s.end >= 0 {
		return min(b*int64(s.blksize), s.end)
	}
	return b * int64(s.blksize)
}

// netasciiSource converts the file to netascii (RFC 764, as RFC 1350
// asks): LF becomes CR LF and CR becomes CR NUL. Blocks no longer sit at
// fixed file offsets, so it remembers where each block in flight starts,
// in a ring with room for one window plus the block after it: a resend
// only ever goes back to the first unacknowledged block.
type netasciiSource struct {
	f       *os.File
	blksize int
	marks   []mark // marks[b % len] is where block b starts
	scratch []byte
}

// mark is a position in the converted stream: the file offset and, when a
// block ended between the two bytes of a pair, the pair's second byte.
type mark struct {
	off     int64
	pending byte
	split   bool
}

func newNetasciiSource(f *os.File, blksize, window int) *netasciiSource {
	return &netasciiSource{f: f, blksize: blksize, marks: make([]mark, window+1), scratch: make([]byte, blksize)}
}

func (s *netasciiSource) readBlocks(b int64, n int, buf []byte) (int, int, error) {
	slot := 4 + s.blksize
	for i := range n {
		got, err := s.read(b+int64(i), buf[i*slot+4:(i+1)*slot])
		if err != nil {
			return 0, 0, err
		}
		if got < s.blksize {
			return i + 1, got, nil
		}
	}
	return n, s.blksize, nil
}

// read converts block b into p, which is blksize long, from the position
// remembered for it, and remembers where block b+1 starts.
func (s *netasciiSource) read(b int64, p []byte) (int, error) {
	m := s.marks[b%int64(len(s.marks))]
	out := 0
	if m.split {
		p[0] = m.pending
		out, m.split = 1, false
	}
	for out < len(p) {
		// Every file byte makes at most two output bytes, so this much
		// input always fills the block unless the file ends.
		n, err := s.f.ReadAt(s.scratch[:len(p)-out], m.off)
		if err != nil && err != io.EOF {
			return 0, err
		}
		for _, c := range s.scratch[:n] {
			if out == len(p) {
				break
			}
			m.off++
			var second byte
			switch c {
			case '\n':
				c, second = '\r', '\n'
			case '\r':
				second = 0
			default:
				p[out] = c
				out++
				continue
			}
			p[out] = c
			out++
			if out < len(p) {
				p[out] = second
				out++
			} else {
				m.pending, m.split = second, true
			}
		}
		if n == 0 || err == io.EOF {
			break // the end of the file: this is the final, short block
		}
	}
	s.marks[(b+1)%int64(len(s.marks))] = m
	return out, nil
}

func (s *netasciiSource) offset(b int64) int64 {
	return s.marks[(b+1)%int64(len(s.marks))].off
}

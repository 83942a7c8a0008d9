package tftp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// rrqPacket builds a read request with option name/value pairs.
func rrqPacket(name, mode string, opts ...string) []byte {
	p := []byte{0, opRRQ}
	for _, s := range append([]string{name, mode}, opts...) {
		p = append(p, s...)
		p = append(p, 0)
	}
	return p
}

func ackPacket(block uint16) []byte { return []byte{0, opACK, byte(block >> 8), byte(block)} }

// rawClient speaks TFTP packet by packet, for tests that need to control
// or inspect every packet, which no real client does on request.
type rawClient struct {
	t      testing.TB
	conn   *net.UDPConn
	server *net.UDPAddr // the request port, then the transfer's port once it answered
	tid    *net.UDPAddr
	buf    []byte
}

func newRawClient(t testing.TB, addr string) *rawClient {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ua.IP})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Room for a whole window of large blocks (Linux caps this at
	// net.core.rmem_max and doubles it).
	conn.SetReadBuffer(4 << 20)
	return &rawClient{t: t, conn: conn, server: ua, buf: make([]byte, 65536)}
}

// send writes p to the transfer's port, or to the request port before the
// server has answered.
func (c *rawClient) send(p []byte) {
	c.t.Helper()
	to := c.server
	if c.tid != nil {
		to = c.tid
	}
	if _, err := c.conn.WriteToUDP(p, to); err != nil {
		c.t.Fatal(err)
	}
}

// recvTimeout bounds every wait for a packet the server must send.
const recvTimeout = 5 * time.Second

// recv returns the next packet (a copy) from the server, failing the test
// if none comes: every call site expects one.
func (c *rawClient) recv() []byte {
	c.t.Helper()
	p, err := c.tryRecv(recvTimeout)
	if err != nil {
		c.t.Fatalf("waiting for a packet from the server: %v", err)
	}
	return p
}

func (c *rawClient) tryRecv(timeout time.Duration) ([]byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	n, from, err := c.conn.ReadFromUDP(c.buf)
	if err != nil {
		return nil, err
	}
	if c.tid == nil {
		c.tid = from
	} else if from.String() != c.tid.String() {
		return nil, fmt.Errorf("packet from %s, not the transfer's port %s", from, c.tid)
	}
	return append([]byte(nil), c.buf[:n]...), nil
}

// expectData reads one packet and checks it is DATA block num with size
// bytes of payload.
func (c *rawClient) expectData(num uint16, size int) []byte {
	c.t.Helper()
	p := c.recv()
	if len(p) < 4 || binary.BigEndian.Uint16(p) != opDATA || binary.BigEndian.Uint16(p[2:]) != num || len(p)-4 != size {
		c.t.Fatalf("got %s, want DATA block %d with %d bytes", describe(p), num, size)
	}
	return p[4:]
}

// describe prints a packet for failure messages.
func describe(p []byte) string {
	if len(p) < 4 {
		return fmt.Sprintf("short packet %x", p)
	}
	op, num := binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:])
	switch op {
	case opDATA:
		return fmt.Sprintf("DATA block %d (%d bytes)", num, len(p)-4)
	case opERROR:
		return fmt.Sprintf("ERROR %d %q", num, errorMessage(p))
	case opOACK:
		return fmt.Sprintf("OACK %q", p[2:])
	}
	return fmt.Sprintf("opcode %d: %x", op, p)
}

// getOpts configure windowGet.
type getOpts struct {
	blksize int // 0: do not ask
	window  int // 0: do not ask
	mode    string
	timeout time.Duration // per wait; default 1s
	retries int           // default 5
}

// windowGet is a small RFC 7440 client: it asks for blksize and
// windowsize, ACKs every window's last block, and on a gap ACKs the last
// block it has in order (once), as RFC 7440 section 4 suggests; old
// duplicates make it repeat its last ACK once. It returns the bytes
// written to w and the OACK's options.
func windowGet(addr, name string, o getOpts, w io.Writer) (int64, map[string]string, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return 0, nil, err
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ua.IP})
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	if o.mode == "" {
		o.mode = "octet"
	}
	if o.timeout == 0 {
		o.timeout = time.Second
	}
	if o.retries == 0 {
		o.retries = 5
	}
	var opts []string
	if o.blksize != 0 {
		opts = append(opts, "blksize", strconv.Itoa(o.blksize))
	}
	if o.window != 0 {
		opts = append(opts, "windowsize", strconv.Itoa(o.window))
	}
	req := rrqPacket(name, o.mode, opts...)
	if _, err := conn.WriteToUDP(req, ua); err != nil {
		return 0, nil, err
	}
	var (
		tid          *net.UDPAddr
		oack         map[string]string
		blksize      = defaultBlockSize
		window       = 1
		got          int64 // blocks received in order
		written      int64
		sinceAck     int
		gapAcked     bool
		dupAcked     bool
		timeouts     int
		buf          = make([]byte, 65536)
		sendAck      = func(b int64) { conn.WriteToUDP(ackPacket(uint16(b)), tid) }
		maxPackets   = 1 << 24 // bounds the loop whatever the server does
		errTooManyTO = errors.New("too many timeouts")
	)
	for range maxPackets {
		conn.SetReadDeadline(time.Now().Add(o.timeout))
		n, from, err := conn.ReadFromUDP(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if timeouts++; timeouts > o.retries {
				return written, oack, fmt.Errorf("%w after %d blocks", errTooManyTO, got)
			}
			if tid == nil {
				conn.WriteToUDP(req, ua)
			} else {
				sendAck(got)
			}
			continue
		}
		if err != nil {
			return written, oack, err
		}
		if tid == nil {
			tid = from
		} else if from.String() != tid.String() || n < 4 {
			continue
		}
		p := buf[:n]
		num := binary.BigEndian.Uint16(p[2:])
		switch binary.BigEndian.Uint16(p) {
		case opERROR:
			return written, oack, fmt.Errorf("TFTP error %d: %s", num, errorMessage(p))
		case opOACK:
			if got != 0 {
				continue
			}
			if oack != nil { // a resent OACK: our ACK 0 was lost
				sendAck(0)
				continue
			}
			r, err := parseRequest(append([]byte{0, opRRQ, 'f', 0, 'm', 0}, p[2:]...))
			if err != nil {
				return 0, nil, fmt.Errorf("bad OACK %x", p)
			}
			oack = map[string]string{}
			for _, o := range r.opts {
				oack[o.name] = o.value
			}
			if v, ok := oack["blksize"]; ok {
				blksize, _ = strconv.Atoi(v)
			}
			if v, ok := oack["windowsize"]; ok {
				window, _ = strconv.Atoi(v)
			}
			timeouts = 0
			sendAck(0)
		case opDATA:
			want := uint16(got + 1)
			switch {
			case num == want:
				if _, err := w.Write(p[4:]); err != nil {
					return written, oack, err
				}
				written += int64(n - 4)
				got++
				sinceAck++
				timeouts, gapAcked, dupAcked = 0, false, false
				if n-4 < blksize {
					sendAck(got)
					return written, oack, nil
				}
				if sinceAck >= window {
					sendAck(got)
					sinceAck = 0
				}
			case uint16(num-want) < 0x8000: // ahead: the blocks before it were lost
				if !gapAcked {
					sendAck(got)
					gapAcked, sinceAck = true, 0
				}
			default: // a block we already have: the server missed our ACK
				if !dupAcked {
					sendAck(got)
					dupAcked, sinceAck = true, 0
				}
			}
		}
	}
	return written, oack, errors.New("packet limit reached")
}

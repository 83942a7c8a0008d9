package tftp

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWindowMechanics drives a windowed transfer packet by packet through
// RFC 7440's cases: a full window then a wait, an ACK inside the window
// (resume after it), duplicate and stale ACKs (ignored), and a timeout
// (resend from the first unacknowledged block). Each expectation is about
// which packet comes next, never about time.
func TestWindowMechanics(t *testing.T) {
	dir := t.TempDir()
	writeRandomFile(t, dir, "f.bin", 100*512, 9) // 100 full blocks and an empty 101st
	// A long timeout, so that no retransmission interferes, except in the
	// timeout case, which has its own server.
	ts := startServer(t, dir, Options{Timeout: 10 * time.Second}, "")
	window := func(c *rawClient, from, to int) {
		t.Helper()
		for b := from; b <= to; b++ {
			c.expectData(uint16(b), 512)
		}
	}
	start := func(t *testing.T, ts *testServer) *rawClient {
		c := newRawClient(t, ts.addr)
		c.send(rrqPacket("f.bin", "octet", "windowsize", "8"))
		if p := c.recv(); string(p) != "\x00\x06windowsize\x008\x00" {
			t.Fatalf("got %s, want OACK windowsize 8", describe(p))
		}
		c.send(ackPacket(0))
		window(c, 1, 8)
		return c
	}

	t.Run("window by window to the end", func(t *testing.T) {
		c := start(t, ts)
		for b := 8; b < 96; b += 8 {
			c.send(ackPacket(uint16(b)))
			window(c, b+1, b+8)
		}
		c.send(ackPacket(96))
		window(c, 97, 100)
		c.expectData(101, 0) // the size is a multiple of 512: an empty block ends it
		c.send(ackPacket(101))
		tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Remote.Port() == uint16(c.conn.LocalAddr().(*net.UDPAddr).Port) })
		if tr.Err != nil || tr.Bytes != 100*512 {
			t.Errorf("reported %+v", tr)
		}
	})
	t.Run("ACK inside the window resumes after it", func(t *testing.T) {
		c := start(t, ts)
		c.send(ackPacket(3)) // blocks 4..8 lost
		window(c, 4, 11)
		c.send(ackPacket(11))
		window(c, 12, 19)
		c.send(errorPacket(0, "done"))
	})
	t.Run("duplicate and stale ACKs are ignored", func(t *testing.T) {
		c := start(t, ts)
		c.send(ackPacket(0)) // duplicate of the OACK's ACK
		c.send(ackPacket(8))
		window(c, 9, 16)
		c.send(ackPacket(8))  // duplicate
		c.send(ackPacket(5))  // stale
		c.send(ackPacket(99)) // never sent
		c.send(ackPacket(16))
		window(c, 17, 24) // nothing resent in between
		c.send(errorPacket(0, "done"))
	})
	t.Run("timeout resends from the first unacknowledged block", func(t *testing.T) {
		ts := startServer(t, dir, Options{Timeout: 50 * time.Millisecond, Retries: 3}, "")
		c := start(t, ts)
		window(c, 1, 8) // no ACK: the whole window again
		c.send(ackPacket(5))
		window(c, 6, 13)
		window(c, 6, 13) // still no ACK for it
		c.send(ackPacket(13))
		window(c, 14, 21)
		c.send(errorPacket(0, "done"))
	})
}

// TestNoSorcerersApprentice ACKs every block twice in lock-step. A server
// that answered duplicate ACKs would send every later block twice (RFC
// 1123 4.2.3.1); this one must send each block exactly once.
func TestNoSorcerersApprentice(t *testing.T) {
	dir := t.TempDir()
	writeRandomFile(t, dir, "f.bin", 50*512+100, 10)
	ts := startServer(t, dir, Options{Timeout: 10 * time.Second}, "")
	c := newRawClient(t, ts.addr)
	c.send(rrqPacket("f.bin", "octet"))
	for b := 1; b <= 51; b++ {
		size := 512
		if b == 51 {
			size = 100
		}
		c.expectData(uint16(b), size)
		c.send(ackPacket(uint16(b)))
		c.send(ackPacket(uint16(b)))
	}
	tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Path == "f.bin" })
	if tr.Err != nil {
		t.Fatalf("reported %v", tr.Err)
	}
	// Had the server answered a duplicate, a block would be waiting now.
	if p, err := c.tryRecv(time.Millisecond); err == nil {
		t.Errorf("extra packet %s", describe(p))
	}
}

// lossPlan drops, on their first transmission, the DATA blocks listed and
// the n-th ACKs (counting distinct ACK numbers in the order they pass),
// since which block numbers get ACKed depends on where windows fall.
func lossPlan(data []uint16, nthAcks []int) dropFunc {
	var acks atomic.Int64
	return func(toClient bool, op, block uint16, first bool) bool {
		if !first {
			return false
		}
		if toClient && op == opDATA {
			for _, d := range data {
				if d == block {
					return true
				}
			}
		}
		if !toClient && op == opACK {
			n := int(acks.Add(1))
			for _, a := range nthAcks {
				if a == n {
					return true
				}
			}
		}
		return false
	}
}

// TestWindowLoss downloads through the lossy proxy with windowsize 16 and
// drops DATA packets (single and consecutive, at the start, middle and end
// of windows) and ACKs. The transfer must complete byte for byte with our
// RFC 7440 client and with atftp, and the server must not have needed
// more than its retry budget per loss.
func TestWindowLoss(t *testing.T) {
	fx := newFixture(t)
	plan := func() dropFunc {
		return lossPlan([]uint16{1, 17, 100, 101, 102, 500, 1000, 1016, 2142}, []int{3, 40, 41, 90})
	}
	clients := []struct {
		name string
		get  func(t *testing.T, addr, out string) (string, error)
	}{
		{"RFC 7440 test client", func(t *testing.T, addr, out string) (string, error) {
			f, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, oack, err := windowGet(addr, "big.bin", getOpts{blksize: 1468, window: 16, timeout: 500 * time.Millisecond}, f)
			if err == nil && oack["windowsize"] != "16" {
				t.Errorf("OACK %v, want windowsize 16", oack)
			}
			return "", err
		}},
		{"atftp", func(t *testing.T, addr, out string) (string, error) {
			host, port, _ := net.SplitHostPort(addr)
			return runClient(t, clientTimeout, requireBinary(t, "atftp", "atftp"),
				"--option", "blksize 1468", "--option", "windowsize 16", "--get", "-r", "big.bin", "-l", out, host, port)
		}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // the waits are timeouts, not CPU
			ts := startServer(t, fx.root, Options{Timeout: 200 * time.Millisecond, Retries: 10}, "")
			px := startLossyProxy(t, ts.addr, plan())
			out := filepath.Join(t.TempDir(), "out")
			start := time.Now()
			if o, err := c.get(t, px.addr, out); err != nil {
				t.Fatalf("download through a lossy link: %v\n%.3000s", err, o)
			}
			if sum, n := fileSHA(t, out); n != bigSize || sum != fx.bigSHA {
				t.Fatalf("got %d bytes sha256 %s, want %d bytes %s", n, sum, bigSize, fx.bigSHA)
			}
			if d := px.dropped.Load(); d < 10 {
				t.Errorf("the proxy dropped only %d packets; the test did not test loss", d)
			}
			tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Path == "big.bin" && tr.Start.After(start) })
			if tr.Err != nil || tr.Bytes != bigSize {
				t.Errorf("reported %+v", tr)
			}
			t.Logf("%d packets dropped, download took %v", px.dropped.Load(), time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestBlockRollover sends more than 65535 blocks, so block numbers wrap
// from 65535 to 0, with blksize 8 to keep the file small: windowed with
// our client and atftp, lock-step with curl.
func TestBlockRollover(t *testing.T) {
	const size = 70000*8 + 3 // 70001 blocks
	dir := t.TempDir()
	sha := writeRandomFile(t, dir, "f.bin", size, 11)
	ts := startServer(t, dir, Options{WindowSize: 64}, "")
	check := func(t *testing.T, out string) {
		t.Helper()
		if sum, n := fileSHA(t, out); n != size || sum != sha {
			t.Fatalf("got %d bytes sha256 %s, want %d bytes %s", n, sum, size, sha)
		}
		tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Path == "f.bin" && tr.Err == nil })
		if tr.Bytes != size {
			t.Errorf("reported %+v", tr)
		}
		ts.rec.mu.Lock()
		ts.rec.ts = nil
		ts.rec.mu.Unlock()
	}
	t.Run("test client, window 64", func(t *testing.T) {
		var buf bytes.Buffer
		if _, _, err := windowGet(ts.addr, "f.bin", getOpts{blksize: 8, window: 64}, &buf); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out")
		os.WriteFile(out, buf.Bytes(), 0o644)
		check(t, out)
	})
	t.Run("atftp, window 64", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		if o, err := runClient(t, clientTimeout, requireBinary(t, "atftp", "atftp"), "--option", "blksize 8", "--option", "windowsize 64",
			"--get", "-r", "f.bin", "-l", out, ts.host, strconv.Itoa(ts.port)); err != nil {
			t.Fatalf("atftp: %v\n%.2000s", err, o)
		}
		check(t, out)
	})
	t.Run("curl, lock-step", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		if o, err := runClient(t, clientTimeout, requireBinary(t, "curl", "curl"), "-sS", "--tftp-blksize", "8", "-o", out,
			"tftp://"+ts.addr+"/f.bin"); err != nil {
			t.Fatalf("curl: %v\n%s", err, o)
		}
		check(t, out)
	})
}

// TestRetransmittedRequest sends the same RRQ twice from one port before
// answering: the second is a retransmission and must not start a second
// transfer (which would answer from a second port).
func TestRetransmittedRequest(t *testing.T) {
	fx := newFixture(t)
	ts := startServer(t, fx.root, Options{Timeout: 10 * time.Second}, "")
	c := newRawClient(t, ts.addr)
	c.send(rrqPacket("sub/inner.bin", "octet"))
	c.send(rrqPacket("sub/inner.bin", "octet"))
	data := c.expectData(1, 512)
	c.send(ackPacket(1))
	for b := 2; len(data) < 4000; b++ {
		data = append(data, c.expectData(uint16(b), min(512, 4000-len(data)))...)
		c.send(ackPacket(uint16(b)))
	}
	tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Path == "sub/inner.bin" })
	if tr.Err != nil {
		t.Fatalf("reported %v", tr.Err)
	}
	// A second transfer would have sent its block 1 at once; tryRecv
	// fails on a packet from another port too.
	if p, err := c.tryRecv(time.Millisecond); err == nil || strings.Contains(err.Error(), "not the transfer's port") {
		t.Errorf("a second transfer answered: %s %v", describe(p), err)
	}
	ts.rec.mu.Lock()
	defer ts.rec.mu.Unlock()
	n := 0
	for _, tr := range ts.rec.ts {
		if tr.Path == "sub/inner.bin" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d transfers reported, want 1", n)
	}
}

// TestMaxTransfers fills Options.MaxTransfers with stalled transfers; a
// further request is dropped, then served once a slot is free again.
func TestMaxTransfers(t *testing.T) {
	fx := newFixture(t)
	ts := startServer(t, fx.root, Options{MaxTransfers: 2, Timeout: 100 * time.Millisecond, Retries: 1}, "")
	for range 2 {
		c := newRawClient(t, ts.addr)
		c.send(rrqPacket("big.bin", "octet"))
		c.expectData(1, 512) // and never ACK
	}
	late := newRawClient(t, ts.addr)
	late.send(rrqPacket("small.txt", "octet"))
	// The stalled transfers give up after (Retries+1)*Timeout.
	ts.rec.waitN(t, 2, func(tr Transfer) bool { return tr.Path == "big.bin" && tr.Err != nil })
	// Had the late request been served, its block 1 would have been
	// waiting since before the stalled transfers timed out.
	if p, err := late.tryRecv(time.Millisecond); err == nil {
		t.Fatalf("request above MaxTransfers was answered: %s", describe(p))
	}
	late.send(rrqPacket("small.txt", "octet")) // the client's retransmission
	if got := late.expectData(1, 6); string(got) != "hello\n" {
		t.Errorf("got %q", got)
	}
	late.send(ackPacket(1))
}

// TestNetascii checks the netascii conversion (LF to CR LF, CR to CR NUL)
// with tftp-hpa, which converts back, so the round trip must give the
// original bytes; and block by block with the raw client, with blocks of 8
// bytes so that pairs straddle block boundaries, and resends from inside
// a window, which restart the conversion from a remembered position.
func TestNetascii(t *testing.T) {
	dir := t.TempDir()
	text := []byte("line one\nline two\r\nbare CR\r here\n\n\r\r\x00nul\nend")
	text = append(text, bytes.Repeat([]byte("0123456\n"), 300)...)
	text = append(text, '\r') // a pair split across the last block
	if err := os.WriteFile(filepath.Join(dir, "t.txt"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, c := range text {
		switch c {
		case '\n':
			want = append(want, '\r', '\n')
		case '\r':
			want = append(want, '\r', 0)
		default:
			want = append(want, c)
		}
	}
	ts := startServer(t, dir, Options{Timeout: 10 * time.Second}, "")

	t.Run("tftp-hpa round trip", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		o, err := runClient(t, clientTimeout, requireBinary(t, "tftp", "tftp-hpa"), "-m", "netascii", ts.host, strconv.Itoa(ts.port), "-c", "get", "t.txt", out)
		if err != nil {
			t.Fatalf("tftp: %v\n%s", err, o)
		}
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, text) {
			t.Errorf("round trip changed the file:\n got %q\nwant %q", got[:min(len(got), 80)], text[:80])
		}
		tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Path == "t.txt" })
		if tr.Err != nil || tr.Bytes != int64(len(text)) {
			t.Errorf("reported %+v, want %d bytes", tr, len(text))
		}
	})
	t.Run("blocks on the wire", func(t *testing.T) {
		c := newRawClient(t, ts.addr)
		c.send(rrqPacket("t.txt", "NetASCII", "blksize", "8", "windowsize", "4"))
		if p := c.recv(); string(p) != "\x00\x06blksize\x008\x00windowsize\x004\x00" {
			t.Fatalf("got %s", describe(p))
		}
		c.send(ackPacket(0))
		var got []byte
		acked := 0
		for b := 1; ; {
			size := min(8, len(want)-(b-1)*8)
			d := c.expectData(uint16(b), size)
			if len(got) == (b-1)*8 {
				got = append(got, d...)
			} else if !bytes.Equal(got[(b-1)*8:(b-1)*8+len(d)], d) {
				t.Fatalf("block %d resent with different data", b)
			}
			if size < 8 {
				c.send(ackPacket(uint16(b)))
				break
			}
			if b == acked+4 {
				// Every third window, pretend the last two blocks were
				// lost: the server must regenerate them identically.
				if b%3 == 0 {
					acked = b - 2
				} else {
					acked = b
				}
				c.send(ackPacket(uint16(acked)))
				b = acked + 1
				continue
			}
			b++
		}
		if !bytes.Equal(got, want) {
			t.Errorf("netascii stream differs:\n got %q\nwant %q", got[:min(80, len(got))], want[:80])
		}
	})
}

// TestWindowNotImposed checks that a client that does not ask for a
// window gets lock-step even when the server allows large windows.
func TestWindowNotImposed(t *testing.T) {
	fx := newFixture(t)
	ts := startServer(t, fx.root, Options{WindowSize: 64}, "")
	c := newRawClient(t, ts.addr)
	c.send(rrqPacket("big.bin", "octet", "blksize", "1468"))
	if p := c.recv(); string(p) != "\x00\x06blksize\x001468\x00" {
		t.Fatalf("got %s", describe(p))
	}
	c.send(ackPacket(0))
	c.expectData(1, 1468)
	c.send(ackPacket(0)) // duplicate: a window would have sent block 2 by now
	c.send(ackPacket(1))
	c.expectData(2, 1468)
	c.send(errorPacket(0, "done"))
}

// TestMTUCap checks the blksize cap from the MTU of the interface a
// request arrives on. It re-runs itself in a network namespace of its own
// (unshare; rootless with a user namespace) whose loopback gets an
// Ethernet MTU of 1500, where the largest blksize is 1500-32 over IPv4
// and 1500-52 over IPv6.
func TestMTUCap(t *testing.T) {
	const inside = "STRATA_TFTP_TEST_IN_NETNS"
	if os.Getenv(inside) != "1" {
		args := []string{"-Urn"}
		if os.Geteuid() == 0 {
			args = []string{"-n"}
		}
		args = append(args, os.Args[0], "-test.run=^TestMTUCap$", "-test.count=1", "-test.v")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "unshare", args...)
		cmd.Env = append(os.Environ(), inside+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the test in a network namespace (unshare %v): %v\n%s", args[0], err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestMTUCap") {
			t.Fatalf("the test in a network namespace ran nothing:\n%s", out) // a renamed test would pass vacuously
		}
		t.Logf("in a network namespace:\n%s", out)
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "mtu", "1500", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo: %v\n%s", err, out)
	}
	dir := t.TempDir()
	writeRandomFile(t, dir, "f.bin", 10000, 12)
	for _, tc := range []struct {
		host string
		want int
	}{{"127.0.0.1", 1468}, {"::1", 1448}} {
		t.Run(tc.host, func(t *testing.T) {
			ts := startServer(t, dir, Options{}, net.JoinHostPort(tc.host, "0"))
			c := newRawClient(t, ts.addr)
			c.send(rrqPacket("f.bin", "octet", "blksize", "65464"))
			if p, want := c.recv(), "\x00\x06blksize\x00"+strconv.Itoa(tc.want)+"\x00"; string(p) != want {
				t.Fatalf("got %s, want OACK %q", describe(p), want)
			}
			c.send(ackPacket(0))
			c.expectData(1, tc.want)
			c.send(errorPacket(0, "done"))
		})
	}
}

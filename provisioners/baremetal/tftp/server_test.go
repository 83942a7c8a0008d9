package tftp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pintftp "github.com/pin/tftp/v3"
)

// TestPinClientOptions downloads with pin/tftp's own client (lock-step, no
// windowsize) across blksize values and server window limits, checking
// data, the tsize the server reported and the transfer the log hook saw.
func TestPinClientOptions(t *testing.T) {
	fx := newFixture(t)
	for _, window := range []int{1, 16} {
		// pin's client does not ask for a window, so the server's
		// WindowSize must not change anything for it.
		ts := startServer(t, fx.root, Options{WindowSize: window}, "")
		for _, blksize := range []int{0, 1468, 8192, 65464} {
			for _, tsize := range []bool{false, true} {
				t.Run(fmt.Sprintf("window=%d/blksize=%d/tsize=%v", window, blksize, tsize), func(t *testing.T) {
					start := time.Now()
					data, size, err := pinGet(ts.addr, "/big.bin", blksize, tsize)
					if err != nil {
						t.Fatalf("download: %v", err)
					}
					if len(data) != bigSize || shaHex(data) != fx.bigSHA {
						t.Fatalf("got %d bytes sha256 %s, want %d bytes %s", len(data), shaHex(data), bigSize, fx.bigSHA)
					}
					switch {
					case tsize && size != bigSize:
						t.Errorf("tsize = %d, want %d", size, bigSize)
					case !tsize && size != -1:
						t.Errorf("tsize = %d without asking for it", size)
					}
					tr := ts.rec.wait(t, func(tr Transfer) bool {
						return tr.Filename == "/big.bin" && tr.Start.After(start)
					})
					if tr.Err != nil || tr.Bytes != bigSize || tr.Size != bigSize || tr.Path != "big.bin" || tr.Write ||
						tr.Remote.Addr().String() != "127.0.0.1" || tr.Duration <= 0 {
						t.Errorf("reported %+v", tr)
					}
				})
			}
		}
	}
}

// TestHostileNames sends names that try to leave the root, raw, with
// pin/tftp's client, and checks the TFTP error code, that no byte of the
// secret arrives, and what the hook reports. Allowed spellings of files in
// the root are in the same table.
func TestHostileNames(t *testing.T) {
	fx := newFixture(t)
	ts := startServer(t, fx.root, Options{}, "")
	small := []byte("hello\n")
	tests := []struct {
		name     string
		wantCode int    // 0: served
		want     []byte // when served
	}{
		{"../outside/secret", 2, nil},
		{"../etc/passwd", 2, nil},
		{"/../../etc/passwd", 2, nil},
		{"sub/../../outside/secret", 2, nil},
		{"sub/../small.txt", 2, nil}, // stays inside, still refused: no ".." at all
		{`..\outside\secret`, 2, nil},
		{`\..\..\etc\passwd`, 2, nil},
		{"passwd", 2, nil},        // symlink to /etc/passwd
		{"escape", 2, nil},        // absolute symlink out of the root
		{"relescape", 2, nil},     // relative symlink out of the root
		{"escdir/secret", 2, nil}, // symlinked directory out of the root
		{"/escdir/../small.txt", 2, nil},
		{"fifo", 2, nil}, // would block open(2) if not refused first
		{"sub", 2, nil},  // a directory
		{"/", 2, nil},
		{"", 2, nil},
		// A NUL ends the name on the wire: the server judges what comes
		// before it, and the rest is read as the mode. None may leak.
		{"../etc/passwd\x00octet", 2, nil},
		{"\x00/etc/passwd", 2, nil},
		{"small.txt\x00../../etc/passwd", 0, small},
		{"/etc/passwd", 1, nil}, // means <root>/etc/passwd, which does not exist
		{"missing.bin", 1, nil},
		{"small.txt", 0, small},
		{"/small.txt", 0, small},
		{"//small.txt", 0, small},
		{"./small.txt", 0, small},
		{`\small.txt`, 0, small},
		{fx.root + "/small.txt", 0, small}, // a full server-side path
		{"alias", 0, nil},                  // symlink that stays inside
		{"sub/inner.bin", 0, nil},
		{`sub\inner.bin`, 0, nil},
	}
	inner, err := os.ReadFile(filepath.Join(fx.root, "sub/inner.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			if tc.wantCode == 0 && tc.want == nil {
				tc.want = inner
			}
			start := time.Now()
			data, _, err := pinGet(ts.addr, tc.name, 0, false)
			if bytes.Contains(data, fx.secretB) || bytes.Contains(data, []byte("root:")) {
				t.Fatalf("served a file from outside the root: %q", data)
			}
			if tc.wantCode == 0 {
				if err != nil || !bytes.Equal(data, tc.want) {
					t.Fatalf("got %q, %v; want %q", data, err, tc.want)
				}
				return
			}
			if code := tftpErrorCode(err); code != tc.wantCode {
				t.Fatalf("error %v (code %d), want TFTP error code %d", err, code, tc.wantCode)
			}
			if len(data) != 0 {
				t.Errorf("received %d bytes with the error", len(data))
			}
			wireName, _, _ := strings.Cut(tc.name, "\x00")
			tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Filename == wireName && tr.Start.After(start) })
			wantErr := fs.ErrPermission
			if tc.wantCode == 1 {
				wantErr = fs.ErrNotExist
			}
			if !errors.Is(tr.Err, wantErr) || tr.Bytes != 0 || !tr.Remote.Addr().IsLoopback() {
				t.Errorf("reported %+v, want an error wrapping %v", tr, wantErr)
			}
		})
	}
}

// TestWriteRefused checks that write requests get TFTP error 2 and that
// nothing is created in the root.
func TestWriteRefused(t *testing.T) {
	fx := newFixture(t)
	ts := startServer(t, fx.root, Options{}, "")
	for _, name := range []string{"new.bin", "small.txt", "../outside/new"} {
		c, err := pintftp.NewClient(ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetTimeout(2 * time.Second)
		start := time.Now()
		rf, err := c.Send(name, "octet")
		if err == nil {
			_, err = rf.ReadFrom(strings.NewReader("overwrite"))
		}
		if code := tftpErrorCode(err); code != 2 {
			t.Errorf("write %q: %v (code %d), want TFTP error code 2", name, err, code)
		}
		tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Write && tr.Filename == name && tr.Start.After(start) })
		if !errors.Is(tr.Err, fs.ErrPermission) {
			t.Errorf("reported %+v, want a permission error", tr)
		}
	}
	for _, p := range []string{filepath.Join(fx.root, "new.bin"), filepath.Join(filepath.Dir(fx.root), "outside", "new")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a refused write (err %v)", p, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(fx.root, "small.txt")); string(b) != "hello\n" {
		t.Errorf("small.txt changed to %q", b)
	}
}

// TestConcurrentDownloads runs 50 clients at once against one server and
// checks every copy of the 3 MB file: pin/tftp's lock-step client, and our
// RFC 7440 test client with windowsize 16.
func TestConcurrentDownloads(t *testing.T) {
	const clients = 50
	fx := newFixture(t)
	for _, window := range []int{1, 16} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) {
			ts := startServer(t, fx.root, Options{}, "")
			errs := make(chan error, clients)
			var wg sync.WaitGroup
			start := time.Now()
			for i := range clients {
				wg.Go(func() {
					var data []byte
					size, err := int64(bigSize), error(nil)
					if window == 1 {
						data, size, err = pinGet(ts.addr, "big.bin", 1468, true)
					} else {
						var buf bytes.Buffer
						_, _, err = windowGet(ts.addr, "big.bin", getOpts{blksize: 1468, window: window, timeout: 2 * time.Second}, &buf)
						data = buf.Bytes()
					}
					switch {
					case err != nil:
						errs <- fmt.Errorf("client %d: %w", i, err)
					case size != bigSize || len(data) != bigSize || shaHex(data) != fx.bigSHA:
						errs <- fmt.Errorf("client %d: got %d bytes (tsize %d) sha256 %s", i, len(data), size, shaHex(data))
					}
				})
			}
			finished := make(chan struct{})
			go func() { wg.Wait(); close(finished) }()
			select {
			case <-finished:
			case <-time.After(120 * time.Second):
				// The clients give up on their own after 6 timeouts of 2 s
				// each at most, so this only fires if something hangs.
				t.Fatalf("%d downloads not done after 120s", clients)
			}
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			el := time.Since(start)
			t.Logf("%d x 3 MB in %v: %.1f MB/s total", clients, el.Round(time.Millisecond), float64(clients*bigSize)/1e6/el.Seconds())
		})
	}
}

// rawRRQ is a minimal TFTP client for the shutdown tests: it needs to stall
// and to ACK slowly, which no real client does on request.
type rawRRQ struct {
	conn   *net.UDPConn
	server *net.UDPAddr // becomes the transfer's port after the first reply
}

func newRawRRQ(t *testing.T, addr, name string) *rawRRQ {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req := append([]byte{0, 1}, name...)
	req = append(req, 0)
	req = append(req, "octet"...)
	req = append(req, 0)
	if _, err := conn.WriteToUDP(req, ua); err != nil {
		t.Fatal(err)
	}
	return &rawRRQ{conn: conn, server: ua}
}

// next reads one packet and returns its opcode, block/error code and
// payload.
func (r *rawRRQ) next(timeout time.Duration) (op, num uint16, payload []byte, err error) {
	buf := make([]byte, 1024)
	r.conn.SetReadDeadline(time.Now().Add(timeout))
	n, from, err := r.conn.ReadFromUDP(buf)
	if err != nil {
		return 0, 0, nil, err
	}
	if n < 4 {
		return 0, 0, nil, fmt.Errorf("short packet %x", buf[:n])
	}
	r.server = from
	return binary.BigEndian.Uint16(buf), binary.BigEndian.Uint16(buf[2:]), buf[4:n], nil
}

func (r *rawRRQ) ack(block uint16) error {
	_, err := r.conn.WriteToUDP([]byte{0, 4, byte(block >> 8), byte(block)}, r.server)
	return err
}

// TestShutdown cancels the context while one client is mid-download and
// ACKing slowly and another has stopped ACKing. Serve must return promptly,
// the live client must get a TFTP error, and the hook must report both
// transfers as failed.
func TestShutdown(t *testing.T) {
	fx := newFixture(t)
	opts := Options{Timeout: 200 * time.Millisecond, Retries: 2}
	ts := startServer(t, fx.root, opts, "")

	stalled := newRawRRQ(t, ts.addr, "big.bin")
	if op, block, _, err := stalled.next(2 * time.Second); err != nil || op != 3 || block != 1 {
		t.Fatalf("stalled client: first packet op %d block %d err %v", op, block, err)
	}

	live := newRawRRQ(t, ts.addr, "big.bin")
	for want := uint16(1); want <= 5; want++ {
		op, block, _, err := live.next(2 * time.Second)
		if err != nil || op != 3 || block != want {
			t.Fatalf("live client: op %d block %d err %v, want DATA %d", op, block, err, want)
		}
		live.ack(block)
	}

	stopped := make(chan struct{})
	start := time.Now()
	go func() { ts.stop(); close(stopped) }()

	// Keep ACKing until the server says it is shutting down, for at most
	// 200 packets and 5 s.
	var gotErr string
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline) && gotErr == ""; i++ {
		op, num, payload, err := live.next(time.Second)
		if err != nil {
			t.Fatalf("live client: %v before any TFTP error", err)
		}
		switch op {
		case 3:
			time.Sleep(5 * time.Millisecond)
			live.ack(num)
		case 5:
			gotErr = fmt.Sprintf("code %d: %s", num, bytes.TrimRight(payload, "\x00"))
		}
	}
	if !strings.Contains(gotErr, "server shutting down") {
		t.Errorf("live client got %q, want a TFTP error saying the server is shutting down", gotErr)
	}

	// The stalled transfer ends after (Retries+1)*Timeout = 600ms.
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s of cancel")
	}
	t.Logf("Serve returned %v after cancel", time.Since(start).Round(time.Millisecond))

	var failed int
	ts.rec.mu.Lock()
	for _, tr := range ts.rec.ts {
		if tr.Path == "big.bin" {
			if tr.Err == nil || tr.Bytes >= bigSize {
				t.Errorf("interrupted transfer reported as %+v", tr)
			}
			failed++
		}
	}
	ts.rec.mu.Unlock()
	if failed != 2 {
		t.Errorf("%d big.bin transfers reported, want 2", failed)
	}
}

// TestServeClosesConn checks that Serve returns nil when its context ends
// and leaves the connection closed, and that ListenAndServe does the same.
func TestServeClosesConn(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Serve(ctx, conn); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := conn.WriteTo([]byte{0}, conn.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("conn still open after Serve returned (write err %v)", err)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := s.ListenAndServe(ctx2, "127.0.0.1:0"); err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
	if err := s.ListenAndServe(context.Background(), "127.0.0.1:-1"); err == nil {
		t.Error("ListenAndServe on a bad address returned nil")
	}
}

// TestDualStack serves on a wildcard socket and downloads over IPv4 and
// IPv6; the hook must report the IPv4 peer unmapped.
func TestDualStack(t *testing.T) {
	fx := newFixture(t)
	probe, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	probe.Close()
	ts := startServer(t, fx.root, Options{}, "[::]:0")
	for _, host := range []string{"127.0.0.1", "::1"} {
		addr := net.JoinHostPort(host, fmt.Sprint(ts.port))
		start := time.Now()
		data, _, err := pinGet(addr, "big.bin", 1468, true)
		if err != nil || shaHex(data) != fx.bigSHA {
			t.Fatalf("download via %s: %d bytes, %v", addr, len(data), err)
		}
		tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Path == "big.bin" && tr.Start.After(start) })
		if got := tr.Remote.Addr().String(); got != host {
			t.Errorf("reported remote %s, want %s", got, host)
		}
	}
}

// TestNew covers the argument checks.
func TestNew(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		root    string
		opts    Options
		wantErr string
	}{
		{"ok", dir, Options{}, ""},
		{"ok, all options", dir, Options{Timeout: time.Second, Retries: 3, MaxBlockSize: 1468, WindowSize: 60, MaxTransfers: 10}, ""},
		{"ok, extremes", dir, Options{MaxBlockSize: 512, WindowSize: 65535}, ""},
		{"ok, other extremes", dir, Options{MaxBlockSize: 65464, WindowSize: 1}, ""},
		{"no root", "", Options{}, DefaultRoot},
		{"missing root", filepath.Join(dir, "missing"), Options{}, "no such file"},
		{"root is a file", file, Options{}, "not a directory"},
		{"negative timeout", dir, Options{Timeout: -1}, "timeout"},
		{"negative retries", dir, Options{Retries: -1}, "retries"},
		{"block size 511", dir, Options{MaxBlockSize: 511}, "512..65464"},
		{"block size too big", dir, Options{MaxBlockSize: 65465}, "512..65464"},
		{"window too big", dir, Options{WindowSize: 65536}, "1..65535"},
		{"negative window", dir, Options{WindowSize: -1}, "1..65535"},
		{"negative max transfers", dir, Options{MaxTransfers: -1}, "max transfers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.root, tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if s.Root() != dir {
					t.Errorf("Root() = %q, want %q", s.Root(), dir)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: %v, want an error mentioning %q", err, tc.wantErr)
			}
		})
	}

	// A relative root is made absolute.
	t.Chdir(dir)
	s, err := New(".", Options{})
	if err != nil || s.Root() != dir {
		t.Errorf("New(\".\") = %v, %v; want root %s", s, err, dir)
	}
}

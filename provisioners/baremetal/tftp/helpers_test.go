package tftp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	pintftp "github.com/pin/tftp/v3"
)

// bigSize is the size of the main test file: three times an iPXE binary,
// 6144 blocks of 512 bytes, enough to exercise many windows and retransmits.
const bigSize = 3 << 20

// requireBinary returns the path of a client binary. A missing client is a
// test failure, not a skip: CI installs them, and a silent skip would hide
// that the real-client tests did not run.
func requireBinary(t testing.TB, name, debPkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("TFTP client %q not found in PATH (%v): install Debian package %s "+
			"(apt-get install -y --no-install-recommends tftp-hpa atftp curl)", name, err, debPkg)
	}
	return p
}

// writeRandomFile writes size pseudo-random bytes (fixed seed, so failures
// reproduce) to dir/name and returns their hex SHA-256.
func writeRandomFile(t testing.TB, dir, name string, size int, seed uint64) string {
	t.Helper()
	buf := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1, 2, 3})
	r.Read(buf)
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

func fileSHA(t testing.TB, p string) (string, int64) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading downloaded file: %v", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b))
}

// recorder collects Options.OnTransfer calls.
type recorder struct {
	mu sync.Mutex
	ts []Transfer
}

func (r *recorder) hook(t Transfer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ts = append(r.ts, t)
}

// wait returns the first recorded transfer for which match is true. The hook
// runs after the server has seen the final ACK, which may be after the client
// has returned, so it polls for a bounded time.
func (r *recorder) wait(t testing.TB, match func(Transfer) bool) Transfer {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, tr := range r.ts {
			if match(tr) {
				r.mu.Unlock()
				return tr
			}
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no matching transfer reported within 10s")
	return Transfer{}
}

// waitN waits until n recorded transfers match, polling like wait.
func (r *recorder) waitN(t testing.TB, n int, match func(Transfer) bool) {
	t.Helper()
	count := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		c := 0
		for _, tr := range r.ts {
			if match(tr) {
				c++
			}
		}
		return c
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if count() >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d matching transfers reported within 10s, want %d", count(), n)
}

type testServer struct {
	addr string // host:port
	host string
	port int
	rec  *recorder
	stop func() // cancels and waits; safe to call twice
}

// startServer serves root on an ephemeral port of laddr (127.0.0.1:0 if
// empty) until the test ends, and checks that Serve shuts down cleanly.
func startServer(t testing.TB, root string, opts Options, laddr string) *testServer {
	t.Helper()
	if laddr == "" {
		laddr = "127.0.0.1:0"
	}
	rec := &recorder{}
	opts.OnTransfer = rec.hook
	s, err := New(root, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	conn, err := net.ListenPacket("udp", laddr)
	if err != nil {
		t.Fatalf("listen %s: %v", laddr, err)
	}
	ua := conn.LocalAddr().(*net.UDPAddr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, conn) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve returned %v after cancel, want nil", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Serve did not return within 15s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	host := ua.IP.String()
	if ua.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	ts := &testServer{
		addr: net.JoinHostPort(host, strconv.Itoa(ua.Port)),
		host: host,
		port: ua.Port,
		rec:  rec,
		stop: stop,
	}
	ts.waitReady(t)
	// The probe's transfer is over once it is reported; tests that count
	// running transfers (MaxTransfers) must not find it still holding a slot.
	rec.wait(t, func(tr Transfer) bool { return tr.Filename == probeName })
	return ts
}

// probeName is requested by waitReady; it never exists.
const probeName = "readiness-probe-that-does-not-exist"

// waitReady returns once the server answers a request. A request that
// reaches the socket before Serve has enabled IP_PKTINFO would be served
// with 512-byte blocks only, which would make blksize assertions flaky.
func (ts *testServer) waitReady(t testing.TB) {
	t.Helper()
	c, err := pintftp.NewClient(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(200 * time.Millisecond)
	c.SetRetries(1)
	for range 25 { // 25 * (2*200ms) = 10s at most
		_, err = c.Receive(probeName, "octet")
		if tftpErrorCode(err) == 1 {
			return
		}
	}
	t.Fatalf("server on %s not answering: last probe error %v", ts.addr, err)
}

// pinGet downloads name with pin/tftp's client and returns the data, the
// tsize the server reported (-1 if none) and the error.
func pinGet(addr, name string, blksize int, tsize bool) ([]byte, int64, error) {
	var buf bytes.Buffer
	_, size, err := pinFetch(addr, name, blksize, tsize, &buf)
	return buf.Bytes(), size, err
}

// pinFetch downloads name into w and returns the bytes written, the tsize
// the server reported (-1 if none) and the error.
func pinFetch(addr, name string, blksize int, tsize bool, w io.Writer) (int64, int64, error) {
	c, err := pintftp.NewClient(addr)
	if err != nil {
		return 0, -1, err
	}
	c.SetTimeout(2 * time.Second)
	c.SetRetries(5)
	c.SetBackoff(func(int) time.Duration { return 10 * time.Millisecond })
	if blksize != 0 {
		c.SetBlockSize(blksize)
	}
	c.RequestTSize(tsize)
	wt, err := c.Receive(name, "octet")
	if err != nil {
		return 0, -1, err
	}
	size := int64(-1)
	if it, ok := wt.(pintftp.IncomingTransfer); ok {
		if n, ok := it.Size(); ok {
			size = n
		}
	}
	n, err := wt.WriteTo(w)
	return n, size, err
}

var pinCodeRE = regexp.MustCompile(`code[:=] ?(\d+)`)

// tftpErrorCode extracts the TFTP error code from a pin/tftp client error
// ("code: 2, message: ..." or "... code=2, error: ..."), or -1.
func tftpErrorCode(err error) int {
	if err == nil {
		return -1
	}
	m := pinCodeRE.FindStringSubmatch(err.Error())
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func shaHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// runClient runs a client binary with a deadline and returns its combined
// output.
func runClient(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v: %w", name, timeout, errors.Join(err, ctx.Err()))
	}
	return string(out), err
}

// fixture is a served root with the 3 MB test file and hostile entries, and
// a secret file outside the root that must never be served.
type fixture struct {
	root    string // the served directory
	bigSHA  string // SHA-256 of root/big.bin
	secret  string // a file outside the root
	secretB []byte // its contents
}

// newFixture builds:
//
//	root/big.bin             3 MB of random bytes
//	root/small.txt           "hello\n"
//	root/sub/inner.bin       a small file in a subdirectory
//	root/alias -> sub/inner.bin          symlink inside the root: allowed
//	root/passwd -> /etc/passwd           absolute symlink out: refused
//	root/escape -> <outside>/secret      absolute symlink out: refused
//	root/relescape -> ../outside/secret  relative symlink out: refused
//	root/escdir -> <outside>             symlinked directory out: refused
//	root/fifo                            a FIFO: refused without blocking
//	outside/secret
func newFixture(t testing.TB) *fixture {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{root: root, secret: filepath.Join(outside, "secret"), secretB: []byte("TOP SECRET: must never be served\n")}
	if err := os.WriteFile(f.secret, f.secretB, 0o644); err != nil {
		t.Fatal(err)
	}
	f.bigSHA = writeRandomFile(t, root, "big.bin", bigSize, 1)
	writeRandomFile(t, root, "sub/inner.bin", 4000, 2)
	if err := os.WriteFile(filepath.Join(root, "small.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"alias":     "sub/inner.bin",
		"passwd":    "/etc/passwd",
		"escape":    f.secret,
		"relescape": "../outside/secret",
		"escdir":    outside,
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

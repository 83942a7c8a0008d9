package tftp

// Tests with the real TFTP clients CI installs: curl, tftp-hpa's tftp and
// atftp. Each one talks to a server on 127.0.0.1:<ephemeral>.

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const clientTimeout = 60 * time.Second

// TestCurl downloads the 3 MB file with curl's tftp:// support, with and
// without blksize, and checks bytes, SHA-256 and the options curl says the
// server acknowledged (curl always asks for tsize unless --tftp-no-options).
func TestCurl(t *testing.T) {
	curl := requireBinary(t, "curl", "curl")
	fx := newFixture(t)
	tests := []struct {
		name string
		opts Options
		args []string
		want []string // lines curl -v must print
	}{
		{name: "default (curl asks blksize 512, tsize)",
			want: []string{fmt.Sprintf("tsize parsed from OACK (%d)", bigSize)}},
		{name: "blksize 1468",
			args: []string{"--tftp-blksize", "1468"},
			want: []string{fmt.Sprintf("tsize parsed from OACK (%d)", bigSize), "blksize parsed from OACK (1468) requested (1468)"}},
		{name: "blksize 1468, server allows windows of 64 (curl asks none)",
			opts: Options{WindowSize: 64},
			args: []string{"--tftp-blksize", "1468"},
			want: []string{"blksize parsed from OACK (1468) requested (1468)"}},
		{name: "blksize capped by server at 1024",
			opts: Options{MaxBlockSize: 1024},
			args: []string{"--tftp-blksize", "1468"},
			want: []string{"blksize parsed from OACK (1024) requested (1468)"}},
		{name: "no options (plain RFC 1350)",
			args: []string{"--tftp-no-options"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, fx.root, tc.opts, "")
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"-v", "-sS", "--max-time", "60", "-o", out}, tc.args...)
			args = append(args, "tftp://"+ts.addr+"/big.bin")
			start := time.Now()
			o, err := runClient(t, clientTimeout, curl, args...)
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, o)
			}
			elapsed := time.Since(start)
			sum, n := fileSHA(t, out)
			if n != bigSize || sum != fx.bigSHA {
				t.Fatalf("curl got %d bytes sha256 %s, want %d bytes %s", n, sum, bigSize, fx.bigSHA)
			}
			for _, w := range tc.want {
				if !strings.Contains(o, w) {
					t.Errorf("curl -v output lacks %q:\n%s", w, o)
				}
			}
			tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Path == "big.bin" })
			if tr.Err != nil || tr.Bytes != bigSize {
				t.Errorf("reported transfer = %+v, want %d bytes and no error", tr, bigSize)
			}
			t.Logf("3 MB in %v (%.1f MB/s)", elapsed.Round(time.Millisecond), float64(bigSize)/1e6/elapsed.Seconds())
		})
	}
}

// TestCurlRefused checks the TFTP error codes through curl's exit codes:
// 68 is CURLE_TFTP_NOTFOUND (TFTP error 1), 69 CURLE_TFTP_PERM (error 2).
// --path-as-is stops curl from removing "..", so the server sees it.
func TestCurlRefused(t *testing.T) {
	curl := requireBinary(t, "curl", "curl")
	fx := newFixture(t)
	ts := startServer(t, fx.root, Options{}, "")
	tests := []struct {
		name     string
		args     []string
		wantExit int
	}{
		{"dot-dot", []string{"tftp://" + ts.addr + "/../outside/secret"}, 69},
		{"many dot-dots", []string{"tftp://" + ts.addr + "/../../../../etc/passwd"}, 69},
		{"symlink out", []string{"tftp://" + ts.addr + "/escape"}, 69},
		{"missing", []string{"tftp://" + ts.addr + "/missing.bin"}, 68},
		{"upload", []string{"-T", fx.secret, "tftp://" + ts.addr + "/uploaded"}, 69},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"-sS", "--path-as-is", "--max-time", "30", "-o", out}, tc.args...)
			o, err := runClient(t, clientTimeout, curl, args...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.wantExit {
				t.Fatalf("curl %v: err %v, want exit code %d\n%s", tc.args, err, tc.wantExit, o)
			}
			if b, err := os.ReadFile(out); err == nil && len(b) > 0 {
				t.Errorf("curl wrote %d bytes for a refused request", len(b))
			}
		})
	}
	if _, err := os.Lstat(filepath.Join(fx.root, "uploaded")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("upload created a file in the root (stat err %v)", err)
	}
}

// TestTFTPHPA uses tftp-hpa's client, a plain RFC 1350 client (512-byte
// blocks, no options), with the server's window limit at 1 and 16 (it
// must not matter to a client that asks for none). It exits 0 even on
// errors, so the test reads its output and the file.
func TestTFTPHPA(t *testing.T) {
	tftp := requireBinary(t, "tftp", "tftp-hpa")
	fx := newFixture(t)
	for _, window := range []int{1, 16} {
		t.Run(fmt.Sprintf("get, server window %d", window), func(t *testing.T) {
			ts := startServer(t, fx.root, Options{WindowSize: window}, "")
			out := filepath.Join(t.TempDir(), "out")
			o, err := runClient(t, clientTimeout, tftp, "-v", "-m", "binary", ts.host, strconv.Itoa(ts.port), "-c", "get", "big.bin", out)
			if err != nil {
				t.Fatalf("tftp: %v\n%s", err, o)
			}
			if sum, n := fileSHA(t, out); n != bigSize || sum != fx.bigSHA {
				t.Fatalf("tftp-hpa got %d bytes sha256 %s, want %d bytes %s\n%s", n, sum, bigSize, fx.bigSHA, o)
			}
			if want := fmt.Sprintf("Received %d bytes", bigSize); !strings.Contains(o, want) {
				t.Errorf("output lacks %q:\n%s", want, o)
			}
		})
	}

	ts := startServer(t, fx.root, Options{}, "")
	tests := []struct {
		name, cmd, file, want string
	}{
		{"dot-dot", "get", "../outside/secret", "Error code 2: access violation"},
		{"leading slash dot-dot", "get", "/../../etc/passwd", "Error code 2: access violation"},
		{"symlink to /etc/passwd", "get", "passwd", "Error code 2: access violation"},
		{"missing", "get", "missing.bin", "Error code 1: file not found"},
		{"put", "put", "uploaded", "Error code 2: access violation: read-only server"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			local := filepath.Join(t.TempDir(), "local")
			args := []string{"-v", "-m", "binary", ts.host, strconv.Itoa(ts.port), "-c", tc.cmd}
			if tc.cmd == "put" {
				if err := os.WriteFile(local, []byte("data"), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, local, tc.file)
			} else {
				args = append(args, tc.file, local)
			}
			o, err := runClient(t, clientTimeout, tftp, args...)
			if err != nil {
				t.Fatalf("tftp: %v\n%s", err, o)
			}
			if !strings.Contains(o, tc.want) {
				t.Errorf("tftp %s %s: output lacks %q:\n%s", tc.cmd, tc.file, tc.want, o)
			}
			if tc.cmd == "get" {
				if b, _ := os.ReadFile(local); len(b) > 0 {
					t.Errorf("tftp-hpa received %d bytes for a refused request", len(b))
				}
			}
		})
	}
	if _, err := os.Lstat(filepath.Join(fx.root, "uploaded")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("put created a file in the root (stat err %v)", err)
	}
}

// TestAtftp uses atftp, the one installed client that asks for windowsize
// (RFC 7440). --trace prints the OACK, which the test checks, and every
// DATA and ACK, from which it counts the blocks per ACK: the window the
// client actually ran with.
func TestAtftp(t *testing.T) {
	atftp := requireBinary(t, "atftp", "atftp")
	fx := newFixture(t)
	tests := []struct {
		name       string
		window     int               // Options.WindowSize
		options    []string          // atftp --option values
		wantOACK   map[string]string // options in the OACK atftp traces; nil: no OACK
		wantWindow int               // blocks per ACK atftp traced
	}{
		{name: "no options", wantWindow: 1},
		{name: "blksize 1468 + tsize",
			options:  []string{"blksize 1468", "tsize enable"},
			wantOACK: map[string]string{"tsize": strconv.Itoa(bigSize), "blksize": "1468"}, wantWindow: 1},
		{name: "windowsize 16 + blksize 1468",
			options:  []string{"blksize 1468", "windowsize 16"},
			wantOACK: map[string]string{"blksize": "1468", "windowsize": "16"}, wantWindow: 16},
		{name: "windowsize 16 + blksize 1468 + tsize",
			options:  []string{"blksize 1468", "tsize enable", "windowsize 16"},
			wantOACK: map[string]string{"tsize": strconv.Itoa(bigSize), "blksize": "1468", "windowsize": "16"}, wantWindow: 16},
		{name: "windowsize 16 capped at 8 by the server", window: 8,
			options:  []string{"blksize 1468", "windowsize 16"},
			wantOACK: map[string]string{"blksize": "1468", "windowsize": "8"}, wantWindow: 8},
		{name: "windowsize 64, 512-byte blocks", window: 64,
			options:  []string{"windowsize 64"},
			wantOACK: map[string]string{"windowsize": "64"}, wantWindow: 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, fx.root, Options{WindowSize: tc.window}, "")
			out := filepath.Join(t.TempDir(), "out")
			args := []string{"--verbose", "--trace"}
			for _, o := range tc.options {
				args = append(args, "--option", o)
			}
			args = append(args, "--get", "-r", "big.bin", "-l", out, ts.host, strconv.Itoa(ts.port))
			o, err := runClient(t, clientTimeout, atftp, args...)
			if err != nil {
				t.Fatalf("atftp: %v\n%.3000s", err, o)
			}
			if sum, n := fileSHA(t, out); n != bigSize || sum != fx.bigSHA {
				t.Fatalf("atftp got %d bytes sha256 %s, want %d bytes %s", n, sum, bigSize, fx.bigSHA)
			}
			got, ok := atftpOACK(o)
			switch {
			case tc.wantOACK == nil && ok:
				t.Errorf("atftp traced an OACK %v, want none", got)
			case tc.wantOACK != nil && !ok:
				t.Errorf("atftp trace shows no OACK:\n%.2000s", o)
			case tc.wantOACK != nil && !maps.Equal(got, tc.wantOACK):
				t.Errorf("OACK options = %v, want %v", got, tc.wantOACK)
			}
			if w := atftpWindow(o); w != tc.wantWindow {
				t.Errorf("atftp ACKed every %d blocks, want %d", w, tc.wantWindow)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		ts := startServer(t, fx.root, Options{}, "")
		for _, name := range []string{"../outside/secret", "relescape", "escdir/secret", "fifo"} {
			out := filepath.Join(t.TempDir(), "out")
			o, err := runClient(t, clientTimeout, atftp, "--get", "-r", name, "-l", out, ts.host, strconv.Itoa(ts.port))
			if err == nil || !strings.Contains(o, "<access violation>") {
				t.Errorf("atftp get %q: err %v, want a failure with <access violation>:\n%s", name, err, o)
			}
			if b, _ := os.ReadFile(out); len(b) > 0 {
				t.Errorf("atftp get %q received %d bytes", name, len(b))
			}
		}
	})
}

// atftpWindow returns the largest number of DATA packets atftp's --trace
// shows between two of its ACKs: the window it ran with.
func atftpWindow(out string) int {
	n, best := 0, 0
	for line := range strings.SplitSeq(out, "\n") {
		switch {
		case strings.HasPrefix(line, "received") && strings.Contains(line, "DATA <block:"):
			n++
		case strings.HasPrefix(line, "sent ACK"):
			best, n = max(best, n), 0
		}
	}
	return best
}

// atftpOACK parses the options of the first "received OACK <a: 1, b: 2, >"
// line of atftp's --trace output.
func atftpOACK(out string) (map[string]string, bool) {
	const prefix = "received OACK <"
	i := strings.Index(out, prefix)
	if i < 0 {
		return nil, false
	}
	line, _, _ := strings.Cut(out[i+len(prefix):], "\n")
	line = strings.TrimSuffix(strings.TrimSpace(line), ">")
	opts := map[string]string{}
	for kv := range strings.SplitSeq(line, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), ": ")
		if ok {
			opts[k] = v
		}
	}
	return opts, true
}

// TestLossRecovery drops DATA and ACK packets between each client and the
// server (with a proxy on loopback, see lossyProxy) and checks that
// lock-step transfers still complete byte for byte: the server's timeout
// and retries, and each client's handling of duplicates, do their job.
func TestLossRecovery(t *testing.T) {
	fx := newFixture(t)
	// Retries*Timeout outlasts pin/tftp's client, which does not re-ACK a
	// duplicate block and only resends its ACK after its own 2 s timeout.
	ts := startServer(t, fx.root, Options{Timeout: 300 * time.Millisecond, Retries: 10}, "")
	drops := dropBlocks([]uint16{2, 300, 1200}, []uint16{700})
	clients := []struct {
		name string
		get  func(t *testing.T, host, port, out string) (string, error)
	}{
		{"pin/tftp", func(t *testing.T, host, port, out string) (string, error) {
			data, _, err := pinGet(net.JoinHostPort(host, port), "big.bin", 1468, true)
			if err == nil {
				err = os.WriteFile(out, data, 0o644)
			}
			return "", err
		}},
		{"curl", func(t *testing.T, host, port, out string) (string, error) {
			return runClient(t, clientTimeout, requireBinary(t, "curl", "curl"), "-sS", "--tftp-blksize", "1468", "-o", out, "tftp://"+net.JoinHostPort(host, port)+"/big.bin")
		}},
		{"tftp-hpa", func(t *testing.T, host, port, out string) (string, error) {
			return runClient(t, clientTimeout, requireBinary(t, "tftp", "tftp-hpa"), "-m", "binary", host, port, "-c", "get", "big.bin", out)
		}},
		{"atftp", func(t *testing.T, host, port, out string) (string, error) {
			return runClient(t, clientTimeout, requireBinary(t, "atftp", "atftp"), "--option", "blksize 1468", "--get", "-r", "big.bin", "-l", out, host, port)
		}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // the waits are timeouts, not CPU
			px := startLossyProxy(t, ts.addr, drops)
			host, port, _ := net.SplitHostPort(px.addr)
			out := filepath.Join(t.TempDir(), "out")
			start := time.Now()
			if o, err := c.get(t, host, port, out); err != nil {
				t.Fatalf("%s through a lossy link: %v\n%s", c.name, err, o)
			}
			if sum, n := fileSHA(t, out); n != bigSize || sum != fx.bigSHA {
				t.Fatalf("got %d bytes sha256 %s, want %d bytes %s", n, sum, bigSize, fx.bigSHA)
			}
			if px.dropped.Load() < 2 {
				t.Errorf("the proxy dropped only %d packets; the test did not test loss", px.dropped.Load())
			}
			t.Logf("%d packets dropped, download took %v", px.dropped.Load(), time.Since(start).Round(time.Millisecond))
		})
	}
}

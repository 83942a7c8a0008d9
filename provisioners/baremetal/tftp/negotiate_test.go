package tftp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOptionNegotiation sends requests with options packet by packet and
// checks the server's first answer byte for byte (the OACK, or DATA 1 when
// nothing was accepted), then that the transfer uses what was agreed: the
// block size, and the window, which shows as the number of blocks sent
// before the server waits. To see where a window ends without timing it,
// the client ACKs the window's second-to-last block: the next packet must
// be the window's last block again (RFC 7440 resume), not the block after
// it, which would mean the server sent more than the window.
func TestOptionNegotiation(t *testing.T) {
	const size = 200000 // "200000" in every tsize answer
	dir := t.TempDir()
	writeRandomFile(t, dir, "f.bin", size, 7)
	data, err := os.ReadFile(filepath.Join(dir, "f.bin"))
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]*testServer{}
	server := func(o Options) *testServer {
		k := fmt.Sprintf("%+v", o)
		if servers[k] == nil {
			servers[k] = startServer(t, dir, o, "")
		}
		return servers[k]
	}
	tests := []struct {
		name       string
		server     Options
		opts       []string // name, value, ...
		wantOACK   string   // exact packet; "" means none: DATA 1 comes first
		wantBlock  int      // negotiated blksize
		wantWindow int      // negotiated windowsize
	}{
		{name: "no options", wantBlock: 512, wantWindow: 1},
		{name: "blksize", opts: []string{"blksize", "1468"},
			wantOACK: "\x00\x06blksize\x001468\x00", wantBlock: 1468, wantWindow: 1},
		{name: "blksize+tsize", opts: []string{"blksize", "1468", "tsize", "0"},
			wantOACK: "\x00\x06blksize\x001468\x00tsize\x00200000\x00", wantBlock: 1468, wantWindow: 1},
		{name: "tsize first keeps request order", opts: []string{"tsize", "0", "blksize", "1024"},
			wantOACK: "\x00\x06tsize\x00200000\x00blksize\x001024\x00", wantBlock: 1024, wantWindow: 1},
		{name: "tsize enable (atftp)", opts: []string{"tsize", "enable"},
			wantOACK: "\x00\x06tsize\x00200000\x00", wantBlock: 512, wantWindow: 1},
		{name: "windowsize", opts: []string{"windowsize", "16"},
			wantOACK: "\x00\x06windowsize\x0016\x00", wantBlock: 512, wantWindow: 16},
		{name: "windowsize capped at the default 16", opts: []string{"windowsize", "64"},
			wantOACK: "\x00\x06windowsize\x0016\x00", wantBlock: 512, wantWindow: 16},
		{name: "windowsize capped by Options.WindowSize", server: Options{WindowSize: 4}, opts: []string{"windowsize", "16"},
			wantOACK: "\x00\x06windowsize\x004\x00", wantBlock: 512, wantWindow: 4},
		{name: "windowsize below the cap granted as asked", server: Options{WindowSize: 64}, opts: []string{"windowsize", "5"},
			wantOACK: "\x00\x06windowsize\x005\x00", wantBlock: 512, wantWindow: 5},
		{name: "windowsize 1", opts: []string{"windowsize", "1"},
			wantOACK: "\x00\x06windowsize\x001\x00", wantBlock: 512, wantWindow: 1},
		{name: "server grants lock-step only", server: Options{WindowSize: 1}, opts: []string{"windowsize", "16"},
			wantOACK: "\x00\x06windowsize\x001\x00", wantBlock: 512, wantWindow: 1},
		{name: "largest windowsize", server: Options{WindowSize: 65535}, opts: []string{"windowsize", "65535", "blksize", "65464"},
			wantOACK: "\x00\x06windowsize\x0065535\x00blksize\x0065464\x00", wantBlock: 65464, wantWindow: 65535},
		{name: "all three", opts: []string{"blksize", "1468", "tsize", "0", "windowsize", "16"},
			wantOACK: "\x00\x06blksize\x001468\x00tsize\x00200000\x00windowsize\x0016\x00", wantBlock: 1468, wantWindow: 16},
		{name: "names are case-insensitive, echoed as sent", opts: []string{"BlkSize", "1468", "TSIZE", "0", "WindowSize", "8"},
			wantOACK: "\x00\x06BlkSize\x001468\x00TSIZE\x00200000\x00WindowSize\x008\x00", wantBlock: 1468, wantWindow: 8},
		{name: "timeout accepted as sent", opts: []string{"timeout", "3"},
			wantOACK: "\x00\x06timeout\x003\x00", wantBlock: 512, wantWindow: 1},
		{name: "blksize above RFC 2348 capped", opts: []string{"blksize", "100000"},
			wantOACK: "\x00\x06blksize\x0065464\x00", wantBlock: 65464, wantWindow: 1},
		{name: "blksize capped by Options.MaxBlockSize", server: Options{MaxBlockSize: 1024}, opts: []string{"blksize", "1468"},
			wantOACK: "\x00\x06blksize\x001024\x00", wantBlock: 1024, wantWindow: 1},
		{name: "smallest blksize", opts: []string{"blksize", "8"},
			wantOACK: "\x00\x06blksize\x008\x00", wantBlock: 8, wantWindow: 1},
		{name: "repeated option: first wins", opts: []string{"blksize", "1468", "blksize", "1024"},
			wantOACK: "\x00\x06blksize\x001468\x00", wantBlock: 1468, wantWindow: 1},
		{name: "unknown option ignored", opts: []string{"multicast", "", "blksize", "1468", "foo", "bar"},
			wantOACK: "\x00\x06blksize\x001468\x00", wantBlock: 1468, wantWindow: 1},
		// Out of range or malformed values: left out of the OACK, and with
		// nothing accepted there is no OACK at all.
		{name: "only unknown options: no OACK", opts: []string{"foo", "bar"}, wantBlock: 512, wantWindow: 1},
		{name: "blksize 7", opts: []string{"blksize", "7"}, wantBlock: 512, wantWindow: 1},
		{name: "blksize not a number", opts: []string{"blksize", "1468x"}, wantBlock: 512, wantWindow: 1},
		{name: "blksize signed", opts: []string{"blksize", "+1468"}, wantBlock: 512, wantWindow: 1},
		{name: "blksize empty", opts: []string{"blksize", ""}, wantBlock: 512, wantWindow: 1},
		{name: "windowsize 0", opts: []string{"windowsize", "0"}, wantBlock: 512, wantWindow: 1},
		{name: "windowsize 65536", opts: []string{"windowsize", "65536"}, wantBlock: 512, wantWindow: 1},
		{name: "windowsize huge", opts: []string{"windowsize", "99999999999"}, wantBlock: 512, wantWindow: 1},
		{name: "timeout 0", opts: []string{"timeout", "0"}, wantBlock: 512, wantWindow: 1},
		{name: "timeout 256", opts: []string{"timeout", "256"}, wantBlock: 512, wantWindow: 1},
		{name: "invalid ones dropped, valid ones kept", opts: []string{"windowsize", "0", "tsize", "0", "blksize", "4"},
			wantOACK: "\x00\x06tsize\x00200000\x00", wantBlock: 512, wantWindow: 1},
		{name: "dangling option name", opts: []string{"blksize"}, wantBlock: 512, wantWindow: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := server(tc.server)
			c := newRawClient(t, ts.addr)
			c.send(rrqPacket("f.bin", "octet", tc.opts...))
			if tc.wantOACK != "" {
				if got := c.recv(); !bytes.Equal(got, []byte(tc.wantOACK)) {
					t.Fatalf("first packet %q (%s), want OACK %q", got, describe(got), tc.wantOACK)
				}
				c.send(ackPacket(0))
			}
			// The window, or all of the file if it is shorter.
			blocks := size/tc.wantBlock + 1
			k := min(tc.wantWindow, blocks)
			blockLen := func(b int) int { return min(tc.wantBlock, size-(b-1)*tc.wantBlock) }
			for b := 1; b <= k; b++ {
				got := c.expectData(uint16(b), blockLen(b))
				if off := (b - 1) * tc.wantBlock; !bytes.Equal(got, data[off:off+len(got)]) {
					t.Fatalf("block %d: wrong data", b)
				}
			}
			if k >= 2 {
				c.send(ackPacket(uint16(k - 1)))
				c.expectData(uint16(k), blockLen(k))
			} else {
				c.send(ackPacket(1))
				c.expectData(2, blockLen(2))
			}
			c.send(errorPacket(0, "test done"))
		})
	}
}

// TestOACKRefused answers the OACK with ERROR 8 (RFC 2347: the client
// refuses the options). The server must end the transfer there, reporting
// the client's refusal rather than a timeout.
func TestOACKRefused(t *testing.T) {
	fx := newFixture(t)
	ts := startServer(t, fx.root, Options{Timeout: 200 * time.Millisecond, Retries: 2}, "")
	c := newRawClient(t, ts.addr)
	c.send(rrqPacket("big.bin", "octet", "blksize", "1468"))
	if p := c.recv(); binary.BigEndian.Uint16(p) != opOACK {
		t.Fatalf("got %s, want an OACK", describe(p))
	}
	c.send(errorPacket(codeOptionsRefused, "no thanks"))
	tr := ts.rec.wait(t, func(tr Transfer) bool { return tr.Path == "big.bin" })
	if tr.Err == nil || !strings.Contains(tr.Err.Error(), "refused the options") || !strings.Contains(tr.Err.Error(), "no thanks") {
		t.Errorf("reported %v, want the client's refusal", tr.Err)
	}
	if tr.Bytes != 0 {
		t.Errorf("reported %d bytes", tr.Bytes)
	}
	// Nothing may follow the refusal: had the server gone on, its OACK
	// retransmission would have been sent a timeout (200ms) after the OACK,
	// long before the report above, and be waiting in the socket now.
	if p, err := c.tryRecv(time.Millisecond); err == nil {
		t.Errorf("server sent %s after the client refused its options", describe(p))
	}
}

// TestMalformedRequest checks that a request without its NUL terminators
// gets TFTP error 4 and is not reported as a transfer.
func TestMalformedRequest(t *testing.T) {
	fx := newFixture(t)
	ts := startServer(t, fx.root, Options{}, "")
	c := newRawClient(t, ts.addr)
	c.send([]byte("\x00\x01small.txt"))
	if p := c.recv(); binary.BigEndian.Uint16(p) != opERROR || binary.BigEndian.Uint16(p[2:]) != codeIllegal {
		t.Fatalf("got %s, want ERROR 4", describe(p))
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		in   string
		want request
		err  bool
	}{
		{in: "\x00\x01a\x00octet\x00", want: request{filename: "a", mode: "octet"}},
		{in: "\x00\x02a\x00octet\x00", want: request{write: true, filename: "a", mode: "octet"}},
		{in: "\x00\x01a\x00octet\x00blksize\x001468\x00tsize\x000\x00",
			want: request{filename: "a", mode: "octet", opts: []option{{"blksize", "1468"}, {"tsize", "0"}}}},
		{in: "\x00\x01a\x00octet\x00blksize\x00", want: request{filename: "a", mode: "octet"}},     // dangling name
		{in: "\x00\x01a\x00octet\x00blksize\x001468", want: request{filename: "a", mode: "octet"}}, // unterminated value
		{in: "\x00\x01\x00\x00", want: request{}},
		{in: "\x00\x01a\x00octet", err: true},
		{in: "\x00\x01a", err: true},
		{in: "\x00\x01", err: true},
		{in: "\x00", err: true},
		{in: "\x00\x03a\x00octet\x00", err: true},
	}
	for _, tc := range tests {
		got, err := parseRequest([]byte(tc.in))
		if tc.err {
			if err == nil {
				t.Errorf("parseRequest(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("parseRequest(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseRequest checks that no request crashes the parser and that
// what it returns can be sent back (names without NULs, bounded options).
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("\x00\x01undionly.kpxe\x00octet\x00blksize\x001468\x00tsize\x000\x00windowsize\x0016\x00"))
	f.Add([]byte("\x00\x02x\x00netascii\x00"))
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := parseRequest(p)
		if err != nil {
			return
		}
		if strings.IndexByte(r.filename, 0) >= 0 || strings.IndexByte(r.mode, 0) >= 0 || len(r.opts) > maxOptions {
			t.Fatalf("parseRequest(%q) = %+v", p, r)
		}
		negotiate(r.opts, limits{maxBlock: maxBlockSize, maxWindow: maxWindowSize}, 1234)
	})
}

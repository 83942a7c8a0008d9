package tftp

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOctetReadBlocks checks the one-read-per-run layout against the file,
// for file sizes around block and run boundaries, from fresh sources and
// from one source read in order, with rewinds, as a transfer does.
func TestOctetReadBlocks(t *testing.T) {
	const bs = 8
	dir := t.TempDir()
	for _, size := range []int{0, 1, 7, 8, 9, 31, 32, 33, 64, 100, 127, 128, 129, 300} {
		writeRandomFile(t, dir, "f", size, uint64(size))
		data, _ := os.ReadFile(filepath.Join(dir, "f"))
		f, err := os.Open(filepath.Join(dir, "f"))
		if err != nil {
			t.Fatal(err)
		}
		check := func(t *testing.T, s *octetSource, b int64, n int) {
			t.Helper()
			buf := bytes.Repeat([]byte{0xee}, n*(4+bs))
			count, lastLen, err := s.readBlocks(b, n, buf)
			if err != nil {
				t.Fatal(err)
			}
			for i := range count {
				off := int(b-1+int64(i)) * bs
				want := data[off:min(off+bs, size)]
				l := bs
				if i == count-1 {
					l = lastLen
				}
				if got := buf[i*(4+bs)+4 : i*(4+bs)+4+l]; !bytes.Equal(got, want) {
					t.Fatalf("b=%d n=%d: block %d = %x, want %x", b, n, i, got, want)
				}
			}
			if end := int(b-1+int64(n))*bs > size; (count < n || lastLen < bs) != end {
				t.Fatalf("b=%d n=%d: count %d lastLen %d; the run ends the file: %v", b, n, count, lastLen, end)
			}
		}
		for _, n := range []int{1, 3, 16} {
			t.Run(fmt.Sprintf("size=%d/in order/n=%d", size, n), func(t *testing.T) {
				s := &octetSource{f: f, blksize: bs, end: -1}
				for b := int64(1); (b-1)*bs <= int64(size); b += int64(n) {
					check(t, s, b, n)
					if b > 3 {
						check(t, s, b-3, n) // a rewind, as after a lost block
					}
				}
			})
		}
		for _, n := range []int{1, 2, 4, 5, 16, 17} {
			for b := int64(1); (b-1)*bs <= int64(size); b++ {
				t.Run(fmt.Sprintf("size=%d/n=%d/b=%d", size, n, b), func(t *testing.T) {
					s := &octetSource{f: f, blksize: bs, end: -1}
					buf := bytes.Repeat([]byte{0xee}, n*(4+bs))
					count, lastLen, err := s.readBlocks(b, n, buf)
					if err != nil {
						t.Fatal(err)
					}
					for i := range count {
						off := int(b-1+int64(i)) * bs
						want := data[off:min(off+bs, size)]
						l := bs
						if i == count-1 {
							l = lastLen
						}
						if got := buf[i*(4+bs)+4 : i*(4+bs)+4+l]; !bytes.Equal(got, want) {
							t.Fatalf("block %d = %x, want %x", i, got, want)
						}
					}
					// The file ends in this run exactly when the run is
					// cut short or its last block is short.
					end := int(b-1+int64(n))*bs > size
					if short := count < n || lastLen < bs; short != end {
						t.Errorf("count %d lastLen %d for a run that ends the file: %v", count, lastLen, end)
					}
				})
			}
		}
		f.Close()
	}
}

// TestGSOFallback makes the kernel refuse the segmentation request (one
// byte per segment is far more segments than it takes), as a device
// without UDP GSO would: the sender must fall back to one write per
// packet and still deliver every window.
func TestGSOFallback(t *testing.T) {
	if gsoControl(1) == nil {
		t.Skip("no UDP GSO on this OS: windows are always sent packet by packet")
	}
	dir := t.TempDir()
	writeRandomFile(t, dir, "f", 20*512+5, 13)
	data, _ := os.ReadFile(filepath.Join(dir, "f"))
	f, err := os.Open(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	client, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := net.DialUDP("udp", nil, client.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	x := newSender(conn, f, false, params{blksize: 512, window: 8}, Options{Timeout: 5 * time.Second, Retries: 1})
	if x.gso == nil {
		t.Fatal("no GSO control message for a window of 8")
	}
	x.gso = gsoControl(1)
	done := make(chan error, 1)
	go func() { done <- x.run(context.Background()) }()
	c := &rawClient{t: t, conn: client, tid: conn.LocalAddr().(*net.UDPAddr), buf: make([]byte, 65536)}
	var got []byte
	for b := 1; b <= 21; b++ {
		got = append(got, c.expectData(uint16(b), min(512, len(data)-len(got)))...)
		if b%8 == 0 || b == 21 {
			c.send(ackPacket(uint16(b)))
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Error("data differs")
	}
	if x.gso != nil {
		t.Error("the sender kept using GSO after the kernel refused it")
	}
}

// TestQueuedAckAfterDeadline has the ACK waiting in the socket by the time
// the server's deadline passes, as when the server is short of CPU: that
// is no timeout, and the ACK must count.
func TestQueuedAckAfterDeadline(t *testing.T) {
	dir := t.TempDir()
	writeRandomFile(t, dir, "f", 100, 14)
	f, err := os.Open(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	client, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := net.DialUDP("udp", nil, client.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A deadline that has passed before the server reads.
	x := newSender(conn, f, false, params{blksize: 512, window: 1}, Options{Timeout: time.Nanosecond, Retries: 1})
	if err := x.sendWindow(); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: client, tid: conn.LocalAddr().(*net.UDPAddr), buf: make([]byte, 65536)}
	c.expectData(1, 100)
	c.send(ackPacket(1)) // on loopback, queued at the server before send returns
	done, progress, err := x.await(context.Background())
	if err != nil || !done || !progress {
		t.Fatalf("await = done %v, progress %v, %v; want the queued final ACK to end the transfer", done, progress, err)
	}
}

package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/inventory"
)

// BenchmarkAsset30MB measures serving one 30 MB file (an initrd's size)
// over loopback TCP through Serve, one client, keep-alive: from /assets/
// and from a machine's token-bound prefix, where the response writer is
// wrapped to detect a complete kernel download (the file is the profile's
// kernel, so every iteration also records kernel-fetched).
//
//	go test -run '^$' -bench Asset30MB -benchtime 20x ./provisioners/baremetal/web
//
// Both should go through sendfile(2); a large gap between them would mean
// the wrapper hid io.ReaderFrom.
func BenchmarkAsset30MB(b *testing.B) {
	const size = 30 << 20
	f := newFixture(b, nil) // store and assets directory
	f.writeAsset("initrd.img", size)
	f.putProfile(inventory.Profile{Name: "p1", Kernel: "initrd.img"})
	m := f.register("m1", "52:54:00:00:00:01", "p1")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, f.h, nil) }()
	b.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(ShutdownGrace + time.Second):
			b.Error("Serve did not stop")
		}
	})
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{}}

	for _, bc := range []struct{ name, path string }{
		{"public", "/assets/initrd.img"},
		{"machine", "/machines/m1/" + m.Token + "/assets/initrd.img"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				resp, err := client.Get(base + bc.path)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != size || resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d, %d bytes, %v", resp.StatusCode, n, err)
				}
			}
		})
	}
}

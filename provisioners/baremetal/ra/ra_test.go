package ra

import (
	"bytes"
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/netns"
	"github.com/stratastack/strata/provisioners/baremetal/netns/netnstest"
)

func TestAdvertisement(t *testing.T) {
	want := []byte{
		134, 0, 0, 0, // type RA, code 0, checksum left to the kernel
		64, 0, 0, 0, // hop limit, flags, router lifetime 0
		0, 0, 0, 0, 0, 0, 0, 0, // reachable, retrans
		3, 4, 64, 0xc0, // prefix information, /64, L+A
		0, 0, 0x0e, 0x10, 0, 0, 0x0e, 0x10, // valid, preferred: 3600 s
		0, 0, 0, 0,
		0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	}
	tests := []struct {
		prefix string
		want   []byte
		err    string
	}{
		{"fd77::/64", want, ""},
		{"fd77::1234/64", want, ""}, // host bits are masked off
		{"fd77::/48", nil, "not an IPv6 /64"},
		{"192.168.77.0/24", nil, "not an IPv6 /64"},
		{"::ffff:192.168.77.0/64", nil, "not an IPv6 /64"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			got, err := Advertisement(netip.MustParsePrefix(tt.prefix))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got % x, %v\nwant % x", got, err, tt.want)
			}
		})
	}
}

// TestKernelAutoconfigures has the Linux kernel, on the other end of a
// veth pair in a private namespace, take our advertisement: it forms an
// address from the prefix, which it only does for a valid RA (hop limit
// 255, link-local source, right checksum).
func TestKernelAutoconfigures(t *testing.T) {
	ns := netnstest.Scratch(t)
	ctx := t.Context()
	for _, args := range [][]string{
		{"link", "add", "ra0", "type", "veth", "peer", "name", "host0"},
		{"link", "set", "ra0", "up"},
		{"link", "set", "host0", "up"},
	} {
		if err := netns.IP(ctx, ns, args...); err != nil {
			t.Fatal(err)
		}
	}
	sctx, stop := context.WithCancel(ctx)
	done := netns.Go(ns, func() error {
		return Serve(sctx, Config{Interface: "ra0", Prefix: netip.MustParsePrefix("fd77:1::/64"), Interval: 200 * time.Millisecond})
	})
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.CommandContext(ctx, "ip", "-n", ns, "-6", "addr", "show", "dev", "host0").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if strings.Contains(string(out), "fd77:1:") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("host0 formed no address from the advertised prefix within 10 s:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServeErrors(t *testing.T) {
	if err := Serve(t.Context(), Config{Interface: "lo", Prefix: netip.MustParsePrefix("10.0.0.0/8")}); err == nil {
		t.Error("IPv4 prefix accepted")
	}
	if err := Serve(t.Context(), Config{Interface: "strata-no-such0", Prefix: netip.MustParsePrefix("fd77::/64")}); err == nil {
		t.Error("missing interface accepted")
	}
}

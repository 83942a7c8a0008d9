package dhcp

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

func ip4(last byte) net.IP { return net.IPv4(192, 0, 2, last).To4() }

func macN(i int) net.HardwareAddr { return net.HardwareAddr{0x52, 0x54, 0, 0, byte(i >> 8), byte(i)} }

func mustOffer(t *testing.T, l *MemoryLeases, mac net.HardwareAddr, requested net.IP) net.IP {
	t.Helper()
	ip, err := l.Offer(mac, requested)
	if err != nil {
		t.Fatalf("offer %v: %v", mac, err)
	}
	return ip
}

func TestMemoryLeasesDeterministic(t *testing.T) {
	// Two stores fed the same sequence hand out the same addresses, lowest
	// first.
	for run := 0; run < 2; run++ {
		l, _ := newTestLeases(t)
		for i := 0; i < 4; i++ {
			if got := mustOffer(t, l, macN(i), nil); !got.Equal(ip4(byte(100 + i))) {
				t.Fatalf("run %d: client %d offered %v, want %v", run, i, got, ip4(byte(100+i)))
			}
		}
	}
}

func TestMemoryLeasesOfferIsStable(t *testing.T) {
	l, _ := newTestLeases(t)
	a := mustOffer(t, l, macN(1), nil)
	if b := mustOffer(t, l, macN(1), nil); !a.Equal(b) {
		t.Fatalf("second DISCOVER offered %v, first %v", b, a)
	}
	if err := l.Bind(macN(1), a, time.Hour); err != nil {
		t.Fatal(err)
	}
	if b := mustOffer(t, l, macN(1), ip4(103)); !a.Equal(b) {
		t.Fatalf("bound client offered %v, want its lease %v", b, a)
	}
	if _, exp, _ := l.Lease(macN(1)); exp.Sub(l.now()) != time.Hour {
		t.Errorf("re-offer shortened the lease to %v", exp.Sub(l.now()))
	}
}

func TestMemoryLeasesReusePreviousAddress(t *testing.T) {
	l, clk := newTestLeases(t)
	// Client 1 gets .101 (it asks for it), binds, then releases.
	a := mustOffer(t, l, macN(1), ip4(101))
	if !a.Equal(ip4(101)) {
		t.Fatalf("requested address not honoured: %v", a)
	}
	if err := l.Bind(macN(1), a, time.Hour); err != nil {
		t.Fatal(err)
	}
	l.Release(macN(1), a)
	if _, _, ok := l.Lease(macN(1)); ok {
		t.Fatal("lease survived release")
	}
	// A newcomer takes the lowest address nobody had, not client 1's.
	if got := mustOffer(t, l, macN(2), nil); !got.Equal(ip4(100)) {
		t.Fatalf("newcomer offered %v, want .100", got)
	}
	if got := mustOffer(t, l, macN(3), nil); !got.Equal(ip4(102)) {
		t.Fatalf("second newcomer offered %v, want .102 (skipping client 1's .101)", got)
	}
	// Client 1 comes back to .101, even asking for something else.
	if got := mustOffer(t, l, macN(1), ip4(103)); !got.Equal(a) {
		t.Fatalf("returning client offered %v, want its previous %v", got, a)
	}
	// And after its lease expires, too.
	if err := l.Bind(macN(1), a, time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Minute)
	if _, _, ok := l.Lease(macN(1)); ok {
		t.Fatal("lease did not expire")
	}
	if got := mustOffer(t, l, macN(1), nil); !got.Equal(a) {
		t.Fatalf("client offered %v after expiry, want %v", got, a)
	}
}

func TestMemoryLeasesExhaustion(t *testing.T) {
	l, clk := newTestLeases(t)
	for i := 0; i < 4; i++ {
		mustOffer(t, l, macN(i), nil)
	}
	if _, err := l.Offer(macN(9), nil); !errors.Is(err, ErrNoFreeAddress) {
		t.Fatalf("err = %v, want ErrNoFreeAddress", err)
	}
	// Holds expire: the range frees up without any REQUEST.
	clk.advance(offerHold)
	if got := mustOffer(t, l, macN(9), nil); !got.Equal(ip4(100)) {
		t.Fatalf("after holds expired offered %v, want .100", got)
	}
	// When only previously used addresses are left, they are reused.
	l2, _ := newTestLeases(t)
	for i := 0; i < 4; i++ {
		ip := mustOffer(t, l2, macN(i), nil)
		if err := l2.Bind(macN(i), ip, time.Hour); err != nil {
			t.Fatal(err)
		}
		l2.Release(macN(i), ip)
	}
	if got := mustOffer(t, l2, macN(9), nil); !got.Equal(ip4(100)) {
		t.Fatalf("full of old addresses: offered %v, want .100", got)
	}
}

func TestMemoryLeasesBind(t *testing.T) {
	l, clk := newTestLeases(t)
	if err := l.Bind(macN(1), ip4(100), time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mac  net.HardwareAddr
		ip   net.IP
		want error
	}{
		{macN(2), ip4(100), ErrAddressTaken},
		{macN(2), ip4(99), ErrNotInRange},
		{macN(2), ip4(104), ErrNotInRange},
		{macN(2), net.ParseIP("2001:db8::1"), ErrNotInRange},
		{macN(2), nil, ErrNotInRange},
		{macN(1), ip4(100), nil}, // renewal
	} {
		if err := l.Bind(tt.mac, tt.ip, time.Hour); !errors.Is(err, tt.want) {
			t.Errorf("Bind(%v, %v) = %v, want %v", tt.mac, tt.ip, err, tt.want)
		}
	}
	// Moving to another address frees the old one.
	if err := l.Bind(macN(1), ip4(101), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := l.Bind(macN(2), ip4(100), time.Hour); err != nil {
		t.Fatalf("old address still taken: %v", err)
	}
	// A hold blocks others from binding until it expires.
	mustOffer(t, l, macN(3), nil) // .102
	if err := l.Bind(macN(4), ip4(102), time.Hour); !errors.Is(err, ErrAddressTaken) {
		t.Fatalf("bind over a hold: %v", err)
	}
	clk.advance(offerHold)
	if err := l.Bind(macN(4), ip4(102), time.Hour); err != nil {
		t.Fatalf("bind after the hold expired: %v", err)
	}
	// Release by another MAC is a no-op.
	l.Release(macN(9), ip4(102))
	if got, _, ok := l.Lease(macN(4)); !ok || !got.Equal(ip4(102)) {
		t.Fatal("foreign release freed a lease")
	}
}

func TestMemoryLeasesDeclineAndExclude(t *testing.T) {
	l, err := NewMemoryLeases(ip4(100), ip4(103), ip4(100))
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	l.now = clk.now
	a := mustOffer(t, l, macN(1), ip4(100)) // excluded: not honoured
	if !a.Equal(ip4(101)) {
		t.Fatalf("offered %v, want .101 (.100 excluded)", a)
	}
	if err := l.Bind(macN(1), ip4(100), time.Hour); !errors.Is(err, ErrNotInRange) {
		t.Fatalf("bind excluded address: %v", err)
	}
	// Another MAC cannot decline it.
	l.Decline(macN(2), a)
	if got := mustOffer(t, l, macN(1), nil); !got.Equal(a) {
		t.Fatalf("foreign decline moved the client to %v", got)
	}
	l.Decline(macN(1), a)
	if got := mustOffer(t, l, macN(1), nil); !got.Equal(ip4(102)) {
		t.Fatalf("after decline offered %v, want .102", got)
	}
	if err := l.Bind(macN(3), a, time.Hour); !errors.Is(err, ErrAddressTaken) {
		t.Fatalf("declined address bindable: %v", err)
	}
	clk.advance(declineHold)
	if err := l.Bind(macN(3), a, time.Hour); err != nil {
		t.Fatalf("declined address still parked after %v: %v", declineHold, err)
	}
}

func TestNewMemoryLeasesErrors(t *testing.T) {
	for _, tt := range [][2]net.IP{
		{ip4(10), ip4(9)},
		{net.ParseIP("2001:db8::1"), ip4(9)},
		{ip4(1), nil},
	} {
		if _, err := NewMemoryLeases(tt[0], tt[1]); err == nil {
			t.Errorf("NewMemoryLeases(%v, %v) accepted", tt[0], tt[1])
		}
	}
	// A range at the very top of the address space terminates.
	l, err := NewMemoryLeases(net.IPv4(255, 255, 255, 254), net.IPv4(255, 255, 255, 255))
	if err != nil {
		t.Fatal(err)
	}
	mustOffer(t, l, macN(1), nil)
	mustOffer(t, l, macN(2), nil)
	if _, err := l.Offer(macN(3), nil); !errors.Is(err, ErrNoFreeAddress) {
		t.Fatalf("err = %v", err)
	}
}

// TestMemoryLeasesConcurrent: many clients at once never share an address
// (run with -race).
func TestMemoryLeasesConcurrent(t *testing.T) {
	l, err := NewMemoryLeases(net.IPv4(10, 0, 0, 1), net.IPv4(10, 0, 0, 200))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]net.IP, 150)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ip, err := l.Offer(macN(i), nil)
			if err == nil {
				err = l.Bind(macN(i), ip, time.Hour)
			}
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			got[i] = ip
		}(i)
	}
	wg.Wait()
	seen := map[string]int{}
	for i, ip := range got {
		if j, dup := seen[ip.String()]; dup {
			t.Fatalf("clients %d and %d both got %v", j, i, ip)
		}
		seen[ip.String()] = i
	}
	if len(seen) != len(got) {
		t.Fatal(fmt.Sprint("only ", len(seen), " addresses"))
	}
}

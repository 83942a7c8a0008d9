package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Errors a Leases implementation returns; the Responder tells them apart
// only to log why it stayed silent or sent a NAK.
var (
	// ErrNoFreeAddress: every address in the range is leased, held or
	// declined.
	ErrNoFreeAddress = errors.New("no free address in the range")
	// ErrNotInRange: the address is not one this server hands out.
	ErrNotInRange = errors.New("address is not in the lease range")
	// ErrAddressTaken: the address is leased to (or held for) another
	// machine, or was declined.
	ErrAddressTaken = errors.New("address is leased to another machine")
)

// Leases is the address store of full mode. The caller supplies it so
// that the boot server can keep leases in its durable inventory; the
// in-memory MemoryLeases serves labs and tests. Implementations must be
// safe for concurrent use: the port-67 and port-4011 loops share one.
type Leases interface {
	// Offer picks the address to offer mac and holds it for a short while
	// so that a second DISCOVER does not hand it to someone else. A
	// machine must get back the address it has or last had whenever that
	// is still free; requested (option 50, may be nil) is honoured next
	// when free.
	Offer(mac net.HardwareAddr, requested net.IP) (net.IP, error)
	// Bind leases ip to mac for d, replacing any other lease mac has. It
	// fails with ErrNotInRange or ErrAddressTaken, which the Responder
	// answers with a DHCPNAK.
	Bind(mac net.HardwareAddr, ip net.IP, d time.Duration) error
	// Release ends mac's lease on ip (DHCPRELEASE). Not mac's: no-op.
	Release(mac net.HardwareAddr, ip net.IP)
	// Decline marks ip as in use by something this server does not know
	// about (DHCPDECLINE), so it is not offered again for a while.
	Decline(mac net.HardwareAddr, ip net.IP)
}

const (
	// offerHold is how long an offered address stays reserved for the
	// machine it was offered to. PXE ROMs and iPXE request within seconds.
	offerHold = 60 * time.Second
	// declineHold is how long a declined address is left alone: long
	// enough for whoever squats on it to be noticed, short enough that a
	// transient conflict does not shrink the range for good.
	declineHold = 10 * time.Minute
)

// MemoryLeases is an in-memory Leases over one contiguous IPv4 range.
//
// Allocation is deterministic: a machine gets back its current or
// previous address when it is free, otherwise the lowest free address,
// preferring addresses that no other machine has had before so that
// machines which come back later find their old address still free.
// Leases are lost on restart; a REQUEST for an address that is free is
// then granted (the server is authoritative for its range), so clients
// keep their addresses across a restart.
type MemoryLeases struct {
	first, last uint32
	exclude     map[uint32]bool
	// now is the clock; tests replace it.
	now func() time.Time

	mu    sync.Mutex
	byIP  map[uint32]lease
	byMAC map[string]uint32 // active (bound or held) entry of each MAC
	// previous remembers each MAC's last address after its lease ends,
	// for reuse, and is never trimmed: it grows with the number of
	// distinct machines, which a boot network keeps small.
	previous map[string]uint32
	// prevOwner is previous inverted (the latest MAC to have each
	// address), so that allocation need not scan previous per address.
	prevOwner map[uint32]string
}

type lease struct {
	mac      string // "" for a declined address
	expires  time.Time
	declined bool
}

// NewMemoryLeases serves first..last inclusive, never handing out the
// addresses in exclude (put the server's and the router's addresses there
// when they fall inside the range).
func NewMemoryLeases(first, last net.IP, exclude ...net.IP) (*MemoryLeases, error) {
	f, ok1 := ipv4(first)
	l, ok2 := ipv4(last)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("lease range %v-%v: both ends must be IPv4 addresses", first, last)
	}
	if f > l {
		return nil, fmt.Errorf("lease range %v-%v: first is after last", first, last)
	}
	m := &MemoryLeases{
		first:     f,
		last:      l,
		exclude:   map[uint32]bool{},
		now:       time.Now,
		byIP:      map[uint32]lease{},
		byMAC:     map[string]uint32{},
		previous:  map[string]uint32{},
		prevOwner: map[uint32]string{},
	}
	for _, ip := range exclude {
		if x, ok := ipv4(ip); ok {
			m.exclude[x] = true
		}
	}
	return m, nil
}

// Offer implements Leases.
func (m *MemoryLeases) Offer(mac net.HardwareAddr, requested net.IP) (net.IP, error) {
	key := mac.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now)

	if a, ok := m.byMAC[key]; ok {
		// Already bound or held: offer the same address again, and extend
		// a hold (never shorten a bound lease).
		l := m.byIP[a]
		if hold := now.Add(offerHold); l.expires.Before(hold) {
			l.expires = hold
			m.byIP[a] = l
		}
		return ipOf(a), nil
	}
	if a, ok := m.previous[key]; ok && m.free(a) {
		return m.hold(key, a, now), nil
	}
	if a, ok := ipv4(requested); ok && m.free(a) && !m.someonesPrevious(a, key) {
		return m.hold(key, a, now), nil
	}
	// Two passes: first skip addresses other machines had, then take
	// anything free.
	for pass := 0; pass < 2; pass++ {
		for a := m.first; ; a++ {
			if m.free(a) && (pass == 1 || !m.someonesPrevious(a, key)) {
				return m.hold(key, a, now), nil
			}
			if a == m.last { // written so that a range ending at 255.255.255.255 terminates
				break
			}
		}
	}
	return nil, ErrNoFreeAddress
}

// Bind implements Leases.
func (m *MemoryLeases) Bind(mac net.HardwareAddr, ip net.IP, d time.Duration) error {
	a, ok := ipv4(ip)
	if !ok || !m.inRange(a) {
		return ErrNotInRange
	}
	key := mac.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now)
	if l, ok := m.byIP[a]; ok && l.mac != key {
		return ErrAddressTaken
	}
	if old, ok := m.byMAC[key]; ok && old != a {
		delete(m.byIP, old)
	}
	m.byIP[a] = lease{mac: key, expires: now.Add(d)}
	m.byMAC[key] = a
	m.previous[key] = a
	m.prevOwner[a] = key
	return nil
}

// Release implements Leases.
func (m *MemoryLeases) Release(mac net.HardwareAddr, ip net.IP) {
	a, ok := ipv4(ip)
	if !ok {
		return
	}
	key := mac.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.byIP[a]; ok && l.mac == key {
		delete(m.byIP, a)
		delete(m.byMAC, key)
	}
}

// Decline implements Leases. Only the machine the address was given to
// can decline it, so that a stray DECLINE cannot knock out another
// machine's lease.
func (m *MemoryLeases) Decline(mac net.HardwareAddr, ip net.IP) {
	a, ok := ipv4(ip)
	if !ok || !m.inRange(a) {
		return
	}
	key := mac.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.byIP[a]; ok && l.mac != key {
		return
	}
	if b, ok := m.byMAC[key]; ok && b == a {
		delete(m.byMAC, key)
	}
	// Forget it as this MAC's previous address too, or the MAC would be
	// offered the conflicting address again on its next DISCOVER.
	if p, ok := m.previous[key]; ok && p == a {
		delete(m.previous, key)
	}
	if m.prevOwner[a] == key {
		delete(m.prevOwner, a)
	}
	m.byIP[a] = lease{expires: m.now().Add(declineHold), declined: true}
}

// Lease returns mac's active lease, if any: for the boot server to show
// which address a machine got.
func (m *MemoryLeases) Lease(mac net.HardwareAddr) (ip net.IP, expires time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	a, ok := m.byMAC[mac.String()]
	if !ok {
		return nil, time.Time{}, false
	}
	return ipOf(a), m.byIP[a].expires, true
}

// expire drops ended leases and holds. Called with mu held.
func (m *MemoryLeases) expire(now time.Time) {
	for a, l := range m.byIP {
		if !now.Before(l.expires) {
			delete(m.byIP, a)
			if b, ok := m.byMAC[l.mac]; ok && l.mac != "" && b == a {
				delete(m.byMAC, l.mac)
			}
		}
	}
}

func (m *MemoryLeases) hold(key string, a uint32, now time.Time) net.IP {
	m.byIP[a] = lease{mac: key, expires: now.Add(offerHold)}
	m.byMAC[key] = a
	return ipOf(a)
}

func (m *MemoryLeases) inRange(a uint32) bool {
	return a >= m.first && a <= m.last && !m.exclude[a]
}

func (m *MemoryLeases) free(a uint32) bool {
	if !m.inRange(a) {
		return false
	}
	_, taken := m.byIP[a]
	return !taken
}

func (m *MemoryLeases) someonesPrevious(a uint32, key string) bool {
	owner, ok := m.prevOwner[a]
	return ok && owner != key
}

func ipv4(ip net.IP) (uint32, bool) {
	v4 := ip.To4()
	if v4 == nil {
		return 0, false
	}
	return binary.BigEndian.Uint32(v4), true
}

func ipOf(a uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, a)
	return ip
}

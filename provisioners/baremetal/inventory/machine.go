package inventory

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"net/url"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stratastack/strata/provisioners/baremetal/api"
)

// The boot states and the records the API shows are the inventory's own.
type (
	State      = api.State
	Transition = api.Transition
	PhoneHome  = api.PhoneHome
)

// maxHistory bounds a machine's transition log: a machine stuck in a reboot
// loop would otherwise grow its record (and every rewrite of it) forever. The
// newest entries are the ones that explain where it is stuck.
const maxHistory = 100

// Machine is one bare-metal machine the boot server may boot. There is
// deliberately no BMC password field: passwords never reach the store.
type Machine struct {
	Name    string            `json:"name"`
	MAC     string            `json:"mac"`           // PXE NIC, canonical lower-case "aa:bb:cc:dd:ee:ff"
	IP      netip.Addr        `json:"ip,omitzero"`   // fixed address, if any
	BMC     string            `json:"bmc,omitempty"` // ipmi://HOST[:PORT] or redfish://HOST[:PORT], no credentials
	BMCUser string            `json:"bmc_user,omitempty"`
	Profile string            `json:"profile"`
	Labels  map[string]string `json:"labels,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"` // the stack tags it was registered with, for adoption after a crash

	// Set by the store; ignored on PutMachine.
	Token   string       `json:"token"` // 64 hex chars, binds the machine's HTTP requests to it
	State   State        `json:"state"`
	History []Transition `json:"history"` // oldest first, at most maxHistory entries
	// PhoneHome is the last phone-home of the current boot, kept with the
	// machine so that a restarted boot server still knows what it reported.
	PhoneHome *PhoneHome `json:"phone_home,omitempty"`
	Created   time.Time  `json:"created"`
	Updated   time.Time  `json:"updated"`
}

// TokenMatches reports whether tok is this machine's token. It compares in
// constant time so response timing does not reveal how much of a guess was right.
func (m *Machine) TokenMatches(tok string) bool {
	return m.Token != "" && subtle.ConstantTimeCompare([]byte(m.Token), []byte(tok)) == 1
}

// Entered returns when the machine last entered state s.
func (m *Machine) Entered(s State) (time.Time, bool) {
	for i := len(m.History) - 1; i >= 0; i-- {
		if m.History[i].State == s {
			return m.History[i].At, true
		}
	}
	return time.Time{}, false
}

// String leaves the token out: machines end up in logs and error messages.
func (m Machine) String() string {
	return fmt.Sprintf("machine %s (mac %s, profile %s, state %s)", m.Name, m.MAC, m.Profile, m.State)
}

// GoString keeps %#v from printing the token.
func (m Machine) GoString() string { return "inventory.Machine{" + m.String() + "}" }

// LogValue keeps slog (notably its JSON handler, which ignores String) from
// logging the token.
func (m Machine) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", m.Name), slog.String("mac", m.MAC),
		slog.String("profile", m.Profile), slog.String("state", string(m.State)))
}

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails since Go 1.24; it crashes the program instead
	return hex.EncodeToString(b)
}

func (m *Machine) validate() error {
	if err := checkName("machine", m.Name); err != nil {
		return err
	}
	mac, err := api.CanonicalMAC(m.MAC)
	if err != nil {
		return fmt.Errorf("machine %s: %w", m.Name, err)
	}
	m.MAC = mac
	if m.BMC != "" {
		u, err := url.Parse(m.BMC)
		if err != nil || u.Host == "" {
			return fmt.Errorf("%w: machine %s: BMC %q is not a URL; write ipmi://HOST[:PORT] or redfish://HOST[:PORT]", ErrInvalid, m.Name, m.BMC)
		}
		if u.User != nil {
			return fmt.Errorf("%w: machine %s: the BMC URL carries credentials; the inventory never stores them, set bmc_user separately", ErrInvalid, m.Name)
		}
	}
	if m.Profile == "" {
		return fmt.Errorf("%w: machine %s has no profile", ErrInvalid, m.Name)
	}
	return nil
}

func getMachine(tx *bolt.Tx, name string) (Machine, bool, error) {
	raw := tx.Bucket(bucketMachines).Get([]byte(name))
	if raw == nil {
		return Machine{}, false, nil
	}
	m, err := decode[Machine]("machine", []byte(name), raw)
	return m, err == nil, err
}

func putMachine(tx *bolt.Tx, m Machine) error {
	raw, err := encode(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMachines).Put([]byte(m.Name), raw)
}

func (m *Machine) transition(s State, now time.Time) {
	m.State = s
	m.Updated = now
	m.History = append(m.History, Transition{State: s, At: now})
	if n := len(m.History); n > maxHistory {
		m.History = append([]Transition(nil), m.History[n-maxHistory:]...)
	}
}

// PutMachine registers m, or re-registers the machine of that name, and returns
// the stored record. The store owns Token, State, History and the timestamps:
// a new machine gets a fresh token and state registered; a re-registered one
// keeps its token and progress (so adopting it after a crash does not break a
// boot in flight), unless its MAC or profile changed, in which case the old
// progress describes another boot and it goes back to registered.
func (s *Store) PutMachine(ctx context.Context, m Machine) (Machine, error) {
	if err := m.validate(); err != nil {
		return Machine{}, err
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketProfiles).Get([]byte(m.Profile)) == nil {
			return fmt.Errorf("%w: machine %s: profile %q does not exist; create it first", ErrNotFound, m.Name, m.Profile)
		}
		macs := tx.Bucket(bucketMACs)
		if owner := macs.Get([]byte(m.MAC)); owner != nil && string(owner) != m.Name {
			return fmt.Errorf("%w: MAC %s already belongs to machine %s", ErrConflict, m.MAC, owner)
		}
		old, exists, err := getMachine(tx, m.Name)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		if exists {
			m.Token, m.State, m.History, m.Created, m.PhoneHome = old.Token, old.State, old.History, old.Created, old.PhoneHome
			if old.MAC != m.MAC {
				// Move the index: the old MAC must stop resolving to this machine.
				if err := macs.Delete([]byte(old.MAC)); err != nil {
					return err
				}
			}
			m.Updated = now
			if old.MAC != m.MAC || old.Profile != m.Profile {
				m.transition(api.StateRegistered, now)
				m.PhoneHome = nil
			}
		} else {
			m.Token, m.Created, m.History, m.PhoneHome = newToken(), now, nil, nil
			m.transition(api.StateRegistered, now)
		}
		if err := macs.Put([]byte(m.MAC), []byte(m.Name)); err != nil {
			return err
		}
		return putMachine(tx, m)
	})
	if err != nil {
		return Machine{}, err
	}
	return m, nil
}

// GetMachine returns the machine called name, or an error wrapping ErrNotFound.
func (s *Store) GetMachine(ctx context.Context, name string) (Machine, error) {
	var m Machine
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var ok bool
		var err error
		m, ok, err = getMachine(tx, name)
		if err == nil && !ok {
			err = fmt.Errorf("%w: machine %q", ErrNotFound, name)
		}
		return err
	})
	return m, err
}

// MachineByMAC returns the machine whose PXE NIC is mac (any common notation).
// It reads the index, not every machine, because DHCP asks on every packet.
func (s *Store) MachineByMAC(ctx context.Context, mac string) (Machine, error) {
	canon, err := api.CanonicalMAC(mac)
	if err != nil {
		return Machine{}, err
	}
	var m Machine
	err = s.view(ctx, func(tx *bolt.Tx) error {
		name := tx.Bucket(bucketMACs).Get([]byte(canon))
		if name == nil {
			return fmt.Errorf("%w: no machine has MAC %s", ErrNotFound, canon)
		}
		var ok bool
		var err error
		m, ok, err = getMachine(tx, string(name))
		if err == nil && !ok {
			// Cannot happen while every write keeps both buckets in one transaction.
			err = fmt.Errorf("inventory: MAC %s points at missing machine %q", canon, name)
		}
		return err
	})
	return m, err
}

// ListMachines returns, sorted by name, the machines whose tags include every
// key/value in tags (all machines when tags is empty).
func (s *Store) ListMachines(ctx context.Context, tags map[string]string) ([]Machine, error) {
	var out []Machine
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMachines).ForEach(func(k, v []byte) error {
			m, err := decode[Machine]("machine", k, v)
			if err != nil {
				return err
			}
			for tk, tv := range tags {
				if got, ok := m.Tags[tk]; !ok || got != tv {
					return nil
				}
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// DeleteMachine removes the machine and its MAC index entry. Deleting a machine
// that does not exist returns an error wrapping ErrNotFound, which callers that
// want idempotent deletes can ignore.
func (s *Store) DeleteMachine(ctx context.Context, name string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		m, ok, err := getMachine(tx, name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: machine %q", ErrNotFound, name)
		}
		if err := tx.Bucket(bucketMACs).Delete([]byte(m.MAC)); err != nil {
			return err
		}
		return tx.Bucket(bucketMachines).Delete([]byte(name))
	})
}

// SetState records that the machine reached state st, with the time, and
// returns the updated machine. The read, append and write happen in one bbolt
// transaction, so concurrent reports (DHCP, HTTP, phone-home) never lose one.
// Any order is allowed: a machine that reboots goes through dhcp again.
func (s *Store) SetState(ctx context.Context, name string, st State) (Machine, error) {
	if !st.Valid() {
		return Machine{}, fmt.Errorf("%w: state %q; use registered, dhcp, script-fetched, kernel-fetched, ready or error", ErrInvalid, st)
	}
	return s.changeMachine(ctx, name, func(m *Machine, now time.Time) {
		if st == api.StateDHCP || st == api.StateRegistered {
			m.PhoneHome = nil // a new boot: the last report is stale
		}
		m.transition(st, now)
	})
}

// SetTags merges tags into the machine's: a TTL extended re-tags the
// machines a stack already has.
func (s *Store) SetTags(ctx context.Context, name string, tags map[string]string) (Machine, error) {
	return s.changeMachine(ctx, name, func(m *Machine, _ time.Time) {
		if m.Tags == nil {
			m.Tags = map[string]string{}
		}
		maps.Copy(m.Tags, tags)
	})
}

// RecordPhoneHome marks the machine ready and keeps its report, in one
// transaction, so that a restart loses neither.
func (s *Store) RecordPhoneHome(ctx context.Context, name string, rep PhoneHome) (Machine, error) {
	return s.changeMachine(ctx, name, func(m *Machine, now time.Time) {
		m.PhoneHome = &rep
		m.transition(api.StateReady, now)
	})
}

func (s *Store) changeMachine(ctx context.Context, name string, change func(*Machine, time.Time)) (Machine, error) {
	var m Machine
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var ok bool
		var err error
		m, ok, err = getMachine(tx, name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: machine %q", ErrNotFound, name)
		}
		change(&m, time.Now().UTC())
		return putMachine(tx, m)
	})
	if err != nil {
		return Machine{}, err
	}
	return m, nil
}

package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stratastack/strata/provisioners/baremetal/api"
)

func openTest(t *testing.T, path string, o options) *Store {
	t.Helper()
	if o.lockTimeout == 0 {
		o.lockTimeout = 200 * time.Millisecond
	}
	s, err := open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t *testing.T) (*Store, string) {
	path := filepath.Join(t.TempDir(), "inventory.db")
	return openTest(t, path, options{}), path
}

var testProfile = Profile{
	Name: "mesos-agent", Kernel: "http://boot/assets/vmlinuz", Initrd: []string{"http://boot/assets/initrd.img"},
	Cmdline: "console=ttyS0", UserData: []byte("#cloud-config\nsecret: hunter2\n"),
}

func mustPut(t *testing.T, s *Store, m Machine) Machine {
	t.Helper()
	got, err := s.PutMachine(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestMachineCRUD(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.PutProfile(ctx, testProfile); err != nil {
		t.Fatal(err)
	}
	in := Machine{
		Name: "node-1", MAC: "52-54-00-AA-BB-01", IP: netip.MustParseAddr("10.0.0.11"),
		BMC: "ipmi://10.0.1.11:623", BMCUser: "admin", Profile: "mesos-agent",
		Labels: map[string]string{"rack": "a"}, Tags: map[string]string{"strata.stack": "prod", "strata.role": "agent"},
		Token: "caller-supplied-ignored", State: api.StateReady,
	}
	m := mustPut(t, s, in)
	if m.MAC != "52:54:00:aa:bb:01" {
		t.Errorf("MAC not canonical: %q", m.MAC)
	}
	if len(m.Token) != 64 || m.Token == in.Token {
		t.Errorf("token %q: want 64 fresh hex chars", m.Token)
	}
	if m.State != api.StateRegistered || len(m.History) != 1 {
		t.Errorf("new machine state %s history %v", m.State, m.History)
	}
	mustPut(t, s, Machine{Name: "node-2", MAC: "52:54:00:aa:bb:02", Profile: "mesos-agent", Tags: map[string]string{"strata.stack": "dev"}})

	got, err := s.GetMachine(ctx, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.IP != in.IP || got.BMC != in.BMC || got.BMCUser != "admin" || got.Labels["rack"] != "a" || got.Token != m.Token || !got.Created.Equal(m.Created) {
		t.Errorf("GetMachine = %#v, want what was put", got)
	}
	byMAC, err := s.MachineByMAC(ctx, "52:54:00:AA:BB:01")
	if err != nil || byMAC.Name != "node-1" {
		t.Errorf("MachineByMAC = %v, %v", byMAC.Name, err)
	}

	for _, tc := range []struct {
		tags map[string]string
		want []string
	}{
		{nil, []string{"node-1", "node-2"}},
		{map[string]string{"strata.stack": "prod"}, []string{"node-1"}},
		{map[string]string{"strata.stack": "prod", "strata.role": "agent"}, []string{"node-1"}},
		{map[string]string{"strata.stack": "prod", "strata.role": "master"}, nil},
		{map[string]string{"other": "x"}, nil},
	} {
		ms, err := s.ListMachines(ctx, tc.tags)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.Name)
		}
		if fmt.Sprint(names) != fmt.Sprint(tc.want) {
			t.Errorf("ListMachines(%v) = %v, want %v", tc.tags, names, tc.want)
		}
	}

	if err := s.DeleteMachine(ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMachine(ctx, "node-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete GetMachine err = %v", err)
	}
	if _, err := s.MachineByMAC(ctx, "52:54:00:aa:bb:01"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete the MAC still resolves: %v", err)
	}
	if err := s.DeleteMachine(ctx, "node-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete err = %v", err)
	}
	// The MAC is free again for another machine.
	mustPut(t, s, Machine{Name: "node-3", MAC: "52:54:00:aa:bb:01", Profile: "mesos-agent"})
}

func TestPutMachineValidation(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.PutProfile(ctx, testProfile); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, Machine{Name: "taken", MAC: "52:54:00:00:00:01", Profile: "mesos-agent"})
	ok := Machine{Name: "n", MAC: "52:54:00:00:00:02", Profile: "mesos-agent"}
	for _, tc := range []struct {
		name    string
		edit    func(*Machine)
		is      error
		message string
	}{
		{"bad MAC", func(m *Machine) { m.MAC = "52:54:00:zz" }, ErrInvalid, "not an Ethernet MAC"},
		{"EUI-64 MAC", func(m *Machine) { m.MAC = "02:00:5e:10:00:00:00:01" }, ErrInvalid, "not an Ethernet MAC"},
		{"broadcast MAC", func(m *Machine) { m.MAC = "ff:ff:ff:ff:ff:ff" }, ErrInvalid, "multicast"},
		{"duplicate MAC", func(m *Machine) { m.MAC = "52-54-00-00-00-01" }, ErrConflict, "already belongs to machine taken"},
		{"unknown profile", func(m *Machine) { m.Profile = "nope" }, ErrNotFound, `profile "nope" does not exist`},
		{"no profile", func(m *Machine) { m.Profile = "" }, ErrInvalid, "no profile"},
		{"bad name", func(m *Machine) { m.Name = "../etc" }, ErrInvalid, "machine name"},
		{"BMC with password", func(m *Machine) { m.BMC = "ipmi://root:pw@10.0.0.1" }, ErrInvalid, "credentials"},
		{"BMC not a URL", func(m *Machine) { m.BMC = "10.0.0.1" }, ErrInvalid, "not a URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ok
			tc.edit(&m)
			_, err := s.PutMachine(ctx, m)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("err = %v, want %v containing %q", err, tc.is, tc.message)
			}
		})
	}
	if _, err := s.GetMachine(ctx, "n"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a rejected machine was stored: %v", err)
	}
	if _, err := s.SetState(ctx, "taken", "booting"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown state err = %v", err)
	}
	if _, err := s.SetState(ctx, "ghost", api.StateDHCP); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetState on missing machine err = %v", err)
	}
}

func TestReregisterMovesMACIndex(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.PutProfile(ctx, testProfile); err != nil {
		t.Fatal(err)
	}
	first := mustPut(t, s, Machine{Name: "node-1", MAC: "52:54:00:00:00:01", Profile: "mesos-agent"})
	if _, err := s.SetState(ctx, "node-1", api.StateDHCP); err != nil {
		t.Fatal(err)
	}
	// Same MAC and profile (adoption after a crash): token and progress kept.
	same := mustPut(t, s, Machine{Name: "node-1", MAC: "52:54:00:00:00:01", Profile: "mesos-agent", BMCUser: "ops"})
	if same.Token != first.Token || same.State != api.StateDHCP || len(same.History) != 2 || !same.Created.Equal(first.Created) {
		t.Errorf("re-register with same MAC lost state: %s token-kept=%t history=%v", same.State, same.Token == first.Token, same.History)
	}
	// New MAC: index moves, progress restarts, token kept.
	moved := mustPut(t, s, Machine{Name: "node-1", MAC: "52:54:00:00:00:09", Profile: "mesos-agent"})
	if moved.Token != first.Token || moved.State != api.StateRegistered {
		t.Errorf("after MAC change: state %s, token kept %t", moved.State, moved.Token == first.Token)
	}
	if _, err := s.MachineByMAC(ctx, "52:54:00:00:00:01"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old MAC still indexed: %v", err)
	}
	if m, err := s.MachineByMAC(ctx, "52:54:00:00:00:09"); err != nil || m.Name != "node-1" {
		t.Errorf("new MAC lookup = %q, %v", m.Name, err)
	}
	// The old MAC is free for another machine.
	mustPut(t, s, Machine{Name: "node-2", MAC: "52:54:00:00:00:01", Profile: "mesos-agent"})
	checkIndex(t, s)
}

func TestStateTransitionsRecorded(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.PutProfile(ctx, testProfile); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC()
	mustPut(t, s, Machine{Name: "node-1", MAC: "52:54:00:00:00:01", Profile: "mesos-agent"})
	steps := []State{api.StateDHCP, api.StateScriptFetched, api.StateKernelFetched, api.StateReady}
	var last Machine
	for _, st := range steps {
		var err error
		if last, err = s.SetState(ctx, "node-1", st); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now().UTC()
	want := append([]State{api.StateRegistered}, steps...)
	if len(last.History) != len(want) || last.State != api.StateReady {
		t.Fatalf("history %v, state %s", last.History, last.State)
	}
	for i, tr := range last.History {
		if tr.State != want[i] {
			t.Errorf("history[%d] = %s, want %s", i, tr.State, want[i])
		}
		if tr.At.Before(before) || tr.At.After(after) || (i > 0 && tr.At.Before(last.History[i-1].At)) {
			t.Errorf("history[%d] at %v: outside [%v, %v] or out of order", i, tr.At, before, after)
		}
	}
	if at, ok := last.Entered(api.StateKernelFetched); !ok || !at.Equal(last.History[3].At) {
		t.Errorf("Entered(kernel-fetched) = %v, %t", at, ok)
	}
	if _, ok := last.Entered(api.StateError); ok {
		t.Error("Entered(error) reported a state never reached")
	}
	// The log is bounded; the newest entries survive.
	for range maxHistory + 5 {
		if last, _ = s.SetState(ctx, "node-1", api.StateDHCP); last.Name == "" {
			t.Fatal("SetState failed")
		}
	}
	if len(last.History) != maxHistory {
		t.Errorf("history length %d, want cap %d", len(last.History), maxHistory)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inv.db")
	s, err := open(path, options{lockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	disc := Profile{Name: "discover", Kernel: "/assets/vmlinuz", Discovery: true}
	for _, p := range []Profile{testProfile, disc} {
		if err := s.PutProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	m := mustPut(t, s, Machine{Name: "node-1", MAC: "52:54:00:00:00:01", IP: netip.MustParseAddr("10.0.0.11"), Profile: "mesos-agent", Tags: map[string]string{"k": "v"}})
	if m, err = s.SetState(ctx, "node-1", api.StateScriptFetched); err != nil {
		t.Fatal(err)
	}
	match := true
	if m, err = s.RecordPhoneHome(ctx, "node-1", PhoneHome{At: time.Now().UTC(), Remote: "10.0.0.11:4000", Checksum: "abc", ChecksumMatches: &match}); err != nil {
		t.Fatal(err)
	}
	if m.State != api.StateReady || m.PhoneHome == nil || m.PhoneHome.Checksum != "abc" {
		t.Fatalf("after phone-home: state %s, report %+v", m.State, m.PhoneHome)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	s2 := openTest(t, path, options{})
	got, err := s2.MachineByMAC(ctx, "52:54:00:00:00:01")
	if err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(m)
	if string(gj) != string(wj) {
		t.Errorf("after restart\n got %s\nwant %s", gj, wj)
	}
	ps, err := s2.ListProfiles(ctx)
	if err != nil || len(ps) != 2 || ps[0].Name != "discover" || !ps[0].Discovery || string(ps[1].UserData) != string(testProfile.UserData) {
		t.Errorf("profiles after restart = %v, %v", ps, err)
	}
}

func TestSecondOpenFailsClearly(t *testing.T) {
	_, path := newStore(t)
	const timeout = 300 * time.Millisecond
	start := time.Now()
	s, err := open(path, options{lockTimeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("second open of a file in use succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v; want ErrLocked naming the file", err)
	}
	if elapsed > timeout+2*time.Second {
		t.Errorf("second open took %v, want about %v", elapsed, timeout)
	}
}

func TestTokenMatches(t *testing.T) {
	m := Machine{Token: newToken()}
	for _, tc := range []struct {
		name string
		tok  string
		want bool
	}{
		{"exact", m.Token, true},
		{"empty", "", false},
		{"prefix", m.Token[:63], false},
		{"upper-case", strings.ToUpper(m.Token), strings.ToUpper(m.Token) == m.Token},
		{"last char", m.Token[:63] + "x", false},
		{"longer", m.Token + "0", false},
	} {
		if got := m.TokenMatches(tc.tok); got != tc.want {
			t.Errorf("%s: TokenMatches = %t, want %t", tc.name, got, tc.want)
		}
	}
	if (&Machine{}).TokenMatches("") {
		t.Error("a machine without a token matched the empty token")
	}
	if newToken() == m.Token {
		t.Error("two tokens are equal")
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	m := Machine{Name: "n", Token: newToken()}
	var buf strings.Builder
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "profile", testProfile, "machine", m)
	for _, out := range []string{fmt.Sprint(testProfile), fmt.Sprintf("%+v %#v", testProfile, testProfile),
		fmt.Sprintf("%v %+v %#v", m, m, m), buf.String()} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, m.Token) {
			t.Errorf("secret leaked: %s", out)
		}
	}
}

func TestDeleteProfileRefusedWhileInUse(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.PutProfile(ctx, testProfile); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, Machine{Name: "node-1", MAC: "52:54:00:00:00:01", Profile: "mesos-agent"})
	err := s.DeleteProfile(ctx, "mesos-agent")
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "node-1") {
		t.Fatalf("delete of a used profile: err = %v, want ErrInUse naming node-1", err)
	}
	if _, err := s.GetProfile(ctx, "mesos-agent"); err != nil {
		t.Errorf("profile gone after refused delete: %v", err)
	}
	if err := s.DeleteMachine(ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProfile(ctx, "mesos-agent"); err != nil {
		t.Fatalf("delete of an unused profile: %v", err)
	}
	if _, err := s.GetProfile(ctx, "mesos-agent"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetProfile after delete: %v", err)
	}
	if err := s.DeleteProfile(ctx, "mesos-agent"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := s.PutProfile(ctx, Profile{Name: "p"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("profile without kernel: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutProfile(ctx, testProfile); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

// TestConcurrentWriters runs 8 goroutines x 200 writes: each re-registers its
// own machine (moving its MAC between two addresses) and records states on it,
// and all of them also record states on one shared machine. Afterwards the file
// passes bbolt's consistency check, the MAC index is an exact mirror of the
// machines, and no shared transition was lost.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inv.db")
	// No fsync here: this checks transactional isolation, not the disk, and
	// 1,600 fsyncs on a shared CI disk would dominate the run time.
	s := openTest(t, path, options{noSync: true})
	if err := s.PutProfile(ctx, testProfile); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, Machine{Name: "shared", MAC: "52:54:00:ff:00:00", Profile: "mesos-agent"})
	const workers, ops, sharedEvery = 8, 200, 20 // 10 shared SetStates per worker
	states := []State{api.StateDHCP, api.StateScriptFetched, api.StateKernelFetched, api.StateReady}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			name := fmt.Sprintf("node-%d", w)
			for i := range ops {
				var err error
				switch {
				case i%sharedEvery == 0:
					_, err = s.SetState(ctx, "shared", states[w%len(states)])
				case i%2 == 0 || i == 1:
					mac := fmt.Sprintf("52:54:00:%02x:00:%02x", w, (i/2)%2)
					_, err = s.PutMachine(ctx, Machine{Name: name, MAC: mac, Profile: "mesos-agent", Labels: map[string]string{"i": fmt.Sprint(i)}})
				default:
					_, err = s.SetState(ctx, name, states[i%len(states)])
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d op %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	shared, err := s.GetMachine(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + workers*ops/sharedEvery; len(shared.History) != want {
		t.Errorf("shared machine has %d transitions, want %d: updates were lost", len(shared.History), want)
	}
	for w := range workers {
		m, err := s.GetMachine(ctx, fmt.Sprintf("node-%d", w))
		if err != nil {
			t.Fatal(err)
		}
		// The last PutMachine was op 198, MAC index (198/2)%2 = 1; op 199 set a state.
		if wantMAC := fmt.Sprintf("52:54:00:%02x:00:01", w); m.MAC != wantMAC || m.Labels["i"] != "198" || m.State != states[199%len(states)] {
			t.Errorf("node-%d: mac %s labels %v state %s", w, m.MAC, m.Labels, m.State)
		}
	}
	checkIndex(t, s)
	if err := s.db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drain: Check's goroutine reads the tx until done
			if first == nil {
				first = err
			}
		}
		return first
	}); err != nil {
		t.Errorf("bbolt consistency check: %v", err)
	}
}

// checkIndex asserts the MAC index maps exactly each machine's MAC to it.
func checkIndex(t *testing.T, s *Store) {
	t.Helper()
	ms, err := s.ListMachines(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, m := range ms {
		want[m.MAC] = m.Name
	}
	got := map[string]string{}
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMACs).ForEach(func(k, v []byte) error {
			got[string(k)] = string(v)
			return nil
		})
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("MAC index %v, machines say %v", got, want)
	}
}

// A phone-home report describes one boot: a new boot or a new profile makes
// it stale, a re-registration that changes nothing keeps it.
func TestPhoneHomeLifetime(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	other := Profile{Name: "other", Kernel: "/assets/vmlinuz"}
	for _, p := range []Profile{testProfile, other} {
		if err := s.PutProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	m := Machine{Name: "node-1", MAC: "52:54:00:00:00:01", Profile: "mesos-agent"}
	report := func() {
		t.Helper()
		if _, err := s.RecordPhoneHome(ctx, "node-1", PhoneHome{Checksum: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name string
		do   func()
		keep bool
	}{
		{"same registration", func() { mustPut(t, s, m) }, true},
		{"kernel fetched", func() { s.SetState(ctx, "node-1", api.StateKernelFetched) }, true},
		{"new DHCP", func() { s.SetState(ctx, "node-1", api.StateDHCP) }, false},
		{"other profile", func() { o := m; o.Profile = "other"; mustPut(t, s, o) }, false},
	}
	mustPut(t, s, m)
	for _, st := range steps {
		report()
		st.do()
		got, err := s.GetMachine(ctx, "node-1")
		if err != nil {
			t.Fatal(err)
		}
		if kept := got.PhoneHome != nil; kept != st.keep {
			t.Errorf("%s: report kept = %t, want %t", st.name, kept, st.keep)
		}
	}
	if _, err := s.RecordPhoneHome(ctx, "nope", PhoneHome{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordPhoneHome(unknown) = %v, want ErrNotFound", err)
	}
}

// Progress writes boot steps in order, skips the step a machine is already
// at, and writes what is queued when it closes.
func TestProgress(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.PutProfile(ctx, testProfile); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, Machine{Name: "node-1", MAC: "52:54:00:00:00:01", Profile: "mesos-agent"})
	var failed []string
	p := s.NewProgress(func(name string, st State, err error) { failed = append(failed, name+"/"+string(st)) })
	for _, st := range []State{api.StateDHCP, api.StateDHCP, api.StateScriptFetched, api.StateKernelFetched, api.StateKernelFetched} {
		p.Record("node-1", st)
	}
	p.Record("nope", api.StateDHCP)
	p.Close()
	m, err := s.GetMachine(ctx, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	var got []State
	for _, h := range m.History {
		got = append(got, h.State)
	}
	want := []State{api.StateRegistered, api.StateDHCP, api.StateScriptFetched, api.StateKernelFetched}
	if !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
	if !slices.Equal(failed, []string{"nope/dhcp"}) {
		t.Errorf("reported failures %v, want the unknown machine's", failed)
	}
	p.Close() // a second Close is harmless
}

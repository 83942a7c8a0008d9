package baremetal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/client"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/power"
	"github.com/stratastack/strata/provisioners/baremetal/web/webtest"
	"github.com/stratastack/strata/provisioners/provtest"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/zclconf/go-cty/cty"
)

const (
	testToken    = "test-boot-token-0123456789abcdef"
	testPassword = "s3cret-BMC-pa55word"
)

// lab is a real boot server on loopback plus fake BMCs whose machines
// play a PXE boot against it.
type lab struct {
	t *testing.T
	*webtest.Server
	mu     sync.Mutex
	bmcs   map[string]*fakeMachine // by BMC URL
	opened []power.Credentials
	pwAsks []string // "machine/env" BMCPassword was asked for
}

func newLab(t *testing.T) *lab {
	t.Helper()
	return &lab{t: t, Server: webtest.Start(t, testToken), bmcs: map[string]*fakeMachine{}}
}

// machine declares a physical machine with a fake BMC that stops booting
// after the step stopAfter ("" boots all the way).
func (l *lab) machine(name, mac, stopAfter string) *fakeMachine {
	fm := &fakeMachine{lab: l, name: name, mac: mac, bmc: "ipmi://" + name + ".bmc.test:623", stopAfter: stopAfter}
	l.mu.Lock()
	l.bmcs[fm.bmc] = fm
	l.mu.Unlock()
	return fm
}

func (l *lab) substrate(ms ...*fakeMachine) schema.Values {
	sub := schema.Values{
		Attrs: map[string]cty.Value{"boot_server": cty.StringVal(l.URL)},
		Blocks: map[string][]schema.Nested{
			"image": {{Values: schema.Values{Attrs: map[string]cty.Value{
				"kernel":  cty.StringVal("vmlinuz"),
				"initrd":  cty.ListVal([]cty.Value{cty.StringVal("initrd.img")}),
				"cmdline": cty.StringVal("console=ttyS0"),
			}}}},
		},
	}
	for _, m := range ms {
		sub.Blocks["machine"] = append(sub.Blocks["machine"], schema.Nested{Labels: []string{m.name}, Values: schema.Values{Attrs: map[string]cty.Value{
			"mac":              cty.StringVal(m.mac),
			"bmc":              cty.StringVal(m.bmc),
			"bmc_user":         cty.StringVal("admin"),
			"bmc_password_env": cty.StringVal("PW_" + strings.ToUpper(m.name)),
			"labels":           cty.MapVal(map[string]cty.Value{"rack": cty.StringVal("a")}),
		}}})
	}
	return sub
}

func (l *lab) open(sub schema.Values, ready time.Duration) *Provisioner {
	l.t.Helper()
	p, err := Open(l.t.Context(), Config{
		BootToken: testToken,
		BMCPassword: func(machine, env string) (string, error) {
			l.mu.Lock()
			l.pwAsks = append(l.pwAsks, machine+"/"+env)
			l.mu.Unlock()
			return testPassword, nil
		},
		ReadyTimeout: ready,
		PollInterval: 10 * time.Millisecond,
	}, sub)
	if err != nil {
		l.t.Fatal(err)
	}
	p.openPower = func(ctx context.Context, bmcURL string, creds power.Credentials) (power.Controller, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.opened = append(l.opened, creds)
		fm, ok := l.bmcs[bmcURL]
		if !ok {
			return nil, &power.Error{Op: "open", BMC: bmcURL, Kind: power.ErrUnreachable}
		}
		return fm, nil
	}
	return p
}

// fakeMachine is a BMC and the machine behind it. Powering it on plays a
// PXE boot against the boot server in a goroutine.
type fakeMachine struct {
	lab            *lab
	name, mac, bmc string
	stopAfter      string
	mu             sync.Mutex
	on             bool
	calls          []string
	cancel         context.CancelFunc
	done           chan struct{}
	userData       []byte // what it fetched
	bootErr        error
}

func (f *fakeMachine) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

func (f *fakeMachine) boot() {
	f.stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	f.mu.Lock()
	f.on, f.cancel, f.done = true, cancel, done
	f.mu.Unlock()
	go func() {
		defer close(done)
		err := f.play(ctx)
		f.mu.Lock()
		f.bootErr = err
		f.mu.Unlock()
	}()
}

func (f *fakeMachine) stop() {
	f.mu.Lock()
	cancel, done := f.cancel, f.done
	f.on, f.cancel, f.done = false, nil, nil
	f.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (f *fakeMachine) On(ctx context.Context) error {
	f.record("on")
	f.mu.Lock()
	on := f.on
	f.mu.Unlock()
	if !on {
		f.boot()
	}
	return nil
}

func (f *fakeMachine) Off(ctx context.Context) error { f.record("off"); f.stop(); return nil }

func (f *fakeMachine) Cycle(ctx context.Context) error { f.record("cycle"); f.boot(); return nil }

func (f *fakeMachine) Status(ctx context.Context) (power.State, error) {
	f.record("status")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.on {
		return power.On, nil
	}
	return power.Off, nil
}

func (f *fakeMachine) BootPXE(ctx context.Context) error { f.record("pxe"); return nil }

func (f *fakeMachine) fetch(ctx context.Context, method, u string, body io.Reader) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, b)
	}
	return string(b), nil
}

var (
	chainRE  = regexp.MustCompile(`(?m)^chain (\S+)$`)
	kernelRE = regexp.MustCompile(`(?m)^kernel (\S+) .*ds=nocloud-net;s=(\S+)`)
)

// play is what firmware, iPXE and the booted OS do.
func (f *fakeMachine) play(ctx context.Context) error {
	if f.stopAfter == string(api.StateRegistered) {
		return nil
	}
	script, err := f.fetch(ctx, http.MethodGet, f.lab.URL+"/boot.ipxe?mac="+f.mac, nil)
	if err != nil {
		return err
	}
	if f.stopAfter == string(api.StateDHCP) {
		return nil
	}
	m := chainRE.FindStringSubmatch(script)
	if m == nil {
		return fmt.Errorf("no chain in %q", script)
	}
	script, err = f.fetch(ctx, http.MethodGet, m[1], nil)
	if err != nil {
		return err
	}
	if f.stopAfter == string(api.StateScriptFetched) {
		return nil
	}
	k := kernelRE.FindStringSubmatch(script)
	if k == nil {
		return fmt.Errorf("no kernel line in %q", script)
	}
	if kern, err := f.fetch(ctx, http.MethodGet, k[1], nil); err != nil || kern != "KERNEL" {
		return fmt.Errorf("kernel: %q, %v", kern, err)
	}
	if f.stopAfter == string(api.StateKernelFetched) {
		return nil
	}
	ud, err := f.fetch(ctx, http.MethodGet, k[2]+"user-data", nil)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.userData = []byte(ud)
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(ud))
	_, err = f.fetch(ctx, http.MethodPost, k[2]+"phone-home", strings.NewReader(hex.EncodeToString(sum[:])+"  user-data\n"))
	return err
}

func (f *fakeMachine) snapshot() ([]string, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls), f.userData, f.bootErr
}

func poolSel() schema.Values {
	return schema.Values{Attrs: map[string]cty.Value{"selector": cty.MapVal(map[string]cty.Value{"rack": cty.StringVal("a")})}}
}

func machineFor(sub, pool schema.Values, stack string, i int, role string) provisioners.Machine {
	return provisioners.Machine{
		Name:      fmt.Sprintf("%s-workers-%d", stack, i),
		Tags:      map[string]string{"strata:stack": stack, "strata:pool": "workers", "strata:index": fmt.Sprint(i), "strata:role": role},
		Substrate: sub, Pool: pool,
		UserData: []byte("#cloud-config\n# role " + role + " of " + stack + fmt.Sprint(i) + "\n"),
	}
}

func TestCreateReadyListDelete(t *testing.T) {
	l := newLab(t)
	ms := []*fakeMachine{
		l.machine("node1", "52:54:00:00:00:01", ""),
		l.machine("node2", "52:54:00:00:00:02", ""),
		l.machine("node3", "52:54:00:00:00:03", ""),
		l.machine("node4", "52:54:00:00:00:04", ""),
	}
	sub := l.substrate(ms...)
	p := l.open(sub, 10*time.Second)
	ctx := t.Context()
	// node2 is already on: it must be cycled, not left running.
	ms[1].mu.Lock()
	ms[1].on = true
	ms[1].mu.Unlock()

	tests := []struct {
		index int
		role  string
		phys  *fakeMachine
	}{
		{0, "master", ms[0]},
		{1, "agent", ms[1]},
		{2, "agent-public", ms[2]},
	}
	var ids []string
	for _, tc := range tests {
		m := machineFor(sub, poolSel(), "mesos", tc.index, tc.role)
		t.Run(m.Name, func(t *testing.T) {
			in, err := p.Create(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if in.ID != m.Name || in.State != provisioners.StatePending {
				t.Fatalf("Create = %+v", in)
			}
			ids = append(ids, in.ID)
			in, err = p.Ready(ctx, in.ID)
			if err != nil {
				t.Fatal(err)
			}
			if in.State != provisioners.StateRunning || len(in.Addresses) == 0 || in.Tags["strata:role"] != tc.role {
				t.Fatalf("Ready = %+v", in)
			}
			calls, ud, bootErr := tc.phys.snapshot()
			if bootErr != nil {
				t.Fatal(bootErr)
			}
			if !bytes.Equal(ud, m.UserData) {
				t.Fatalf("machine fetched user-data %q, want %q", ud, m.UserData)
			}
			wantPower := "on"
			if tc.phys == ms[1] {
				wantPower = "cycle"
			}
			if !slices.Contains(calls, "pxe") || !slices.Contains(calls, wantPower) {
				t.Fatalf("BMC calls %v, want pxe and %s", calls, wantPower)
			}
			reg, err := l.Store.GetMachine(ctx, m.Name)
			if err != nil {
				t.Fatal(err)
			}
			if reg.MAC != tc.phys.mac || reg.Profile != m.Name || reg.Labels[LabelMachine] != tc.phys.name || reg.Labels["rack"] != "a" {
				t.Fatalf("registered %+v", reg)
			}
			prof, err := l.Store.GetProfile(ctx, m.Name)
			if err != nil || prof.Kernel != "vmlinuz" || !bytes.Equal(prof.UserData, m.UserData) {
				t.Fatalf("profile %+v, %v", prof, err)
			}
		})
	}
	if t.Failed() {
		return
	}
	// Another stack's machine must not be listed.
	other := machineFor(sub, schema.Values{Attrs: map[string]cty.Value{"machines": cty.ListVal([]cty.Value{cty.StringVal("node4")})}}, "other", 0, "x")
	if _, err := p.Create(ctx, other); err != nil {
		t.Fatal(err)
	}

	list, err := p.List(ctx, map[string]string{"strata:stack": "mesos"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range list {
		got = append(got, in.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Fatalf("List = %v, want %v", got, ids)
	}
	// A TTL extended re-tags: the new expiry replaces the old, the rest stays.
	if err := provtest.Retag(ctx, p, ids[0], "mesos"); err != nil {
		t.Error(err)
	}

	for i, id := range ids {
		if err := p.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		calls, _, _ := tests[i].phys.snapshot()
		if calls[len(calls)-1] != "off" {
			t.Fatalf("%s: BMC calls %v, want off last", id, calls)
		}
		in, err := p.Read(ctx, id)
		if err != nil || in.State != provisioners.StateGone {
			t.Fatalf("Read after Delete = %+v, %v", in, err)
		}
		if _, err := l.Store.GetProfile(ctx, id); !errors.Is(err, inventory.ErrNotFound) {
			t.Fatalf("profile %s still there: %v", id, err)
		}
		if err := p.Delete(ctx, id); err != nil {
			t.Fatalf("deleting a missing machine: %v", err)
		}
	}
	if list, err := p.List(ctx, map[string]string{"strata:stack": "mesos"}); err != nil || len(list) != 0 {
		t.Fatalf("List after Delete = %v, %v", list, err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Contains(l.APIBodies(), testPassword) {
		t.Fatal("the BMC password reached the boot server")
	}
	for _, c := range l.opened {
		if c.Password != testPassword || c.User != "admin" {
			t.Fatalf("BMC opened with %v", c)
		}
	}
	if !slices.Contains(l.pwAsks, "node1/PW_NODE1") {
		t.Fatalf("BMCPassword asked for %v", l.pwAsks)
	}
}

func TestReadyTimeoutNamesStep(t *testing.T) {
	l := newLab(t)
	tests := []struct {
		stopAfter api.State
		want      string
	}{
		{api.StateRegistered, "no DHCP seen"},
		{api.StateDHCP, "never fetched its iPXE script"},
		{api.StateScriptFetched, "fetched its script but never its kernel"},
		{api.StateKernelFetched, "never phoned home"},
	}
	var ms []*fakeMachine
	for i, tc := range tests {
		ms = append(ms, l.machine(fmt.Sprintf("stuck%d", i), fmt.Sprintf("52:54:00:00:01:%02x", i), string(tc.stopAfter)))
	}
	sub := l.substrate(ms...)
	p := l.open(sub, 300*time.Millisecond)
	for i, tc := range tests {
		t.Run(string(tc.stopAfter), func(t *testing.T) {
			m := machineFor(sub, poolSel(), "stuck", i, "r")
			if _, err := p.Create(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			_, err := p.Ready(t.Context(), m.Name)
			if err == nil {
				t.Fatal("Ready succeeded for a machine that never phoned home")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"`+string(tc.stopAfter)+`"`) {
				t.Fatalf("error %q does not name step %q (%q)", err, tc.stopAfter, tc.want)
			}
			if provisioners.IsTransient(err) {
				t.Fatal("a boot timeout must not be retried as transient")
			}
			if _, _, bootErr := ms[i].snapshot(); bootErr != nil {
				t.Fatal(bootErr)
			}
		})
	}
}

func TestBMCPasswordNeverInErrors(t *testing.T) {
	l := newLab(t)
	fm := l.machine("node1", "52:54:00:00:02:01", "")
	sub := l.substrate(fm)
	p := l.open(sub, time.Second)
	m := machineFor(sub, poolSel(), "pw", 0, "r")

	// A BMC library that quotes the password back.
	p.openPower = func(ctx context.Context, bmcURL string, creds power.Credentials) (power.Controller, error) {
		return nil, fmt.Errorf("login to %s failed with password %s", bmcURL, creds.Password)
	}
	_, err := p.Create(t.Context(), m)
	if err == nil || strings.Contains(err.Error(), testPassword) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("Create error %v", err)
	}

	// A password source that fails.
	p.cfg.BMCPassword = func(machine, env string) (string, error) {
		return "", fmt.Errorf("environment variable %s is not set", env)
	}
	_, err = p.Create(t.Context(), m)
	if err == nil || !strings.Contains(err.Error(), "PW_NODE1") {
		t.Fatalf("Create error %v", err)
	}

	// An unreachable BMC is transient, and so is Delete's power-off.
	p.cfg.BMCPassword = func(string, string) (string, error) { return testPassword, nil }
	p.openPower = func(ctx context.Context, bmcURL string, creds power.Credentials) (power.Controller, error) {
		return nil, &power.Error{Op: "open", BMC: bmcURL, Kind: power.ErrUnreachable, Detail: "no answer"}
	}
	if _, err := p.Create(t.Context(), m); !provisioners.IsTransient(err) || strings.Contains(err.Error(), testPassword) {
		t.Fatalf("Create with an unreachable BMC: %v", err)
	}
	if err := p.Delete(t.Context(), m.Name); !provisioners.IsTransient(err) {
		t.Fatalf("Delete with an unreachable BMC: %v", err)
	}
	if _, err := l.Store.GetMachine(t.Context(), m.Name); err != nil {
		t.Fatalf("machine deregistered although it could not be powered off: %v", err)
	}
}

func TestBootServerErrors(t *testing.T) {
	l := newLab(t)
	fm := l.machine("node1", "52:54:00:00:03:01", "")
	sub := l.substrate(fm)
	p := l.open(sub, time.Second)

	// Wrong token: refused at Open, not transient.
	_, err := Open(t.Context(), Config{BootToken: "wrong-token-0123456789"}, sub)
	if err == nil || provisioners.IsTransient(err) || !strings.Contains(err.Error(), "token") {
		t.Fatalf("Open with a wrong token: %v", err)
	}

	// 5xx is transient.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
	}))
	live := p.server
	p.server = client.New(down.URL, "bench-token-0123456789", http.DefaultClient)
	if _, err := p.Read(t.Context(), "x"); !provisioners.IsTransient(err) {
		t.Fatalf("Read against a 503: %v", err)
	}
	// A refused connection is transient.
	down.Close()
	if _, err := p.List(t.Context(), nil); !provisioners.IsTransient(err) {
		t.Fatalf("List against a closed server: %v", err)
	}
	p.server = live

	// 4xx is not: a pool index beyond the machines is caught before.
	m := machineFor(sub, poolSel(), "bad", 5, "r")
	if _, err := p.Create(t.Context(), m); err == nil || provisioners.IsTransient(err) || !strings.Contains(err.Error(), "only 1 machine") {
		t.Fatalf("Create beyond the pool: %v", err)
	}
	m = machineFor(sub, poolSel(), "bad", 0, "r")
	m.Name = "bad name!"
	if _, err := p.Create(t.Context(), m); err == nil || provisioners.IsTransient(err) {
		t.Fatalf("Create with an invalid name: %v", err)
	}
}

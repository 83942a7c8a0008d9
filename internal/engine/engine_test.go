package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/plan"
)

// memory is an in-memory substrate for the engine's own rules (order,
// bounds, retries, cancellation); real substrates are tested in their
// packages and under acceptance/.
type memory struct {
	mu        sync.Mutex
	vms       map[string]provisioners.Instance
	data      map[string][]byte
	events    []string
	inFlight  atomic.Int32
	maxFlight atomic.Int32
	fail      map[string]int // name -> transient failures left
	broken    string         // a name whose create always fails
	delay     time.Duration
	next      int
}

func newMemory() *memory {
	return &memory{vms: map[string]provisioners.Instance{}, data: map[string][]byte{}, fail: map[string]int{}}
}

func (m *memory) enter() func() {
	n := m.inFlight.Add(1)
	for {
		old := m.maxFlight.Load()
		if n <= old || m.maxFlight.CompareAndSwap(old, n) {
			break
		}
	}
	return func() { m.inFlight.Add(-1) }
}

func (m *memory) log(format string, args ...any) {
	m.mu.Lock()
	m.events = append(m.events, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

func (m *memory) Spec() provisioners.Spec { return provisioners.Spec{Kind: "vsphere"} }

func (m *memory) Create(ctx context.Context, mc provisioners.Machine) (provisioners.Instance, error) {
	defer m.enter()()
	select {
	case <-time.After(m.delay):
	case <-ctx.Done():
		return provisioners.Instance{}, ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if mc.Name == m.broken {
		return provisioners.Instance{}, errors.New("template is corrupt")
	}
	if m.fail[mc.Name] > 0 {
		m.fail[mc.Name]--
		return provisioners.Instance{}, provisioners.Transient(errors.New("503 busy"))
	}
	m.next++
	id := fmt.Sprintf("vm-%d", m.next)
	in := provisioners.Instance{ID: id, Name: mc.Name, Tags: mc.Tags, State: "pending"}
	m.vms[id] = in
	m.data[mc.Name] = mc.UserData
	m.events = append(m.events, "create "+mc.Name)
	return in, nil
}

func (m *memory) Ready(ctx context.Context, id string) (provisioners.Instance, error) {
	defer m.enter()()
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.vms[id]
	if !ok {
		return in, fmt.Errorf("%s is gone", id)
	}
	in.State, in.Addresses = "running", []string{"10.0.0." + strings.TrimPrefix(id, "vm-")}
	m.vms[id] = in
	m.events = append(m.events, "ready "+in.Name)
	return in, nil
}

func (m *memory) Read(ctx context.Context, id string) (provisioners.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vms[id], nil
}

func (m *memory) Delete(ctx context.Context, id string) error {
	defer m.enter()()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, "delete "+m.vms[id].Name)
	delete(m.vms, id)
	return nil
}

func (m *memory) List(ctx context.Context, tags map[string]string) ([]provisioners.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []provisioners.Instance
	for _, in := range m.vms {
		match := true
		for k, v := range tags {
			match = match && in.Tags[k] == v
		}
		if match {
			out = append(out, in)
		}
	}
	return out, nil
}

func (m *memory) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.vms)
}

func stackSrc(agents int, extra string) []byte {
	return []byte(fmt.Sprintf(`stack {
  name = "e"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "t"
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = %d
}
layer "mesos" "m" {
  role "master" {
    on    = pool.p
    count = 3
  }
  role "agent" {
    on = pool.p
  }
}
%s`, 3+agents, extra))
}

func compile(t *testing.T, src []byte) *plan.Plan {
	t.Helper()
	kinds := catalog.Kinds()
	s, _, diags := stacks.Parse(map[string][]byte{"s.hcl": src}, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return plan.Compile(s, kinds)
}

func engineFor(m *memory, par int) *Engine {
	return New(OpenFunc(func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) { return m, nil }),
		Options{Parallelism: par, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
}

func TestOrderAndAddresses(t *testing.T) {
	m := newMemory()
	res, err := engineFor(m, 4).Apply(context.Background(), compile(t, stackSrc(5, "")), layertest.Secrets(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Machines) != 8 || m.count() != 8 {
		t.Fatalf("%d machines in result, %d exist; want 8", len(res.Machines), m.count())
	}
	lastMasterReady, firstAgentCreate := -1, len(m.events)
	for i, ev := range m.events {
		if strings.HasPrefix(ev, "ready e-p-") && (ev <= "ready e-p-2") {
			lastMasterReady = i
		}
		if strings.HasPrefix(ev, "create ") && ev >= "create e-p-3" && i < firstAgentCreate {
			firstAgentCreate = i
		}
	}
	if lastMasterReady > firstAgentCreate {
		t.Fatalf("an agent was created before every master was ready: %v", m.events)
	}
	// Agents are rendered once the masters have addresses: they name them.
	if ud := string(m.data["e-p-3"]); !strings.Contains(ud, "zk://10.0.0.") {
		t.Fatalf("agent bootstrap does not name masters by address:\n%s", ud)
	}
	for _, r := range res.Machines {
		if r.ID == "" || len(r.Addresses) == 0 || r.State != "running" {
			t.Fatalf("machine %+v not recorded as running with an address", r)
		}
	}
}

func TestParallelismBound(t *testing.T) {
	for _, par := range []int{1, 3, 8} {
		m := newMemory()
		m.delay = 5 * time.Millisecond
		if _, err := engineFor(m, par).Apply(context.Background(), compile(t, stackSrc(20, "")), layertest.Secrets(t)); err != nil {
			t.Fatal(err)
		}
		if got := m.maxFlight.Load(); got > int32(par) || (par > 1 && got < 2) {
			t.Fatalf("parallelism %d: %d calls ran at once", par, got)
		}
	}
}

func TestRetries(t *testing.T) {
	m := newMemory()
	m.fail["e-p-4"] = 2
	var retries atomic.Int32
	e := engineFor(m, 4)
	e.opts.Report = func(ev Event) {
		if ev.Action == "retry" {
			retries.Add(1)
		}
	}
	if _, err := e.Apply(context.Background(), compile(t, stackSrc(3, "")), layertest.Secrets(t)); err != nil {
		t.Fatal(err)
	}
	if retries.Load() != 2 || m.count() != 6 {
		t.Fatalf("%d retries, %d machines; want 2 and 6", retries.Load(), m.count())
	}

	m = newMemory()
	m.fail["e-p-4"] = 100
	_, err := engineFor(m, 4).Apply(context.Background(), compile(t, stackSrc(3, "")), layertest.Secrets(t))
	if err == nil || !strings.Contains(err.Error(), "gave up after 5 attempts") || !strings.Contains(err.Error(), "e-p-4") {
		t.Fatalf("endless transient failure: %v", err)
	}

	m = newMemory()
	m.broken = "e-p-1"
	res, err := engineFor(m, 4).Apply(context.Background(), compile(t, stackSrc(3, "")), layertest.Secrets(t))
	if err == nil || !strings.Contains(err.Error(), "creating e-p-1") || !strings.Contains(err.Error(), "template is corrupt") {
		t.Fatalf("permanent failure: %v", err)
	}
	if len(res.Machines) != m.count() {
		t.Fatalf("result records %d machines but %d exist: state would be lost", len(res.Machines), m.count())
	}
}

// TestCancelThenAdopt: an apply cancelled halfway leaves tagged machines;
// the next apply adopts them and ends with exactly the planned set.
func TestCancelThenAdopt(t *testing.T) {
	m := newMemory()
	m.delay = 20 * time.Millisecond
	p := compile(t, stackSrc(12, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := engineFor(m, 2).Apply(ctx, p, layertest.Secrets(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled apply: %v", err)
	}
	if n := m.count(); n == 0 || n >= 15 {
		t.Fatalf("%d machines after a cancelled apply; want some, not all", n)
	}
	m.delay = 0
	res, err := engineFor(m, 4).Apply(context.Background(), p, layertest.Secrets(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.count() != 15 || len(res.Machines) != 15 {
		t.Fatalf("%d machines exist, %d recorded; want 15", m.count(), len(res.Machines))
	}
	names := map[string]bool{}
	m.mu.Lock()
	for _, in := range m.vms {
		if names[in.Name] {
			t.Errorf("duplicate %s", in.Name)
		}
		names[in.Name] = true
	}
	m.mu.Unlock()
}

func TestScaleAndDestroy(t *testing.T) {
	m := newMemory()
	e := engineFor(m, 4)
	ctx := context.Background()
	for _, agents := range []int{5, 8, 2} {
		res, err := e.Apply(ctx, compile(t, stackSrc(agents, "")), layertest.Secrets(t))
		if err != nil {
			t.Fatal(err)
		}
		if m.count() != 3+agents {
			t.Fatalf("agents=%d: %d machines", agents, m.count())
		}
		if agents == 2 && strings.Join(res.Removed, ",") != "e-p-10,e-p-5,e-p-6,e-p-7,e-p-8,e-p-9" {
			t.Fatalf("scale-down removed %v", res.Removed)
		}
	}
	creates := 0
	for _, ev := range m.events {
		if strings.HasPrefix(ev, "create ") {
			creates++
		}
	}
	if creates != 11 {
		t.Fatalf("%d creates for 5 -> 8 -> 2 agents; want 8 + 3 = 11 (only the difference)", creates)
	}
	res, err := e.Destroy(ctx, compile(t, stackSrc(2, "")).Source())
	if err != nil || m.count() != 0 || len(res.Removed) != 5 {
		t.Fatalf("destroy: %v, %d left, removed %v", err, m.count(), res.Removed)
	}
}

func TestUnsupportedTouchesNothing(t *testing.T) {
	m := newMemory()
	p := compile(t, stackSrc(2, `layer "kubernetes" "k" {
  role "control-plane" {
    on = layer.mesos.m
  }
}
`))
	_, err := engineFor(m, 4).Apply(context.Background(), p, layertest.Secrets(t))
	if !errors.Is(err, ErrUnsupported) || m.count() != 0 {
		t.Fatalf("hosted role: %v, %d machines made", err, m.count())
	}
}

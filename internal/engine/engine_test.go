package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/provisioners/fakesub"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/kubernetes"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/layers/mesos"
	"github.com/stratastack/strata/stacks/layers/openstack"
	"github.com/stratastack/strata/stacks/plan"
)

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

// engineFor is an engine on the in-memory substrate m: the engine's own
// rules (order, bounds, retries, cancellation) do not depend on the
// substrate; real ones are tested in their packages and under acceptance/.
func engineFor(m *fakesub.Substrate, par int) *Engine {
	return New(OpenFunc(m.Open), Options{Parallelism: par, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
}

func TestOrderAndAddresses(t *testing.T) {
	m := fakesub.New()
	res, err := engineFor(m, 4).Apply(context.Background(), compile(t, stackSrc(5, "")), layertest.Secrets(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Machines) != 8 || m.Count() != 8 {
		t.Fatalf("%d machines in result, %d exist; want 8", len(res.Machines), m.Count())
	}
	events := m.Events()
	lastMasterReady, firstAgentCreate := -1, len(events)
	for i, ev := range events {
		if strings.HasPrefix(ev, "ready e-p-") && (ev <= "ready e-p-2") {
			lastMasterReady = i
		}
		if strings.HasPrefix(ev, "create ") && ev >= "create e-p-3" && i < firstAgentCreate {
			firstAgentCreate = i
		}
	}
	if lastMasterReady > firstAgentCreate {
		t.Fatalf("an agent was created before every master was ready: %v", events)
	}
	// Agents are rendered once the masters have addresses: they name them.
	if ud := string(m.UserData("e-p-3")); !strings.Contains(ud, "zk://10.0.0.") {
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
		m := fakesub.New()
		m.SetDelay(5 * time.Millisecond)
		if _, err := engineFor(m, par).Apply(context.Background(), compile(t, stackSrc(20, "")), layertest.Secrets(t)); err != nil {
			t.Fatal(err)
		}
		if got := m.MaxInFlight(); got > par || (par > 1 && got < 2) {
			t.Fatalf("parallelism %d: %d calls ran at once", par, got)
		}
	}
}

func TestRetries(t *testing.T) {
	m := fakesub.New()
	m.FailTransiently("e-p-4", 2)
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
	if retries.Load() != 2 || m.Count() != 6 {
		t.Fatalf("%d retries, %d machines; want 2 and 6", retries.Load(), m.Count())
	}

	m = fakesub.New()
	m.FailTransiently("e-p-4", 100)
	_, err := engineFor(m, 4).Apply(context.Background(), compile(t, stackSrc(3, "")), layertest.Secrets(t))
	if err == nil || !strings.Contains(err.Error(), "gave up after 5 attempts") || !strings.Contains(err.Error(), "e-p-4") {
		t.Fatalf("endless transient failure: %v", err)
	}

	m = fakesub.New()
	m.FailCreate("e-p-1", errors.New("template is corrupt"))
	res, err := engineFor(m, 4).Apply(context.Background(), compile(t, stackSrc(3, "")), layertest.Secrets(t))
	if err == nil || !strings.Contains(err.Error(), "creating e-p-1") || !strings.Contains(err.Error(), "template is corrupt") {
		t.Fatalf("permanent failure: %v", err)
	}
	if len(res.Machines) != m.Count() {
		t.Fatalf("result records %d machines but %d exist: state would be lost", len(res.Machines), m.Count())
	}
}

// TestCancelThenAdopt: an apply cancelled halfway leaves tagged machines;
// the next apply adopts them and ends with exactly the planned set.
func TestCancelThenAdopt(t *testing.T) {
	m := fakesub.New()
	m.SetDelay(20 * time.Millisecond)
	p := compile(t, stackSrc(12, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := engineFor(m, 2).Apply(ctx, p, layertest.Secrets(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled apply: %v", err)
	}
	if n := m.Count(); n == 0 || n >= 15 {
		t.Fatalf("%d machines after a cancelled apply; want some, not all", n)
	}
	m.SetDelay(0)
	res, err := engineFor(m, 4).Apply(context.Background(), p, layertest.Secrets(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.Count() != 15 || len(res.Machines) != 15 {
		t.Fatalf("%d machines exist, %d recorded; want 15", m.Count(), len(res.Machines))
	}
	names := map[string]bool{}
	for _, n := range m.Names() {
		if names[n] {
			t.Errorf("duplicate %s", n)
		}
		names[n] = true
	}
}

func TestScaleAndDestroy(t *testing.T) {
	m := fakesub.New()
	e := engineFor(m, 4)
	ctx := context.Background()
	for _, agents := range []int{5, 8, 2} {
		res, err := e.Apply(ctx, compile(t, stackSrc(agents, "")), layertest.Secrets(t))
		if err != nil {
			t.Fatal(err)
		}
		if m.Count() != 3+agents {
			t.Fatalf("agents=%d: %d machines", agents, m.Count())
		}
		if agents == 2 && strings.Join(res.Removed, ",") != "e-p-10,e-p-5,e-p-6,e-p-7,e-p-8,e-p-9" {
			t.Fatalf("scale-down removed %v", res.Removed)
		}
	}
	creates := 0
	for _, ev := range m.Events() {
		if strings.HasPrefix(ev, "create ") {
			creates++
		}
	}
	if creates != 11 {
		t.Fatalf("%d creates for 5 -> 8 -> 2 agents; want 8 + 3 = 11 (only the difference)", creates)
	}
	res, err := e.Destroy(ctx, compile(t, stackSrc(2, "")), layertest.Secrets(t))
	if err != nil || m.Count() != 0 || len(res.Removed) != 5 {
		t.Fatalf("destroy: %v, %d left, removed %v", err, m.Count(), res.Removed)
	}
}

// plainLayer hides a layer kind's Hosting: a kind that cannot host yet.
type plainLayer struct{ layers.Layer }

// A role hosted on a layer of a kind that cannot host fails the apply
// before anything is made.
func TestUnsupportedTouchesNothing(t *testing.T) {
	m := fakesub.New()
	set, err := layers.NewSet(plainLayer{mesos.New()}, kubernetes.New(), openstack.New())
	if err != nil {
		t.Fatal(err)
	}
	kinds := stacks.Kinds{Layers: set, Substrates: catalog.Kinds().Substrates}
	s, _, diags := stacks.Parse(map[string][]byte{"s.hcl": stackSrc(2, `layer "kubernetes" "k" {
  role "control-plane" {
    on = layer.mesos.m
  }
}
`)}, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, err = engineFor(m, 4).Apply(context.Background(), plan.Compile(s, kinds), layertest.Secrets(t))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "submitting to a mesos layer is not implemented yet") || m.Count() != 0 {
		t.Fatalf("hosted role: %v, %d machines made", err, m.Count())
	}
}

func TestCheckParallelism(t *testing.T) {
	for _, tc := range []struct {
		n   int64
		err string
	}{
		{1, ""}, {DefaultParallelism, ""}, {500, ""},
		{0, "parallelism must be at least 1, got 0"},
		{-1, "parallelism must be at least 1, got -1"},
	} {
		err := CheckParallelism(tc.n)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("CheckParallelism(%d) = %v, want %q", tc.n, err, tc.err)
		}
	}
}

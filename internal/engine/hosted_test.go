package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/provisioners/fakesub"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/fakehost"
	"github.com/stratastack/strata/stacks/layers/kubernetes"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/layers/mesos"
	"github.com/stratastack/strata/stacks/layers/openstack"
	"github.com/stratastack/strata/stacks/plan"
)

// hostedSrc: Kubernetes on two vSphere machines, and Mesos (agents
// agents) as workloads on it.
func hostedSrc(agents int, withMesos bool) []byte {
	src := `stack {
  name = "h"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "t"
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = 2
}
layer "kubernetes" "k" {
  role "control-plane" {
    on    = pool.p
    count = 1
  }
  role "worker" {
    on = pool.p
  }
}
`
	if withMesos {
		src += fmt.Sprintf(`layer "mesos" "m" {
  role "master" {
    on    = layer.kubernetes.k
    count = 1
  }
  role "agent" {
    on    = layer.kubernetes.k
    count = %d
  }
}
`, agents)
	}
	return []byte(src)
}

// compileHosted compiles src with the kubernetes kind served by h.
func compileHosted(t *testing.T, src []byte, h *fakehost.Host) *plan.Plan {
	t.Helper()
	set, err := layers.NewSet(mesos.New(), fakehost.Layer{Layer: kubernetes.New(), Served: h}, openstack.New())
	if err != nil {
		t.Fatal(err)
	}
	kinds := stacks.Kinds{Layers: set, Substrates: catalog.Kinds().Substrates}
	s, _, diags := stacks.Parse(map[string][]byte{"s.hcl": src}, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return plan.Compile(s, kinds)
}

func TestHostedRoles(t *testing.T) {
	ctx := context.Background()
	m, h := fakesub.New(), fakehost.New()
	e := engineFor(m, 4)
	sec := layertest.Secrets(t)

	res, err := e.Apply(ctx, compileHosted(t, hostedSrc(2, true), h), sec)
	if err != nil {
		t.Fatal(err)
	}
	// The host is reached once, after its machines are up, and the agents
	// go after the master they join.
	if h.Opens() != 1 || m.Count() != 2 {
		t.Fatalf("%d opens of the host, %d machines", h.Opens(), m.Count())
	}
	events := h.Events()
	masterReady := slices.IndexFunc(events, func(ev string) bool { return strings.HasPrefix(ev, "ready ") && strings.Contains(ev, "master") })
	agentSubmit := slices.IndexFunc(events, func(ev string) bool { return strings.HasPrefix(ev, "submit ") && strings.Contains(ev, "agent") })
	if masterReady < 0 || agentSubmit < masterReady {
		t.Fatalf("agents submitted before the master was ready: %q", events)
	}
	if len(res.Hosted) != 2 || res.Hosted[0].State != "running" || len(res.Hosted[0].Objects) == 0 {
		t.Fatalf("hosted result %+v", res.Hosted)
	}
	objects := h.IDs()

	// A re-run changes nothing; a new count updates in place.
	before := len(h.Events())
	if _, err := e.Apply(ctx, compileHosted(t, hostedSrc(2, true), h), sec); err != nil {
		t.Fatal(err)
	}
	for _, ev := range h.Events()[before:] {
		if !strings.HasPrefix(ev, "ready ") {
			t.Errorf("re-run: %s", ev)
		}
	}
	before = len(h.Events())
	if _, err := e.Apply(ctx, compileHosted(t, hostedSrc(3, true), h), sec); err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, ev := range h.Events()[before:] {
		if !strings.HasPrefix(ev, "ready ") {
			changed = append(changed, ev)
		}
	}
	if len(changed) == 0 || !slices.Equal(h.IDs(), objects) {
		t.Fatalf("scaling the agents: %q, objects %q (were %q)", changed, h.IDs(), objects)
	}
	for _, ev := range changed {
		if !strings.HasPrefix(ev, "update ") || !strings.Contains(ev, "agent") {
			t.Errorf("scaling the agents did %s", ev)
		}
	}

	// Status sees them; taking the layer out of the file removes its
	// objects and leaves the machines.
	st, err := e.Status(ctx, compileHosted(t, hostedSrc(3, true), h), sec)
	if err != nil || len(st.Hosted) != 2 || st.Hosted[1].State != "running" || len(st.Orphans)+len(st.OrphanObjects) != 0 {
		t.Fatalf("status: %v %+v orphans %v %v", err, st.Hosted, st.Orphans, st.OrphanObjects)
	}
	st, err = e.Status(ctx, compileHosted(t, hostedSrc(0, false), h), sec)
	if err != nil || len(st.OrphanObjects) != len(objects) || len(st.Orphans) != 0 {
		t.Fatalf("status without the layer: %v, orphans %v %v", err, st.Orphans, st.OrphanObjects)
	}
	res, err = e.Apply(ctx, compileHosted(t, hostedSrc(0, false), h), sec)
	if err != nil || len(h.IDs()) != 0 || m.Count() != 2 || len(res.RemovedObjects) != len(objects) || len(res.Removed) != 0 {
		t.Fatalf("apply without the layer: %v, objects left %q, %d machines, removed %v %v", err, h.IDs(), m.Count(), res.Removed, res.RemovedObjects)
	}

	// Destroy removes the objects before the machines they run on.
	if _, err := e.Apply(ctx, compileHosted(t, hostedSrc(1, true), h), sec); err != nil {
		t.Fatal(err)
	}
	var deletes []string
	var mu sync.Mutex
	e = New(OpenFunc(m.Open), Options{Parallelism: 4, Report: func(ev Event) {
		if ev.Action == ActionDelete {
			mu.Lock()
			deletes = append(deletes, ev.Machine)
			mu.Unlock()
		}
	}})
	res, err = e.Destroy(ctx, compileHosted(t, hostedSrc(1, true), h), sec)
	if err != nil || len(h.IDs()) != 0 || m.Count() != 0 {
		t.Fatalf("destroy: %v, objects left %q, %d machines", err, h.IDs(), m.Count())
	}
	if len(res.RemovedObjects) != len(objects) || len(res.Removed) != 2 || len(deletes) != len(objects)+2 {
		t.Fatalf("destroy removed %v and %v, reported %v", res.Removed, res.RemovedObjects, deletes)
	}
	for i, d := range deletes {
		if onHost := strings.HasPrefix(d, "kubernetes.k:"); onHost != (i < len(objects)) {
			t.Fatalf("destroy did not remove the hosted objects before the machines: %q", deletes)
		}
	}
}

// A role that does not come up fails the apply naming the role and the
// object, and leaves what was made recorded.
func TestHostedRoleFails(t *testing.T) {
	m, h := fakesub.New(), fakehost.New()
	p := compileHosted(t, hostedSrc(1, true), h)
	objs, err := p.RenderHosted(context.Background(), layertest.Secrets(t), "mesos.m", "agent", nil)
	if err != nil {
		t.Fatal(err)
	}
	h.FailWait(fakehost.ID(objs[len(objs)-1]), errors.New("pod agent-0 container mesos-agent: CrashLoopBackOff"))
	res, err := engineFor(m, 4).Apply(context.Background(), p, layertest.Secrets(t))
	if err == nil || !strings.Contains(err.Error(), "mesos.m/agent") || !strings.Contains(err.Error(), "CrashLoopBackOff") {
		t.Fatalf("apply: %v", err)
	}
	if len(res.Machines) != 2 {
		t.Fatalf("result lost the machines: %+v", res.Machines)
	}
}

// An object without a role label (a namespace the layer's roles share)
// is planned while any role of its layer is hosted there.
func TestUnplannedSharedObjects(t *testing.T) {
	h := fakehost.New()
	ns := placed{host: "layer.kubernetes.k", Placed: layers.Placed{ID: "v1/namespaces/h-m",
		Labels: map[string]string{layers.LabelStack: "h", layers.LabelLayer: "mesos.m"}}}
	agent := placed{host: "layer.kubernetes.k", Placed: layers.Placed{ID: "apps/v1/statefulsets/h-m/agent",
		Labels: map[string]string{layers.LabelStack: "h", layers.LabelLayer: "mesos.m", layers.LabelRole: "agent"}}}
	if got := unplanned(compileHosted(t, hostedSrc(2, true), h), []placed{ns, agent}); len(got) != 0 {
		t.Errorf("with the layer planned: %v are unplanned", got)
	}
	if got := unplanned(compileHosted(t, hostedSrc(0, false), h), []placed{ns, agent}); len(got) != 2 {
		t.Errorf("without the layer: %v are unplanned, want both", got)
	}
}

// A host that stays in the stack but does not answer the survey is waited
// for, so the objects of a role taken off it go in this apply.
func TestBusyHostIsWaitedFor(t *testing.T) {
	ctx := context.Background()
	m, h := fakesub.New(), fakehost.New()
	e := engineFor(m, 4)
	if _, err := e.Apply(ctx, compileHosted(t, hostedSrc(2, true), h), layertest.Secrets(t)); err != nil {
		t.Fatal(err)
	}
	withoutAgents := strings.Replace(string(hostedSrc(2, true)), `  role "agent" {
    on    = layer.kubernetes.k
    count = 2
  }
`, "", 1)
	h.Busy(2)
	res, err := e.Apply(ctx, compileHosted(t, []byte(withoutAgents), h), layertest.Secrets(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range h.IDs() {
		if strings.Contains(id, "agent") {
			t.Fatalf("the agents' %s is left after an apply without them (removed %v)", id, res.RemovedObjects)
		}
	}
	if len(res.RemovedObjects) == 0 {
		t.Fatal("nothing was removed")
	}
}

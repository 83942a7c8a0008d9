package mesos_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/layers/marathon/marathontest"
	"github.com/stratastack/strata/stacks/plan"
)

// stackOn is a stack with a mesos layer on a pool and a kubernetes layer
// on it; endpoint, when set, is the mesos layer's marathon_endpoint.
func stackOn(t *testing.T, endpoint string) *plan.Plan {
	t.Helper()
	setting := ""
	if endpoint != "" {
		setting = "  marathon_endpoint = \"" + endpoint + "\"\n"
	}
	src := `stack {
  name = "s"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "t"
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = 2
}
layer "mesos" "core" {
` + setting + `  role "master" {
    on    = pool.p
    count = 1
  }
  role "agent" {
    on = pool.p
  }
}
layer "kubernetes" "apps" {
  role "control-plane" {
    on    = layer.mesos.core
    count = 1
  }
  role "worker" {
    on    = layer.mesos.core
    count = 2
  }
}
`
	kinds := catalog.Kinds()
	s, _, diags := stacks.Parse(map[string][]byte{"s.strata.hcl": []byte(src)}, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return plan.Compile(s, kinds)
}

// TestThroughThePlan drives the mesos layer as a host the way the engine
// does, with what the plan renders and reaches: hosted roles submitted in
// order and waited for, listed by the stack's label, then removed.
func TestThroughThePlan(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sec := layertest.Secrets(t)

	p := stackOn(t, "")
	if !p.CanHost("mesos.core") {
		t.Fatal("a mesos layer cannot host")
	}
	if _, err := p.LayerHost(ctx, sec, "mesos.core", nil); !errors.Is(err, layers.ErrNotUp) {
		t.Errorf("LayerHost before the master has an address: %v, want ErrNotUp", err)
	}

	m := marathontest.Start(t)
	p = stackOn(t, m.URL)
	h, err := p.LayerHost(ctx, sec, "mesos.core", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"control-plane", "worker"} {
		objs, err := p.RenderHosted(ctx, sec, "kubernetes.apps", role, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Submit(ctx, objs); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if err := h.Wait(ctx, objs); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if got, err := h.List(ctx, objs[0].Labels); err != nil || len(got) != 1 {
			t.Errorf("%s: listed %v, %v", role, got, err)
		}
	}
	all, err := h.List(ctx, map[string]string{layers.LabelStack: "s"})
	if err != nil || len(all) != 2 {
		t.Fatalf("the stack's objects: %v, %v", all, err)
	}
	for _, o := range all {
		if err := h.Remove(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if apps, groups := m.AppIDs(), m.GroupIDs(); len(apps)+len(groups) != 0 {
		t.Errorf("left: %v %v", apps, groups)
	}
}

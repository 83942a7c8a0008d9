package plan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/plan"
)

func compile(t *testing.T, path string, opts stacks.Options) *plan.Plan {
	t.Helper()
	kinds := catalog.Kinds()
	s, _, diags := stacks.Load(path, kinds, opts)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return plan.Compile(s, kinds)
}

func TestContractPlan(t *testing.T) {
	p := compile(t, "../../examples/stacks/contract", stacks.Options{})
	var js, indented bytes.Buffer
	if err := p.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := json.Indent(&indented, js.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	layertest.Golden(t, "contract.plan.json", indented.Bytes())
	var text bytes.Buffer
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	layertest.Golden(t, "contract.plan.txt", text.Bytes())

	machines := []struct {
		pool, name, layer, role string
		index                   int
	}{
		{"infra", "edge-1-infra-0", "mesos.core", "master", 0},
		{"infra", "edge-1-infra-2", "mesos.core", "master", 2},
		{"infra", "edge-1-infra-3", "mesos.core", "agent", 3},
		{"infra", "edge-1-infra-5", "mesos.core", "agent", 5},
		{"metal", "edge-1-metal-1", "openstack.cloud", "compute", 1},
		{"tenant", "edge-1-tenant-9", "", "", 9},
	}
	for _, w := range machines {
		m, ok := p.Machine(w.pool, w.index)
		if !ok || m.Name != w.name || m.Layer != w.layer || m.Role != w.role {
			t.Errorf("%s/%d = %+v, want %s %s/%s", w.pool, w.index, m, w.name, w.layer, w.role)
		}
		if m.Tags[provisioners.TagStack] != "edge-1" || m.Tags[provisioners.TagPool] != w.pool || m.Tags[provisioners.TagRole] != w.role {
			t.Errorf("%s tags %v", m.Name, m.Tags)
		}
	}
	if len(p.Machines) != 18 {
		t.Errorf("%d machines, want 18", len(p.Machines))
	}
	hosted := map[string]int{}
	for _, h := range p.Hosted {
		hosted[h.Layer+"/"+h.Role+"@"+h.On] = h.Count
	}
	for k, n := range map[string]int{
		"kubernetes.apps/control-plane@mesos.core": 3, "kubernetes.apps/worker@mesos.core": 3,
		"openstack.cloud/controller@kubernetes.apps": 3,
	} {
		if hosted[k] != n {
			t.Errorf("hosted %s = %d, want %d (all: %v)", k, hosted[k], n, hosted)
		}
	}
}

// TestOrder checks that each step comes after what it needs, across
// placements: agents after masters, hosted roles after their host, pools on
// an openstack layer after the layer.
func TestOrder(t *testing.T) {
	p := compile(t, "../../examples/stacks/contract", stacks.Options{})
	stage := map[string]int{}
	for _, s := range p.Steps {
		stage[s.ID] = s.Stage
		for _, a := range s.After {
			if _, done := stage[a]; !done {
				t.Errorf("step %s listed before %s, which it needs", s.ID, a)
			}
		}
	}
	before := [][2]string{
		{"ready:layer.mesos.core/master", "create:pool.infra/mesos.core/agent"},
		{"ready:layer.mesos.core", "submit:layer.kubernetes.apps/control-plane"},
		{"ready:layer.kubernetes.apps/control-plane", "submit:layer.kubernetes.apps/worker"},
		{"ready:layer.kubernetes.apps", "submit:layer.openstack.cloud/controller"},
		{"ready:layer.openstack.cloud/controller", "create:pool.metal/openstack.cloud/compute"},
		{"ready:layer.openstack.cloud", "create:pool.tenant"},
	}
	for _, b := range before {
		x, okx := stage[b[0]]
		y, oky := stage[b[1]]
		if !okx || !oky || x >= y {
			t.Errorf("%s (stage %d, %v) must come before %s (stage %d, %v)", b[0], x, okx, b[1], y, oky)
		}
	}
}

// TestScalingKeepsNames: growing or shrinking the role that takes the rest
// of a pool only adds or removes machines at the end.
func TestScalingKeepsNames(t *testing.T) {
	src := func(size string) []byte {
		return []byte(`stack {
  name = "s"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "t"
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = ` + size + `
}
layer "mesos" "m" {
  role "agent" {
    on = pool.p
  }
  role "master" {
    on    = pool.p
    count = 3
  }
}
`)
	}
	kinds := catalog.Kinds()
	var prev *plan.Plan
	for _, size := range []string{"8", "11", "5"} {
		s, _, diags := stacks.Parse(map[string][]byte{"s.hcl": src(size)}, kinds, stacks.Options{})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		p := plan.Compile(s, kinds)
		for i := 0; i < 3; i++ {
			if m, _ := p.Machine("p", i); m.Role != "master" {
				t.Fatalf("size %s: machine %d is %q, masters come first", size, i, m.Role)
			}
		}
		if prev != nil {
			for _, m := range p.Machines {
				if old, ok := prev.Machine(m.Pool, m.Index); ok && (old.Name != m.Name || old.Role != m.Role) {
					t.Fatalf("size %s: %s changed from %s/%s to %s/%s", size, m.Name, old.Name, old.Role, m.Name, m.Role)
				}
			}
		}
		prev = p
	}
}

func TestRenderErrors(t *testing.T) {
	p := compile(t, "../../examples/stacks/contract", stacks.Options{})
	sec := layertest.Secrets(t)
	ctx := context.Background()
	for _, tc := range []struct {
		pool  string
		index int
		want  string
	}{
		{"nope", 0, `no pool "nope"`},
		{"infra", 6, "has no machine 6 (size 6)"},
		{"tenant", 0, "carries no layer role"},
	} {
		if _, err := p.RenderNode(ctx, sec, tc.pool, tc.index, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RenderNode(%s/%d) = %v, want %q", tc.pool, tc.index, err, tc.want)
		}
	}
	if _, err := p.RenderHosted(ctx, sec, "mesos.core", "master", nil); err == nil || !strings.Contains(err.Error(), "not on a layer") {
		t.Errorf("RenderHosted of a pool role: %v", err)
	}
	b, err := p.RenderNode(ctx, sec, "infra", 4, nil)
	if err != nil || !bytes.HasPrefix(b.UserData, []byte("#cloud-config")) || !b.Sensitive {
		t.Fatalf("RenderNode(infra/4) = %v, %s", err, b.UserData)
	}
	objs, err := p.RenderHosted(ctx, sec, "kubernetes.apps", "worker", nil)
	if err != nil || len(objs) == 0 || objs[0].Format != "marathon" {
		t.Fatalf("RenderHosted(kubernetes.apps/worker) = %v, %+v", err, objs)
	}
	for _, o := range objs {
		want := map[string]string{layers.LabelStack: p.Stack, layers.LabelLayer: "kubernetes.apps", layers.LabelRole: "worker"}
		if !maps.Equal(o.Labels, want) {
			t.Errorf("%s %s labels %v, want %v", o.Kind, o.Name, o.Labels, want)
		}
	}
}

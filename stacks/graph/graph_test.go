package graph_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/graph"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/plan"
)

// exampleStacks are the example stacks, as the acceptance tests and make tour
// find them: every *.strata.hcl of examples/stacks and every folder there.
func exampleStacks(t testing.TB, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".strata.hcl") {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	if len(out) < 6 {
		t.Fatalf("want at least six example stacks in %s, found %v", root, out)
	}
	return out
}

func load(t *testing.T, path string) (*stacks.Stack, *plan.Plan) {
	t.Helper()
	kinds := catalog.Kinds()
	s, _, diags := stacks.Load(path, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return s, plan.Compile(s, kinds)
}

func draw(t *testing.T, s *stacks.Stack, p *plan.Plan, o graph.Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := graph.Write(&b, s, p, o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Every example stack draws as its golden DOT, the same twice over, and
// the DOT names every substrate, pool, layer and role with its stage.
func TestExamplesGolden(t *testing.T) {
	for _, path := range exampleStacks(t, "../../examples/stacks") {
		name := strings.TrimSuffix(filepath.Base(path), ".strata.hcl")
		t.Run(name, func(t *testing.T) {
			s, p := load(t, path)
			got := draw(t, s, p, graph.Options{})
			if again := draw(t, s, p, graph.Options{}); again != got {
				t.Fatal("two drawings of one stack differ")
			}
			layertest.Golden(t, name+".dot", []byte(got))
			for _, sub := range s.Substrates {
				if !strings.Contains(got, `"cluster_substrate.`+sub.Kind+"."+sub.Name+`"`) {
					t.Errorf("no cluster for substrate %s.%s", sub.Kind, sub.Name)
				}
			}
			for _, pool := range s.Pools {
				if !strings.Contains(got, `"pool.`+pool.Name+`" [shape=box3d`) {
					t.Errorf("no node for pool %s", pool.Name)
				}
			}
			for _, l := range s.Layers {
				if !strings.Contains(got, `"cluster_layer.`+l.Key()+`"`) {
					t.Errorf("no cluster for layer %s", l.Key())
				}
				for _, r := range l.Roles {
					node := regexp.MustCompile(regexp.QuoteMeta(`"layer.`+l.Key()+"/"+r.Name+`" [label="`) + `[^"]*stage \d+`)
					if !node.MatchString(got) {
						t.Errorf("no node with a stage for role %s/%s", l.Key(), r.Name)
					}
				}
			}
		})
	}
}

// The parts of a drawing, on a stack small enough to read: what each
// placement draws as, and each colour a record gives.
func TestWrite(t *testing.T) {
	const src = `
stack { name = "g" }
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "ubuntu-24.04"
}
pool "infra" {
  substrate = substrate.vsphere.dc
  size      = 5
  cpus      = 2
  memory_mb = 1536
}
layer "mesos" "m" {
  role "master" {
    on    = pool.infra
    count = 1
  }
  role "agent" {
    on    = pool.infra
    count = 3
  }
}
layer "kubernetes" "k" {
  role "control-plane" {
    on    = layer.mesos.m
    count = 1
  }
  role "worker" {
    on    = layer.mesos.m
    count = 2
  }
}
`
	kinds := catalog.Kinds()
	s, _, diags := stacks.Parse(map[string][]byte{"g.strata.hcl": []byte(src)}, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := plan.Compile(s, kinds)
	running, pending := provisioners.StateRunning, provisioners.StatePending
	for _, tc := range []struct {
		name     string
		recorded map[string]string
		want     []string
	}{
		{"no record", nil, []string{
			`"pool.infra" [shape=box3d, style=filled, fillcolor="#dbeafe", label="pool infra\n5 × 2 CPU, 1536 MB, 20 GB disk\n1 without a role"]`,
			`"layer.mesos.m/master" [label="master × 1\nmachines of pool infra\nstage 1"]`,
			`"layer.kubernetes.k/worker" [label="worker × 2\nhosted on mesos.m\nstage 8"]`,
			`label="layer kubernetes.k (kubernetes `,
			`"pool.infra" -> "layer.mesos.m/agent";`,
			`"layer.mesos.m/master" -> "layer.kubernetes.k/control-plane" [ltail="cluster_layer.mesos.m"`,
			`rankdir=BT`,
		}},
		{"nothing recorded", map[string]string{}, []string{
			`label="pool infra\n5 × 2 CPU, 1536 MB, 20 GB disk\n1 without a role\n0/5 up"`,
			`"layer.mesos.m/master" [label="master × 1\nmachines of pool infra\nstage 1\n0/1 up", fillcolor="#e5e7eb"]`,
			// nothing on the host layer: its hosted roles cannot be there
			`"layer.kubernetes.k/worker" [label="worker × 2\nhosted on mesos.m\nstage 8", fillcolor="#e5e7eb"]`,
			`grey: missing`,
		}},
		{"some machines", map[string]string{"g-infra-0": running, "g-infra-1": running, "g-infra-2": pending, "g-other-9": running}, []string{
			`fillcolor="#fde68a", label="pool infra\n5 × 2 CPU, 1536 MB, 20 GB disk\n1 without a role\n2/5 up"`,
			`"layer.mesos.m/master" [label="master × 1\nmachines of pool infra\nstage 1\n1/1 up", fillcolor="#bbf7d0"]`,
			`"layer.mesos.m/agent" [label="agent × 3\nmachines of pool infra\nstage 3\n1/3 up", fillcolor="#fde68a"]`,
			// the host has machines: whether its hosted roles run, a record does not say
			`"layer.kubernetes.k/worker" [label="worker × 2\nhosted on mesos.m\nstage 8", fillcolor="#ffffff", style="rounded,filled,dashed"]`,
		}},
		{"all up", map[string]string{"g-infra-0": running, "g-infra-1": running, "g-infra-2": running, "g-infra-3": running, "g-infra-4": running}, []string{
			`fillcolor="#bbf7d0", label="pool infra\n5 × 2 CPU, 1536 MB, 20 GB disk\n1 without a role\n5/5 up"`,
			`label="layer mesos.m (mesos 1.11.0), ready at stage 5"; labeljust=l; fontsize=13; style="rounded,filled"; fillcolor="#ecfdf5"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := draw(t, s, p, graph.Options{Recorded: tc.recorded})
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("the drawing lacks %s\n%s", w, got)
				}
			}
		})
	}
}

package stacks_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// FuzzParse feeds arbitrary text to the parser, validator and compiler as
// native HCL and as HCL JSON: they must report, never panic.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/stacks/*.strata.hcl")
	more, _ := filepath.Glob("../examples/stacks/*/*.strata.*")
	for _, p := range append(seeds, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, filepath.Ext(p) == ".json")
	}
	f.Add([]byte(head+`layer "mesos" "m" { role "master" { on = layer.mesos.m } }`), false)
	f.Add([]byte(`{"stack":{"name":"x"},"pool":{"p":{"substrate":"layer.openstack.o","size":1}}}`), true)
	kinds := catalog.Kinds()
	f.Fuzz(func(t *testing.T, src []byte, asJSON bool) {
		name := "fuzz.hcl"
		if asJSON {
			name = "fuzz.json"
		}
		s, _, diags := stacks.Parse(map[string][]byte{name: src}, kinds, stacks.Options{Vars: []string{"agents=2"}})
		if s == nil {
			if !diags.HasErrors() {
				t.Fatal("no stack and no error")
			}
			return
		}
		p := plan.Compile(s, kinds)
		total := 0
		for _, pool := range s.Pools {
			total += pool.Size
		}
		if len(p.Machines) != total {
			t.Fatalf("plan has %d machines, pools hold %d", len(p.Machines), total)
		}
	})
}

package provider

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/provisioners/fakesub"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/graph"
	"github.com/stratastack/strata/stacks/plan"
)

// strata_graph's dot is strata graph's drawing of the stack with the
// variables given; a broken stack fails with its file and line. The valid
// configuration comes last: the post-test destroy plans it.
func TestGraphDataSource(t *testing.T) {
	path := writeStack(t, "t1.strata.hcl", testStack)
	kinds := catalog.Kinds()
	s, _, diags := stacks.Load(path, kinds, stacks.Options{Vars: []string{"agents=4"}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var want bytes.Buffer
	if err := graph.Write(&want, s, plan.Compile(s, kinds), graph.Options{}); err != nil {
		t.Fatal(err)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(fakesub.New()),
		Steps: []resource.TestStep{
			{
				Config:      "data \"strata_graph\" \"t\" {\n  source = \"stack {\\n  name = \\\"t1\\\"\\n}\\npool \\\"p\\\" {\\n  substrate = substrate.vsphere.nope\\n  size = 1\\n}\\n\"\n}\n",
				ExpectError: wrapped(`source.strata.hcl:5,24: No substrate "vsphere" "nope" is declared.`),
			},
			{
				Config:      "data \"strata_graph\" \"t\" {}\n",
				ExpectError: wrapped(`Set path (a stack file or folder) or source`),
			},
			{
				Config: fmt.Sprintf("data \"strata_graph\" \"t\" {\n  path = %q\n  vars = { agents = 4 }\n}\n", path),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.strata_graph.t", tfjsonpath.New("dot"), knownvalue.StringExact(want.String())),
					statecheck.ExpectKnownValue("data.strata_graph.t", tfjsonpath.New("id"), knownvalue.StringExact("t1")),
				},
			},
		},
	})
}

package provider

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/fakesub"
)

// The tests here run the real terraform binary against the provider with an
// in-memory substrate (provisioners/fakesub); acceptance/ runs the same resource
// against the vSphere simulator.

const testStack = `stack {
  name = "t1"
}

variable "agents" {
  type    = number
  default = 2
}

substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "ubuntu-24.04"
}

pool "infra" {
  substrate = substrate.vsphere.dc
  size      = 3 + var.agents
}

layer "mesos" "core" {
  role "master" {
    on    = pool.infra
    count = 3
  }
  role "agent" {
    on = pool.infra
  }
}
`

func writeStack(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func stackConfig(path string, agents int) string {
	return fmt.Sprintf(`
resource "strata_stack" "t" {
  path = %q
  vars = {
    agents = %d
  }
}
`, path, agents)
}

// wrapped matches text as Terraform prints it: wrapped at any space.
// Parts are joined by (?s).* (anything between them).
func wrapped(parts ...string) *regexp.Regexp {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = strings.ReplaceAll(regexp.QuoteMeta(p), " ", `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(q, ".*"))
}

func machinePath(name, attr string) tfjsonpath.Path {
	return tfjsonpath.New("machines").AtMapKey(name).AtMapKey(attr)
}

// names lists the machine names t1-infra-0 ... t1-infra-(n-1).
func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t1-infra-%d", i)
	}
	slices.Sort(out)
	return out
}

// expectVMs checks the substrate holds exactly want.
func expectVMs(mem *fakesub.Substrate, want []string) func(*terraform.State) error {
	return func(*terraform.State) error {
		if got := mem.Names(); !slices.Equal(got, want) {
			return fmt.Errorf("the substrate holds %v, want %v", got, want)
		}
		return nil
	}
}

// keptIDs checks every machine recorded in ids still has its id.
func keptIDs(mem *fakesub.Substrate, ids map[string]string) func(*terraform.State) error {
	return func(*terraform.State) error {
		now := mem.IDs()
		for name, id := range ids {
			if got, ok := now[name]; ok && got != id {
				return fmt.Errorf("%s was replaced: id %s, was %s", name, got, id)
			}
		}
		return nil
	}
}

func TestStackResourceLifecycle(t *testing.T) {
	mem := fakesub.New()
	path := writeStack(t, "t1.strata.hcl", testStack)
	ids := map[string]string{}
	remember := func(*terraform.State) error {
		for k, v := range mem.IDs() {
			ids[k] = v
		}
		return nil
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(mem),
		CheckDestroy:             expectVMs(mem, nil),
		Steps: []resource.TestStep{
			{
				Config: stackConfig(path, 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("strata_stack.t", plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue("strata_stack.t", tfjsonpath.New("name"), knownvalue.StringExact("t1")),
					plancheck.ExpectKnownValue("strata_stack.t", machinePath("t1-infra-0", "role"), knownvalue.StringExact("master")),
					plancheck.ExpectKnownValue("strata_stack.t", machinePath("t1-infra-4", "role"), knownvalue.StringExact("agent")),
					plancheck.ExpectUnknownValue("strata_stack.t", machinePath("t1-infra-4", "substrate_id")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("strata_stack.t", tfjsonpath.New("id"), knownvalue.StringExact("t1")),
					statecheck.ExpectKnownValue("strata_stack.t", tfjsonpath.New("machines"), knownvalue.MapSizeExact(5)),
					statecheck.ExpectKnownValue("strata_stack.t", tfjsonpath.New("machines").AtMapKey("t1-infra-3"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"pool": knownvalue.StringExact("infra"), "index": knownvalue.Int64Exact(3),
						"layer": knownvalue.StringExact("mesos.core"), "role": knownvalue.StringExact("agent"),
						"substrate":    knownvalue.StringExact("substrate.vsphere.dc"),
						"substrate_id": knownvalue.StringRegexp(regexp.MustCompile(`^vm-\d+$`)),
						"addresses":    knownvalue.ListSizeExact(1),
						"state":        knownvalue.StringExact("running"),
					})),
					statecheck.ExpectKnownValue("strata_stack.t", tfjsonpath.New("layers"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"kind": knownvalue.StringExact("mesos"), "name": knownvalue.StringExact("core"), "version": knownvalue.StringExact("1.11.0"),
						}),
					})),
				},
				Check: resource.ComposeTestCheckFunc(expectVMs(mem, names(5)), remember),
			},
			{
				// Scale up: only the two new machines are unknown in the plan.
				Config: stackConfig(path, 4),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("strata_stack.t", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("strata_stack.t", machinePath("t1-infra-5", "substrate_id")),
					plancheck.ExpectUnknownValue("strata_stack.t", machinePath("t1-infra-6", "addresses")),
					plancheck.ExpectKnownValue("strata_stack.t", machinePath("t1-infra-4", "substrate_id"), knownvalue.StringRegexp(regexp.MustCompile(`^vm-\d+$`))),
					plancheck.ExpectKnownValue("strata_stack.t", machinePath("t1-infra-0", "state"), knownvalue.StringExact("running")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("strata_stack.t", tfjsonpath.New("machines"), knownvalue.MapSizeExact(7)),
				},
				Check: resource.ComposeTestCheckFunc(expectVMs(mem, names(7)), keptIDs(mem, ids), remember),
			},
			{
				// Scale down: the plan drops the last four, the rest stay.
				Config: stackConfig(path, 0),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("strata_stack.t", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("strata_stack.t", tfjsonpath.New("machines"), knownvalue.MapSizeExact(3)),
				}},
				Check: resource.ComposeTestCheckFunc(expectVMs(mem, names(3)), keptIDs(mem, ids)),
			},
			{
				ResourceName:      "strata_stack.t",
				ImportState:       true,
				ImportStateId:     path + "?agents=0",
				ImportStateVerify: true,
			},
		},
	})
}

// vanish deletes a machine behind strata's back; the step fails unless it
// existed and is gone.
func vanish(t *testing.T, mem *fakesub.Substrate, name string) {
	t.Helper()
	id, ok := mem.IDs()[name]
	if !ok {
		t.Fatalf("setup: %s does not exist, so it cannot vanish", name)
	}
	if err := mem.Delete(t.Context(), id); err != nil {
		t.Fatalf("setup: delete %s: %v", name, err)
	}
	if _, ok := mem.IDs()[name]; ok {
		t.Fatalf("setup: %s is still there after Delete", name)
	}
}

// orphan makes a machine that carries stack t1's tags but is not in its
// plan; the step fails unless the substrate then lists it.
func orphan(t *testing.T, mem *fakesub.Substrate, name, index string) {
	t.Helper()
	_, err := mem.Create(t.Context(), provisioners.Machine{Name: name, Tags: map[string]string{
		"strata:stack": "t1", "strata:pool": "infra", "strata:index": index}})
	if err != nil {
		t.Fatalf("setup: create %s: %v", name, err)
	}
	if _, ok := mem.IDs()[name]; !ok {
		t.Fatalf("setup: %s was created but is not listed", name)
	}
}

// TestStackResourceOrphansAndDrift: a machine that vanished is planned
// again, and one that carries the stack's tag but is not planned shows up
// as unplanned and is removed by the next apply.
func TestStackResourceOrphansAndDrift(t *testing.T) {
	mem := fakesub.New()
	path := writeStack(t, "t1.strata.hcl", testStack)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(mem),
		CheckDestroy:             expectVMs(mem, nil),
		Steps: []resource.TestStep{
			{Config: stackConfig(path, 1), Check: expectVMs(mem, names(4))},
			{
				PreConfig: func() {
					vanish(t, mem, "t1-infra-3")
					orphan(t, mem, "t1-infra-9", "9")
				},
				Config: stackConfig(path, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("strata_stack.t", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("strata_stack.t", machinePath("t1-infra-3", "substrate_id")),
					plancheck.ExpectKnownValue("strata_stack.t", tfjsonpath.New("machines"), knownvalue.MapSizeExact(4)),
				}},
				Check: expectVMs(mem, names(4)),
			},
			{
				PreConfig:    func() { orphan(t, mem, "t1-infra-7", "7") },
				RefreshState: true,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("strata_stack.t", "machines.t1-infra-7.state", "unplanned"),
					resource.TestCheckResourceAttr("strata_stack.t", "machines.t1-infra-7.pool", "infra"),
					resource.TestCheckResourceAttr("strata_stack.t", "machines.t1-infra-7.index", "7"),
				),
				ExpectNonEmptyPlan: true,
			},
			{Config: stackConfig(path, 1), Check: expectVMs(mem, names(4))},
		},
	})
}

func TestStackResourceStackDiagnostics(t *testing.T) {
	mem := fakesub.New()
	bad := writeStack(t, "bad.strata.hcl", strings.Replace(testStack, `role "master"`, `role "mastr"`, 1))
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(mem),
		Steps: []resource.TestStep{
			{
				Config:      stackConfig(bad, 1),
				ExpectError: wrapped(`Unknown role "mastr"`, `bad.strata.hcl:21,8: A mesos layer has the roles master, agent. Did you mean "master"?`, `21 |   role "mastr" {`),
			},
			{
				Config: `
resource "strata_stack" "t" {
  source = "stack {\n  name = \"t1\"\n}\npool \"p\" {\n  substrate = substrate.vsphere.nope\n  size = 1\n}\n"
}`,
				ExpectError: wrapped(`source.strata.hcl:5,24: No substrate "vsphere" "nope" is declared.`),
			},
			{
				Config: fmt.Sprintf(`
resource "strata_stack" "t" {
  path = %q
  vars = { agentz = 3 }
}`, filepath.Join(filepath.Dir(bad), "missing.strata.hcl")),
				ExpectError: wrapped(`Cannot read stack`, `missing.strata.hcl`),
			},
			{
				Config:      stackConfig(writeStack(t, "ok.strata.hcl", testStack), 1) + `resource "strata_stack" "u" {}`,
				ExpectError: wrapped(`Set path (a stack file or folder) or source`),
			},
		},
	})
	if n := len(mem.Names()); n != 0 {
		t.Fatalf("%d machines were made for invalid stacks", n)
	}
}

// TestStackResourcePlanTimeFailures: what the provider cannot do fails at
// plan time, before a machine is made.
func TestStackResourcePlanTimeFailures(t *testing.T) {
	mem := fakesub.New()
	ok := writeStack(t, "ok.strata.hcl", testStack)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(mem),
		Steps: []resource.TestStep{
			{
				PreConfig:   func() { mem.FailOpen(errBadLogin) },
				Config:      stackConfig(ok, 1),
				PlanOnly:    true,
				ExpectError: wrapped(`ok.strata.hcl:10,1: substrate.vsphere.dc: vsphere: login to`, `wrong user name or password`),
			},
		},
	})
	if n := len(mem.Names()); n != 0 {
		t.Fatalf("%d machines were made for stacks that cannot be applied", n)
	}
}

// TestStackResourcePartialCreate: a create that fails halfway records
// what it made, and destroy removes it.
func TestStackResourcePartialCreate(t *testing.T) {
	mem := fakesub.New()
	mem.FailCreate("t1-infra-4", errDatastoreFull("t1-infra-4"))
	path := writeStack(t, "t1.strata.hcl", testStack)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(mem),
		CheckDestroy:             expectVMs(mem, nil),
		Steps: []resource.TestStep{
			{
				Config:      stackConfig(path, 2),
				ExpectError: wrapped(`Stack only partly brought up`, `the datastore is full`, `recorded in state`),
			},
			{
				// The failed create left a tainted stack holding what it made.
				PreConfig: func() {
					if got := mem.Names(); len(got) < 3 || len(got) > 4 {
						t.Errorf("after the failed create the substrate holds %v", got)
					}
					mem.FailCreate("t1-infra-4", nil)
				},
				Config: stackConfig(path, 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("strata_stack.t", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: expectVMs(mem, names(5)),
			},
		},
	})
}

// TestStackResourcePartialUpdate: an update that fails halfway records
// what exists — the machines it made and those it could not remove — and
// the next apply finishes it without replacing the stack.
func TestStackResourcePartialUpdate(t *testing.T) {
	mem := fakesub.New()
	path := writeStack(t, "t1.strata.hcl", testStack)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(mem),
		CheckDestroy:             expectVMs(mem, nil),
		Steps: []resource.TestStep{
			{Config: stackConfig(path, 2), Check: expectVMs(mem, names(5))},
			{
				PreConfig:   func() { mem.FailDelete("t1-infra-4", errLocked("t1-infra-4")) },
				Config:      stackConfig(path, 0),
				ExpectError: wrapped(`Stack only partly applied`, `the VM is locked by another task`, `the next apply adopts them`),
			},
			{
				// t1-infra-4 is still recorded, so the plan removes it again.
				PreConfig: func() { mem.FailDelete("t1-infra-4", nil) },
				Config:    stackConfig(path, 0),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("strata_stack.t", plancheck.ResourceActionUpdate),
				}},
				Check: expectVMs(mem, names(3)),
			},
			{
				PreConfig:   func() { mem.FailCreate("t1-infra-4", errDatastoreFull("t1-infra-4")) },
				Config:      stackConfig(path, 2),
				ExpectError: wrapped(`Stack only partly applied`, `the datastore is full`),
			},
			{
				PreConfig: func() { mem.FailCreate("t1-infra-4", nil) },
				Config:    stackConfig(path, 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("strata_stack.t", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("strata_stack.t", machinePath("t1-infra-4", "substrate_id")),
				}},
				Check: expectVMs(mem, names(5)),
			},
		},
	})
}

func TestStackResourceRenameReplaces(t *testing.T) {
	mem := fakesub.New()
	src := func(name string) string {
		return fmt.Sprintf(`
resource "strata_stack" "t" {
  source = %q
}`, strings.Replace(testStack, `name = "t1"`, `name = "`+name+`"`, 1))
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(mem),
		CheckDestroy:             expectVMs(mem, nil),
		Steps: []resource.TestStep{
			{Config: src("t1"), Check: expectVMs(mem, names(5))},
			{
				Config: src("t2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("strata_stack.t", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: expectVMs(mem, []string{"t2-infra-0", "t2-infra-1", "t2-infra-2", "t2-infra-3", "t2-infra-4"}),
			},
		},
	})
}

func TestParseImportID(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "odd?name.strata.hcl")
	if err := os.WriteFile(odd, []byte(testStack), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, path string
		vars     map[string]string
		err      string
	}{
		{id: "stacks/a.strata.hcl", path: "stacks/a.strata.hcl"},
		{id: "stacks/a?agents=5&env=prod%20eu", path: "stacks/a", vars: map[string]string{"agents": "5", "env": "prod eu"}},
		{id: odd, path: odd},
		{id: "a?x=1&x=2", err: `"x" is given 2 times`},
		{id: "a?x=%zz", err: "do not parse"},
		{id: "", err: "the import id is the stack's path"},
	} {
		in, err := parseImportID(c.id)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.id, err, c.err)
			}
			continue
		}
		if err != nil || in.Path != c.path || fmt.Sprint(in.Vars) != fmt.Sprint(c.vars) && len(c.vars)+len(in.Vars) > 0 {
			t.Errorf("%q: got %+v, %v; want path %q vars %v", c.id, in, err, c.path, c.vars)
		}
	}
}

func TestOrphanMachine(t *testing.T) {
	m := orphanMachine("edge-1", "edge-1-big-pool-12")
	if m.Pool.ValueString() != "big-pool" || m.Index.ValueInt64() != 12 || m.State.ValueString() != stateUnplanned {
		t.Fatalf("got %+v", m)
	}
	if m := orphanMachine("edge-1", "other-thing"); !m.Pool.IsNull() || !m.Index.IsNull() {
		t.Fatalf("a foreign name parsed: %+v", m)
	}
}

// TestStackResourceExpiry: expires_at and the CI job are on every
// machine's tags, and a new expires_at re-tags the same machines.
func TestStackResourceExpiry(t *testing.T) {
	t.Setenv("CI_JOB_URL", "https://ci.example/jobs/7")
	mem := fakesub.New()
	path := writeStack(t, "t1.strata.hcl", testStack)
	config := func(expires string) string {
		return fmt.Sprintf(`
resource "strata_stack" "t" {
  path       = %q
  expires_at = %q
}
`, path, expires)
	}
	tagged := func(expires string) func(*terraform.State) error {
		return func(*terraform.State) error {
			list, err := mem.List(t.Context(), map[string]string{provisioners.TagStack: "t1"})
			if err != nil || len(list) != 5 {
				return fmt.Errorf("%d machines, %v", len(list), err)
			}
			for _, in := range list {
				if in.Tags[provisioners.TagExpires] != expires || in.Tags[provisioners.TagCreatedBy] != "https://ci.example/jobs/7" {
					return fmt.Errorf("%s tags %v, want expires %s", in.Name, in.Tags, expires)
				}
			}
			return nil
		}
	}
	ids := map[string]string{}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(mem),
		CheckDestroy:             expectVMs(mem, nil),
		Steps: []resource.TestStep{
			{Config: config("tomorrow"), ExpectError: wrapped(`Invalid expires_at`, `"tomorrow" is not an RFC 3339 time`)},
			{Config: config("2030-01-01T00:00:00Z"), Check: resource.ComposeTestCheckFunc(tagged("2030-01-01T00:00:00Z"), func(*terraform.State) error {
				maps.Copy(ids, mem.IDs())
				return nil
			})},
			{
				Config: config("2030-01-01T06:00:00+02:00"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("strata_stack.t", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(tagged("2030-01-01T04:00:00Z"), keptIDs(mem, ids)),
			},
		},
	})
}

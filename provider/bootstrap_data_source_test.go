package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/provisioners/fakesub"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

const testSeed = "0707070707070707070707070707070707070707070707070707070707070707"

// render is what strata_bootstrap must return for a node.
func render(t *testing.T, path, seedHex, pool string, idx int, known plan.Addresses) string {
	t.Helper()
	kinds := catalog.Kinds()
	s, _, diags := stacks.Load(path, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	seed, err := secrets.Parse(seedHex)
	if err != nil {
		t.Fatal(err)
	}
	b, err := plan.Compile(s, kinds).RenderNode(context.Background(), seed, pool, idx, known)
	if err != nil {
		t.Fatal(err)
	}
	return string(b.UserData)
}

func TestBootstrapDataSourceNode(t *testing.T) {
	path := writeStack(t, "t1.strata.hcl", testStack)
	master := render(t, path, testSeed, "infra", 0, plan.Addresses{"t1-infra-0": "10.1.0.10", "t1-infra-1": "10.1.0.11", "t1-infra-2": "10.1.0.12"})
	agent := render(t, path, testSeed, "infra", 4, plan.Addresses{"t1-infra-0": "10.1.0.10", "t1-infra-1": "10.1.0.11", "t1-infra-2": "10.1.0.12"})
	if master == agent || !strings.Contains(agent, "10.1.0.11") {
		t.Fatalf("the renders do not differ by role or ignore addresses:\n%s", agent)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(fakesub.New()),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
locals {
  masters = { "t1-infra-0" = "10.1.0.10", "t1-infra-1" = "10.1.0.11", "t1-infra-2" = "10.1.0.12" }
}

data "strata_bootstrap" "master" {
  path      = %[1]q
  node      = "infra/0"
  seed      = %[2]q
  addresses = local.masters
}

data "strata_bootstrap" "agent" {
  path      = %[1]q
  vars      = { agents = 3 }
  node      = "infra/4"
  seed      = %[2]q
  addresses = local.masters
}
`, path, testSeed),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.strata_bootstrap.master", tfjsonpath.New("user_data"), knownvalue.StringExact(master)),
				statecheck.ExpectKnownValue("data.strata_bootstrap.master", tfjsonpath.New("machine"), knownvalue.StringExact("t1-infra-0")),
				statecheck.ExpectKnownValue("data.strata_bootstrap.master", tfjsonpath.New("format"), knownvalue.StringExact("cloud-config")),
				statecheck.ExpectKnownValue("data.strata_bootstrap.master", tfjsonpath.New("id"), knownvalue.StringExact("t1/infra/0")),
				statecheck.ExpectKnownValue("data.strata_bootstrap.master", tfjsonpath.New("objects"), knownvalue.Null()),
				statecheck.ExpectKnownValue("data.strata_bootstrap.agent", tfjsonpath.New("user_data"), knownvalue.StringExact(agent)),
				statecheck.ExpectSensitiveValue("data.strata_bootstrap.agent", tfjsonpath.New("user_data")),
			},
		}},
	})
}

func TestBootstrapDataSourceHosted(t *testing.T) {
	path := writeStack(t, "t1.strata.hcl", testStack+`
layer "kubernetes" "apps" {
  role "control-plane" {
    on    = layer.mesos.core
    count = 3
  }
  role "worker" {
    on    = layer.mesos.core
    count = 2
  }
}
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(fakesub.New()),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
data "strata_bootstrap" "workers" {
  path  = %q
  layer = "kubernetes.apps"
  role  = "worker"
  seed  = %q
}
`, path, testSeed),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.strata_bootstrap.workers", tfjsonpath.New("id"), knownvalue.StringExact("t1/kubernetes.apps/worker")),
				statecheck.ExpectKnownValue("data.strata_bootstrap.workers", tfjsonpath.New("objects").AtSliceIndex(0).AtMapKey("format"), knownvalue.StringExact("marathon")),
				statecheck.ExpectKnownValue("data.strata_bootstrap.workers", tfjsonpath.New("user_data"), knownvalue.Null()),
				statecheck.ExpectSensitiveValue("data.strata_bootstrap.workers", tfjsonpath.New("objects")),
			},
			Check: resource.TestMatchResourceAttr("data.strata_bootstrap.workers", "objects.0.body", wrapped(`"id"`)),
		}},
	})
}

// TestBootstrapDataSourceSeedFile: without seed, the CLI's seed file is
// used, and made when missing, so every render of a stack agrees.
func TestBootstrapDataSourceSeedFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	path := writeStack(t, "t1.strata.hcl", testStack)
	var first string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(fakesub.New()),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
data "strata_bootstrap" "a" {
  path = %[1]q
  node = "infra/3"
}

data "strata_bootstrap" "b" {
  path = %[1]q
  node = "infra/3"
}
`, path),
			Check: func(s *terraform.State) error {
				a := s.RootModule().Resources["data.strata_bootstrap.a"].Primary.Attributes["user_data"]
				b := s.RootModule().Resources["data.strata_bootstrap.b"].Primary.Attributes["user_data"]
				if a == "" || a != b {
					return fmt.Errorf("two renders of one machine differ")
				}
				first = a
				return nil
			},
		}},
	})
	raw, err := os.ReadFile(filepath.Join(dir, ".strata", "t1.seed"))
	if err != nil {
		t.Fatalf("no seed file was made: %v", err)
	}
	if want := render(t, path, strings.TrimSpace(string(raw)), "infra", 3, nil); first != want {
		t.Fatalf("the render does not use the seed file")
	}
}

func TestBootstrapDataSourceErrors(t *testing.T) {
	path := writeStack(t, "t1.strata.hcl", testStack)
	step := func(body, want string) resource.TestStep {
		return resource.TestStep{
			Config:      fmt.Sprintf("data \"strata_bootstrap\" \"x\" {\n  path = %q\n%s\n}\n", path, body),
			ExpectError: wrapped(want),
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(fakesub.New()),
		Steps: []resource.TestStep{
			step(`node = "infra/0"
  layer = "mesos.core"
  role = "agent"`, "Set either node (a machine, POOL/INDEX) or layer and role"),
			step(`node = "infra"`, `"infra" is not POOL/INDEX`),
			step(`node = "infra/9"`, `pool "infra" has no machine 9 (size 5)`),
			step(`node = "infra/0"
  seed = "abc"`, "Invalid seed"),
			step(`layer = "mesos.core"
  role = "agent"`, "is placed on pool.infra, not on a layer"),
			step(`layer = "mesos.cor"
  role = "agent"`, `Stack "t1" has no layer "mesos.cor"; write KIND.NAME, one of: mesos.core.`),
			step(`role = "agent"`, "role needs layer"),
		},
	})
}

package acceptance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/vsphere"
	"github.com/stratastack/strata/provisioners/vsphere/vcsim"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// The provider's acceptance tests: the real terraform binary drives the
// provider (served from this process) against an in-process vSphere
// simulator, and every check reads the simulator's inventory directly.
// They set TF_ACC themselves (see enableAcceptance), so `go test
// ./acceptance` runs them wherever terraform is on PATH.

const stackAddr = "strata_stack.mesos"

// wrapped matches text as Terraform prints it, wrapped at any space;
// parts are matched in order with anything between them.
func wrapped(parts ...string) *regexp.Regexp {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = strings.ReplaceAll(regexp.QuoteMeta(p), " ", `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(q, ".*"))
}

// checkStack checks the simulator holds exactly the stack's planned VMs,
// each tagged for its place, in the stack's folder, carrying the bootstrap
// plan.RenderNode gives that machine with the stack's seed, and recorded
// in state under its own managed object id.
func checkStack(sim *vcsim.Sim, stack, path string, seed *secrets.Seed, agents int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx := context.Background()
		vms, err := stackVMs(ctx, sim, stack)
		if err != nil {
			return err
		}
		if got, want := sortedKeys(vms), machineNames(stack, 3+agents); !slices.Equal(got, want) {
			return fmt.Errorf("the simulator holds %v, want %v", got, want)
		}
		rs, ok := s.RootModule().Resources[stackAddr]
		if !ok {
			return fmt.Errorf("%s is not in state", stackAddr)
		}
		attrs := rs.Primary.Attributes
		if n := attrs["machines.%"]; n != strconv.Itoa(3+agents) {
			return fmt.Errorf("state records %s machines, want %d", n, 3+agents)
		}
		kinds := catalog.Kinds()
		st, _, diags := stacks.Load(path, kinds, stacks.Options{Vars: []string{fmt.Sprintf("agents=%d", agents)}})
		if diags.HasErrors() {
			return diags
		}
		p := plan.Compile(st, kinds)
		// Masters are made first, knowing no addresses; agents after the
		// masters are up, naming them by address.
		masters := plan.Addresses{}
		for i := range 3 {
			name := fmt.Sprintf("%s-mesos-%d", stack, i)
			masters[name] = attrs["machines."+name+".addresses.0"]
			if masters[name] == "" {
				return fmt.Errorf("state records no address for %s", name)
			}
		}
		for i := range 3 + agents {
			name := fmt.Sprintf("%s-mesos-%d", stack, i)
			v := vms[name]
			role, known := "agent", masters
			if i < 3 {
				role, known = "master", nil
			}
			wantTags := map[string]string{"stack": stack, "pool": "mesos", "index": strconv.Itoa(i), "layer": "mesos.core", "role": role}
			for k, want := range wantTags {
				if got := v.Extra["guestinfo.strata.tags."+k]; got != want {
					return fmt.Errorf("%s: tag strata:%s is %q, want %q", name, k, got, want)
				}
			}
			if v.Folder != "strata-"+stack {
				return fmt.Errorf("%s is in folder %q, want strata-%s", name, v.Folder, stack)
			}
			if got := attrs["machines."+name+".substrate_id"]; got != v.ID {
				return fmt.Errorf("%s: state says substrate_id %q, the simulator %q", name, got, v.ID)
			}
			if got := attrs["machines."+name+".role"]; got != role {
				return fmt.Errorf("%s: state says role %q, want %q", name, got, role)
			}
			got, err := v.userData()
			if err != nil {
				return err
			}
			want, err := p.RenderNode(ctx, seed, "mesos", i, known)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want.UserData) {
				return fmt.Errorf("%s: guestinfo.userdata is not the %s bootstrap plan.RenderNode gives:\n--- got\n%s\n--- want\n%s", name, role, got, want.UserData)
			}
			if !bytes.Contains(got, []byte("strata-mesos-"+role+".service")) {
				return fmt.Errorf("%s: the bootstrap does not start the mesos %s", name, role)
			}
		}
		return nil
	}
}

// recordIDs remembers each VM's managed object id.
func recordIDs(sim *vcsim.Sim, stack string, ids map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		vms, err := stackVMs(context.Background(), sim, stack)
		if err != nil {
			return err
		}
		for name, v := range vms {
			ids[name] = v.ID
		}
		return nil
	}
}

// keptIDs checks every VM recorded in ids that still exists is the same
// VM: scaling must not replace survivors.
func keptIDs(sim *vcsim.Sim, stack string, ids map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		vms, err := stackVMs(context.Background(), sim, stack)
		if err != nil {
			return err
		}
		for name, v := range vms {
			if old, ok := ids[name]; ok && old != v.ID {
				return fmt.Errorf("%s was replaced: it is %s, was %s", name, v.ID, old)
			}
		}
		return nil
	}
}

// noneLeft checks the simulator holds no VM of the stack and as many VMs as
// before the test.
func noneLeft(t *testing.T, sim *vcsim.Sim, stack string, baseline int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		vms, err := stackVMs(context.Background(), sim, stack)
		if err != nil {
			return err
		}
		if len(vms) > 0 {
			return fmt.Errorf("left behind: %v", sortedKeys(vms))
		}
		if n := countVMs(t, sim); n != baseline {
			return fmt.Errorf("the simulator holds %d VMs, %d before the test", n, baseline)
		}
		return nil
	}
}

func machineAt(name, attr string) tfjsonpath.Path {
	return tfjsonpath.New("machines").AtMapKey(name).AtMapKey(attr)
}

// TestAccStackLifecycle: create 3 masters + 5 agents, scale the agents
// 5 → 8 → 2 changing only the difference, import the running stack, and
// destroy it. Credentials come from the VSPHERE_* environment.
func TestAccStackLifecycle(t *testing.T) {
	enableAcceptance(t)
	sim := startSim(t)
	baseline := countVMs(t, sim)
	path, seed := workdir(t, "life", mesosStack("life", vcsim.DefaultTemplate))
	t.Setenv("VSPHERE_SERVER", sim.URL())
	t.Setenv("VSPHERE_USER", sim.User())
	t.Setenv("VSPHERE_PASSWORD", sim.Password())
	t.Setenv("VSPHERE_ALLOW_UNVERIFIED_SSL", "true")
	config := func(agents int) string { return `provider "strata" {}` + stackResource(path, agents) }
	ids := map[string]string{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noneLeft(t, sim, "life", baseline),
		Steps: []resource.TestStep{
			{
				Config: config(5),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(stackAddr, tfjsonpath.New("machines"), knownvalue.MapSizeExact(8)),
					plancheck.ExpectKnownValue(stackAddr, machineAt("life-mesos-2", "role"), knownvalue.StringExact("master")),
					plancheck.ExpectKnownValue(stackAddr, machineAt("life-mesos-3", "role"), knownvalue.StringExact("agent")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("id"), knownvalue.StringExact("life")),
					statecheck.ExpectKnownValue(stackAddr, machineAt("life-mesos-7", "state"), knownvalue.StringExact("running")),
					statecheck.ExpectKnownValue(stackAddr, machineAt("life-mesos-7", "substrate"), knownvalue.StringExact("substrate.vsphere.sim")),
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("layers"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"kind": knownvalue.StringExact("mesos"), "name": knownvalue.StringExact("core"), "version": knownvalue.StringExact("1.11.0"),
						}),
					})),
				},
				Check: resource.ComposeTestCheckFunc(checkStack(sim, "life", path, seed, 5), recordIDs(sim, "life", ids)),
			},
			{
				Config: config(8),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(stackAddr, tfjsonpath.New("machines"), knownvalue.MapSizeExact(11)),
					plancheck.ExpectKnownValue(stackAddr, machineAt("life-mesos-7", "substrate_id"), knownvalue.StringRegexp(regexp.MustCompile(`^vm-\d+$`))),
					plancheck.ExpectUnknownValue(stackAddr, machineAt("life-mesos-8", "substrate_id")),
					plancheck.ExpectUnknownValue(stackAddr, machineAt("life-mesos-10", "addresses")),
				}},
				Check: resource.ComposeTestCheckFunc(checkStack(sim, "life", path, seed, 8), keptIDs(sim, "life", ids), recordIDs(sim, "life", ids)),
			},
			{
				Config: config(2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(stackAddr, tfjsonpath.New("machines"), knownvalue.MapSizeExact(5)),
				}},
				Check: resource.ComposeTestCheckFunc(checkStack(sim, "life", path, seed, 2), keptIDs(sim, "life", ids)),
			},
			{
				// Adopt the running stack by its tags. The seed lives in
				// private state, which import fills from .strata/life.seed.
				ResourceName:      stackAddr,
				ImportState:       true,
				ImportStateId:     path + "?agents=2",
				ImportStateVerify: true,
			},
		},
	})
}

// TestAccStackInterruptedApply: an apply killed halfway leaves tagged VMs
// behind; terraform apply then adopts them and ends with exactly the
// planned VMs, none twice and none unplanned.
func TestAccStackInterruptedApply(t *testing.T) {
	enableAcceptance(t)
	sim := startSim(t)
	baseline := countVMs(t, sim)
	path, seed := workdir(t, "halt", mesosStack("halt", vcsim.DefaultTemplate))

	// The killed run: the engine itself, one call at a time, stopped once
	// the first agent is made (the masters are up, an agent's clone may be
	// in flight, the other agents not begun).
	kinds := catalog.Kinds()
	st, _, diags := stacks.Load(path, kinds, stacks.Options{Vars: []string{"agents=5"}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var creates atomic.Int32
	e := engine.New(engine.OpenFunc(func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
		return vsphere.Open(ctx, vsphere.Config{Server: sim.URL(), User: sim.User(), Password: sim.Password(), Insecure: true}, sub.Settings)
	}), engine.Options{Parallelism: 1, Report: func(ev engine.Event) {
		if ev.Action == "create" && creates.Add(1) == 4 {
			cancel()
		}
	}})
	res, err := e.Apply(ctx, plan.Compile(st, kinds), seed)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted apply returned %v, want context.Canceled", err)
	}
	// A clone in flight when the run was killed still completes in vCenter:
	// wait until the inventory settles.
	before := map[string]string{}
	for n := -1; n != len(before); time.Sleep(200 * time.Millisecond) {
		n = len(before)
		if err := recordIDs(sim, "halt", before)(nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(before) < 4 || len(before) > 5 {
		t.Fatalf("the interrupted apply left %d VMs (%v); the test wants it stopped halfway", len(before), sortedKeys(before))
	}
	t.Logf("interrupted after %d creates: %d VMs exist, %d recorded by the engine", creates.Load(), len(before), len(res.Machines))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noneLeft(t, sim, "halt", baseline),
		Steps: []resource.TestStep{{
			Config: providerBlock(sim, sim.Password()) + stackResource(path, 5),
			Check:  resource.ComposeTestCheckFunc(checkStack(sim, "halt", path, seed, 5), keptIDs(sim, "halt", before)),
		}},
	})
}

// TestAccStackWrongCredentials: a refused login fails the plan with the
// reason, and nothing is made.
func TestAccStackWrongCredentials(t *testing.T) {
	enableAcceptance(t)
	sim := startSim(t)
	baseline := countVMs(t, sim)
	path, _ := workdir(t, "creds", mesosStack("creds", vcsim.DefaultTemplate))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noneLeft(t, sim, "creds", baseline),
		Steps: []resource.TestStep{{
			Config:      providerBlock(sim, "not-the-password") + stackResource(path, 5),
			ExpectError: wrapped(`Cannot use substrate vsphere.sim`, `creds.strata.hcl:10,1: substrate.vsphere.sim: vsphere: login to`, `as "user" failed: wrong user name or password`),
		}},
	})
	if err := noneLeft(t, sim, "creds", baseline)(nil); err != nil {
		t.Fatal(err)
	}
}

// TestAccStackMissingTemplate: a template that does not exist fails the
// plan naming the templates there are, and nothing is made.
func TestAccStackMissingTemplate(t *testing.T) {
	enableAcceptance(t)
	sim := startSim(t)
	baseline := countVMs(t, sim)
	path, _ := workdir(t, "notpl", mesosStack("notpl", "ubuntu-99.04"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noneLeft(t, sim, "notpl", baseline),
		Steps: []resource.TestStep{{
			Config:      providerBlock(sim, sim.Password()) + stackResource(path, 5),
			ExpectError: wrapped(`notpl.strata.hcl:10,1: substrate.vsphere.sim: vsphere: template "ubuntu-99.04" not found in datacenter DC0; templates there: ubuntu-24.04`),
		}},
	})
	if err := noneLeft(t, sim, "notpl", baseline)(nil); err != nil {
		t.Fatal(err)
	}
}

// TestAccExampleVSphere applies examples/terraform/vsphere — the
// configuration `make demo` runs — as a user would have it: its own
// required_providers block (stratastack/strata), credentials from the
// environment, the stack beside it, then scales it through its variable.
func TestAccExampleVSphere(t *testing.T) {
	enableAcceptance(t)
	sim := startSim(t)
	baseline := countVMs(t, sim)
	// Terraform runs the example from a copy in its own working directory;
	// the provider runs in this process, so a copy here is where it finds
	// the stack at the example's relative path.
	dir := t.TempDir()
	src := "../examples/terraform/vsphere"
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tf") || strings.HasSuffix(e.Name(), ".strata.hcl") {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Chdir(dir)
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "stratastack")
	t.Setenv("VSPHERE_SERVER", sim.URL())
	t.Setenv("VSPHERE_USER", sim.User())
	t.Setenv("VSPHERE_PASSWORD", sim.Password())
	t.Setenv("VSPHERE_ALLOW_UNVERIFIED_SSL", "true")
	roles := func(agents int) knownvalue.Check {
		want := map[string]knownvalue.Check{}
		for i := range 3 + agents {
			role := "agent"
			if i < 3 {
				role = "master"
			}
			want[fmt.Sprintf("mesos-demo-mesos-%d", i)] = knownvalue.StringRegexp(regexp.MustCompile(`^` + role + ` running 10\.64\.\d+\.\d+$`))
		}
		return knownvalue.MapExact(want)
	}
	resource.Test(t, resource.TestCase{
		// The example has its own provider block, so the provider is
		// given per step, as terraform-plugin-testing wants then.
		CheckDestroy: noneLeft(t, sim, "mesos-demo", baseline),
		Steps: []resource.TestStep{
			{
				ProtoV6ProviderFactories: factories(),
				ConfigDirectory:          config.StaticDirectory(dir),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("machines", roles(5)),
					statecheck.ExpectKnownOutputValue("masters", knownvalue.ListSizeExact(3)),
				},
			},
			{
				ProtoV6ProviderFactories: factories(),
				ConfigDirectory:          config.StaticDirectory(dir),
				ConfigVariables:          config.Variables{"agents": config.IntegerVariable(2)},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("machines", roles(2)),
				},
			},
		},
	})
}

package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/baremetal"
	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/ipmisim/simtest"
)

// The strata_machine tests drive the real terraform against the provider,
// a real boot server and, where power control matters, a real IPMI BMC
// (ipmi_sim); see machine_lab_test.go.

func machineProviders() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){"strata": providerserver.NewProtocol6WithError(New("test")())}
}

const machineAddr = "strata_machine.node"

// nodeConfig is machine node1 with its own profile, powered on through bmc.
func nodeConfig(lab *bootLab, bmc *simtest.BMC, labels, cmdline string, version int) string {
	return lab.provider() + fmt.Sprintf(`
variable "bmc_password" {
  type      = string
  sensitive = true
}

resource "strata_machine" "node" {
  name   = "node1"
  mac    = "52:54:00:aa:00:01"
  ip     = "10.0.0.21"
  labels = %s

  bmc                     = %q
  bmc_user                = "admin"
  bmc_password_wo         = var.bmc_password
  bmc_password_wo_version = %d
  power_on                = true

  profile = {
    kernel    = "vmlinuz"
    initrd    = ["initrd.img"]
    cmdline   = %q
    user_data = "#cloud-config\nhostname: node1\n"
  }
}
`, labels, bmc.URL, version, cmdline)
}

// registered checks the boot server's record of machine name, and of its
// profile when it has its own.
func registered(lab *bootLab, name string, check func(inventory.Machine, inventory.Profile) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		m, err := lab.Store.GetMachine(ctx, name)
		if err != nil {
			return fmt.Errorf("the boot server does not have machine %s: %w", name, err)
		}
		p, err := lab.Store.GetProfile(ctx, m.Profile)
		if err != nil {
			return fmt.Errorf("the boot server does not have profile %s: %w", m.Profile, err)
		}
		return check(m, p)
	}
}

// gone checks the boot server has neither the machine nor the profile.
func gone(lab *bootLab, name string) error {
	ctx := context.Background()
	if _, err := lab.Store.GetMachine(ctx, name); !errors.Is(err, inventory.ErrNotFound) {
		return fmt.Errorf("machine %s is still registered (%v)", name, err)
	}
	if _, err := lab.Store.GetProfile(ctx, name); !errors.Is(err, inventory.ErrNotFound) {
		return fmt.Errorf("profile %s is still registered (%v)", name, err)
	}
	return nil
}

// without fails a plan or state check when secret occurs in its JSON.
type without struct{ secret, what string }

func (w without) find(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if bytes.Contains(b, []byte(w.secret)) {
		return fmt.Errorf("the BMC password is in the %s", w.what)
	}
	return nil
}

// CheckPlan looks at what the plan says of resources. The plan's input
// variables hold the password as the configuration passed it in: that is
// Terraform's, not the provider's.
func (w without) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	p := *req.Plan
	p.Variables = nil
	resp.Error = w.find(p)
}

func (w without) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = w.find(req.State)
}

// filesWithout fails when secret occurs in a file under dir, and when
// none of want (base names) is there to be searched.
func filesWithout(dir, secret string, want ...string) error {
	var hits, found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if slices.Contains(want, d.Name()) && len(b) > 0 {
			found = append(found, d.Name())
		}
		if bytes.Contains(b, []byte(secret)) {
			hits = append(hits, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(hits) > 0 {
		return fmt.Errorf("the BMC password is in %s", strings.Join(hits, ", "))
	}
	if len(want) > 0 && len(found) == 0 {
		return fmt.Errorf("none of %v under %s to search", want, dir)
	}
	return nil
}

func TestMachineResourceLifecycle(t *testing.T) {
	lab := newBootLab(t)
	bmc := simtest.Start(t)
	work := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "terraform.log")
	// Terraform's working directories and its TRACE log (the provider's
	// too) go where the test can search them for the password. The
	// password reaches terraform as a variable from the environment, so
	// no configuration file holds it.
	t.Setenv("TF_ACC_TEMP_DIR", work)
	t.Setenv("TF_ACC_LOG_PATH", logFile)
	t.Setenv("TF_VAR_bmc_password", bmc.Password)
	t.Setenv("STRATA_BMC_PASSWORD", "")
	secret := without{secret: bmc.Password}
	noSecret := func(what string) without { s := secret; s.what = what; return s }
	var historyAfterCreate int
	wrongPass := "Wr0ng-" + bmc.Password[3:] // as long as the real one

	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: machineProviders(),
		CheckDestroy: func(*terraform.State) error {
			if err := gone(lab, "node1"); err != nil {
				return err
			}
			if got := bmc.Read("power"); got != "0" {
				return fmt.Errorf("after destroy the BMC reports power %q, want 0 (off)", got)
			}
			if err := filesWithout(work, bmc.Password, "terraform.tfstate", "terraform.tfstate.backup"); err != nil {
				return err
			}
			for _, pw := range []string{bmc.Password, wrongPass} {
				if err := filesWithout(filepath.Dir(logFile), pw, filepath.Base(logFile)); err != nil {
					return err
				}
			}
			// The log searched holds the provider's own log lines too.
			if b, _ := os.ReadFile(logFile); !bytes.Contains(b, []byte("powered off machine node1")) {
				return fmt.Errorf("the provider's log lines are not in %s (%d bytes)", logFile, len(b))
			}
			if strings.Contains(lab.APIBodies(), bmc.Password) {
				return errors.New("the BMC password reached the boot server's API")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// Create: registered, profile registered, PXE next, on.
				Config: nodeConfig(lab, bmc, `{ rack = "a" }`, "console=ttyS0", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(machineAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(machineAddr, tfjsonpath.New("profile_name"), knownvalue.StringExact("node1")),
					plancheck.ExpectUnknownValue(machineAddr, tfjsonpath.New("state")),
					noSecret("plan"),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(machineAddr, tfjsonpath.New("id"), knownvalue.StringExact("node1")),
					statecheck.ExpectKnownValue(machineAddr, tfjsonpath.New("state"), knownvalue.StringExact("registered")),
					statecheck.ExpectKnownValue(machineAddr, tfjsonpath.New("address"), knownvalue.StringExact("10.0.0.21")),
					statecheck.ExpectKnownValue(machineAddr, tfjsonpath.New("bmc_password_wo"), knownvalue.Null()),
					noSecret("state"),
				},
				Check: resource.ComposeTestCheckFunc(
					registered(lab, "node1", func(m inventory.Machine, p inventory.Profile) error {
						if m.MAC != "52:54:00:aa:00:01" || m.IP.String() != "10.0.0.21" || m.BMC != bmc.URL || m.BMCUser != "admin" ||
							m.Profile != "node1" || m.Labels["rack"] != "a" {
							return fmt.Errorf("registered %+v labels %v", m, m.Labels)
						}
						if p.Kernel != "vmlinuz" || !slices.Equal(p.Initrd, []string{"initrd.img"}) || p.Cmdline != "console=ttyS0" ||
							string(p.UserData) != "#cloud-config\nhostname: node1\n" {
							return fmt.Errorf("profile %+v, user-data %q", p, p.UserData)
						}
						return nil
					}),
					func(*terraform.State) error {
						if got := bmc.Read("power"); got != "1" {
							return fmt.Errorf("the BMC reports power %q, want 1 (on)", got)
						}
						if got := bmc.Read("boot"); got != "pxe" {
							return fmt.Errorf("the BMC's next boot device is %q, want pxe", got)
						}
						// An operator's view of the same BMC, over the wire.
						if out := bmc.Ipmitool(t, "chassis", "power", "status"); out != "" && !strings.Contains(out, "Chassis Power is on") {
							return fmt.Errorf("ipmitool chassis power status: %q", out)
						}
						if out := bmc.Ipmitool(t, "chassis", "bootparam", "get", "5"); out != "" && !strings.Contains(out, "Force PXE") {
							return fmt.Errorf("ipmitool chassis bootparam get 5: %q", out)
						}
						historyAfterCreate = len(bmc.History())
						return nil
					},
				),
			},
			{
				// Labels and profile change in place; the machine is
				// not rebooted.
				Config: nodeConfig(lab, bmc, `{ rack = "b", role = "worker" }`, "console=ttyS0 quiet", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(machineAddr, plancheck.ResourceActionUpdate),
					noSecret("plan"),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(machineAddr, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{
						"rack": knownvalue.StringExact("b"), "role": knownvalue.StringExact("worker"),
					})),
					noSecret("state"),
				},
				Check: resource.ComposeTestCheckFunc(
					registered(lab, "node1", func(m inventory.Machine, p inventory.Profile) error {
						if m.Labels["rack"] != "b" || m.Labels["role"] != "worker" || p.Cmdline != "console=ttyS0 quiet" {
							return fmt.Errorf("after update: labels %v, cmdline %q", m.Labels, p.Cmdline)
						}
						if string(p.UserData) != "#cloud-config\nhostname: node1\n" {
							return fmt.Errorf("the update lost the user-data: %q", p.UserData)
						}
						return nil
					}),
					func(*terraform.State) error {
						if h := bmc.History(); len(h) != historyAfterCreate {
							return fmt.Errorf("the update touched the BMC: %q", h[historyAfterCreate:])
						}
						return nil
					},
				),
			},
			{
				// A new password version makes an update log in with the
				// write-only password; a wrong one is refused, naming the
				// BMC and the user.
				PreConfig:   func() { os.Setenv("TF_VAR_bmc_password", wrongPass) },
				Config:      nodeConfig(lab, bmc, `{ rack = "b", role = "worker" }`, "console=ttyS0 quiet", 2),
				ExpectError: wrapped("Cannot log in to the BMC of machine node1", bmc.URL+` as user "admin"`),
			},
			{
				PreConfig: func() { os.Setenv("TF_VAR_bmc_password", bmc.Password) },
				Config:    nodeConfig(lab, bmc, `{ rack = "b", role = "worker" }`, "console=ttyS0 quiet", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(machineAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(machineAddr, tfjsonpath.New("bmc_password_wo_version"), knownvalue.Int64Exact(2)),
				},
				Check: func(*terraform.State) error {
					if h := bmc.History(); len(h) != historyAfterCreate {
						return fmt.Errorf("checking the password changed the machine: %q", h[historyAfterCreate:])
					}
					return nil
				},
			},
			{
				// Import by name: everything the boot server keeps comes
				// back; what it does not keep is listed here.
				ResourceName:      machineAddr,
				ImportState:       true,
				ImportStateId:     "node1",
				ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{
					"bmc_password_wo", "bmc_password_wo_version", "power_on", "profile.user_data",
				},
			},
			{
				// Destroy needs the password from the environment and
				// says which variable; nothing changes without it.
				Config:      nodeConfig(lab, bmc, `{ rack = "b", role = "worker" }`, "console=ttyS0 quiet", 2),
				Destroy:     true,
				ExpectError: wrapped("BMC password needed to destroy machine node1", "set STRATA_BMC_PASSWORD", "power_off_on_destroy = false"),
			},
			{
				PreConfig: func() {
					if _, err := lab.Store.GetMachine(context.Background(), "node1"); err != nil {
						t.Errorf("the failed destroy deregistered the machine: %v", err)
					}
					if got := bmc.Read("power"); got != "1" {
						t.Errorf("the failed destroy powered the machine off: %q", got)
					}
					os.Setenv("STRATA_BMC_PASSWORD", bmc.Password)
				},
				Config:   nodeConfig(lab, bmc, `{ rack = "b", role = "worker" }`, "console=ttyS0 quiet", 2),
				PlanOnly: true,
			},
		},
	})
}

func TestMachineResourceWaitsForReady(t *testing.T) {
	lab := newBootLab(t)
	bmc := simtest.Start(t)
	t.Setenv("STRATA_BMC_PASSWORD", bmc.Password) // no write-only password: the environment's
	const mac = "52:54:00:aa:00:02"
	config := lab.provider() + fmt.Sprintf(`
resource "strata_machine" "node" {
  name           = "node2"
  mac            = %q
  bmc            = %q
  bmc_user       = "admin"
  power_on       = true
  wait_for_ready = true
  profile = {
    kernel    = "vmlinuz"
    cmdline   = "console=ttyS0"
    user_data = "#cloud-config\n"
  }
  timeouts {
    create = "3s"
  }
}
`, mac, bmc.URL)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: machineProviders(),
		CheckDestroy: func(*terraform.State) error {
			if err := gone(lab, "node2"); err != nil {
				return err
			}
			if got := bmc.Read("power"); got != "0" {
				return fmt.Errorf("after destroy the BMC reports power %q, want 0", got)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// Nothing boots: the wait times out and names the step
				// the machine is stuck at. The machine stays in state,
				// tainted.
				Config:      config,
				ExpectError: wrapped(`machine node2 did not phone home within 3s; last boot step "registered"`, "no DHCP seen"),
			},
			{
				// Now the machine boots when powered on: the next apply
				// replaces the tainted machine and waits for it.
				PreConfig: func() { bootOnPowerOn(t, bmc, lab, mac) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(machineAddr, plancheck.ResourceActionReplace),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(machineAddr, tfjsonpath.New("state"), knownvalue.StringExact("ready")),
					statecheck.ExpectKnownValue(machineAddr, tfjsonpath.New("address"), knownvalue.StringExact("127.0.0.1")),
				},
			},
		},
	})
}

func TestMachineResourceValidation(t *testing.T) {
	base := `
provider "strata" {
  baremetal {
    boot_server = "http://127.0.0.1:1"
    token       = "unused-token-0123456789"
  }
}

resource "strata_machine" "node" {
  name = "node1"
%s
}
`
	profile := `  profile = { kernel = "vmlinuz" }`
	cases := []struct {
		name, body string
		want       []string
	}{
		{"bad MAC", `  mac = "52:54:00:zz:00:01"` + "\n" + profile,
			[]string{"Invalid MAC address", `mac = "52:54:00:zz:00:01"`, `"52:54:00:zz:00:01" is not a MAC address`}},
		{"multicast MAC", `  mac = "01:00:5e:00:00:01"` + "\n" + profile,
			[]string{"Invalid MAC address", `is not a PXE NIC's MAC address`}},
		{"bad BMC URL", `  mac = "52:54:00:00:00:01"` + "\n  bmc = \"http://10.0.0.5\"\n  bmc_user = \"admin\"\n" + profile,
			[]string{"Invalid BMC URL", `bmc = "http://10.0.0.5"`, `"http://10.0.0.5" is not a BMC URL; write ipmi://HOST[:PORT] or redfish://HOST[:PORT]`}},
		{"password in the BMC URL", `  mac = "52:54:00:00:00:01"` + "\n  bmc = \"ipmi://admin:calvin@10.0.0.5\"\n  bmc_user = \"admin\"\n" + profile,
			[]string{"Invalid BMC URL", "the BMC URL carries a password"}},
		{"bad IP", `  mac = "52:54:00:00:00:01"` + "\n  ip = \"10.0.0\"\n" + profile,
			[]string{"Invalid IP address", `"10.0.0" is not an IP address`}},
		{"power on without a BMC", `  mac = "52:54:00:00:00:01"` + "\n  power_on = true\n" + profile,
			[]string{"power_on needs a BMC"}},
		{"BMC without a user", `  mac = "52:54:00:00:00:01"` + "\n  bmc = \"ipmi://10.0.0.5\"\n" + profile,
			[]string{"Missing BMC user"}},
		{"no profile", `  mac = "52:54:00:00:00:01"`, []string{"Missing profile", "Set profile"}},
		{"two profiles", `  mac = "52:54:00:00:00:01"` + "\n  profile_name = \"shared\"\n" + profile,
			[]string{"Conflicting profiles"}},
		{"bad timeout", `  mac = "52:54:00:00:00:01"` + "\n" + profile + "\n  timeouts {\n    create = \"soon\"\n  }",
			[]string{"Invalid duration", `"soon" is not a positive duration`}},
		{"bad password variable", `  mac = "52:54:00:00:00:01"` + "\n  bmc_password_env = \"BMC-PW\"\n" + profile,
			[]string{"Invalid environment variable name"}},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{
			Config:      fmt.Sprintf(base, c.body),
			PlanOnly:    true,
			ExpectError: wrapped(c.want...),
		})
	}
	// No boot server: said at plan time.
	t.Setenv("STRATA_BOOT_SERVER", "")
	steps = append(steps, resource.TestStep{
		Config:      "resource \"strata_machine\" \"node\" {\n  name = \"n\"\n  mac = \"52:54:00:00:00:01\"\n" + profile + "\n}\n",
		PlanOnly:    true,
		ExpectError: wrapped("No boot server", "set baremetal { boot_server", "STRATA_BOOT_SERVER"),
	})
	resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: machineProviders(), Steps: steps})
}

func TestMachineResourceBootServerErrors(t *testing.T) {
	lab := newBootLab(t)
	ctx := context.Background()
	// Another machine already has the MAC.
	if err := lab.Store.PutProfile(ctx, inventory.Profile{Name: "other", Kernel: "vmlinuz"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Store.PutMachine(ctx, inventory.Machine{Name: "other", MAC: "52:54:00:bb:00:01", Profile: "other"}); err != nil {
		t.Fatal(err)
	}
	config := func(name, mac, kernel string) string {
		return lab.provider() + fmt.Sprintf(`
resource "strata_machine" "node" {
  name    = %q
  mac     = %q
  profile = { kernel = %q }
}
`, name, mac, kernel)
	}
	noProfileLeft := func() {
		if _, err := lab.Store.GetProfile(ctx, "node3"); !errors.Is(err, inventory.ErrNotFound) {
			t.Errorf("a failed create left profile node3 behind (%v)", err)
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: machineProviders(),
		Steps: []resource.TestStep{
			{
				Config: config("node3", "52-54-00-BB-00-01", "vmlinuz"),
				ExpectError: wrapped("MAC address already registered under another name",
					"409 Conflict", "MAC 52:54:00:bb:00:01 already belongs to machine other", "terraform import"),
			},
			{
				// A 4xx answer is passed on with the server's message (on
				// the attribute it blames, profile.kernel, which Terraform
				// cannot point at inside an object value).
				PreConfig:   noProfileLeft,
				Config:      config("node3", "52:54:00:bb:00:03", "../etc/shadow"),
				ExpectError: wrapped("Cannot register the profile of machine node3", `400 Bad Request`, `field "kernel": "../etc/shadow" is not a path inside the assets directory`),
			},
			{
				// The name of a machine registered outside Terraform.
				PreConfig:   noProfileLeft,
				Config:      config("other", "52:54:00:bb:00:01", "vmlinuz"),
				ExpectError: wrapped("Machine already registered", `already has a machine named "other"`, "terraform import strata_machine.RESOURCE other"),
			},
			{
				PreConfig: func() {
					if m, err := lab.Store.GetMachine(ctx, "other"); err != nil || m.Profile != "other" {
						t.Errorf("the refused create changed machine other: %+v %v", m, err)
					}
				},
				Config: strings.Replace(config("node3", "52:54:00:bb:00:03", "vmlinuz"), labToken, "wrong-token-0123456789abcdef", 1),
				ExpectError: wrapped("Cannot use the boot server", "401 Unauthorized", "wrong API token",
					"the boot server refused the API token"),
			},
		},
	})
}

func TestMachineResourceOutsideChanges(t *testing.T) {
	lab := newBootLab(t)
	ctx := context.Background()
	if err := lab.Store.PutProfile(ctx, inventory.Profile{Name: "shared", Kernel: "vmlinuz-shared"}); err != nil {
		t.Fatal(err)
	}
	// The BMC is never contacted: no power_on, and no power-off at
	// destroy, so no password is needed either.
	t.Setenv("STRATA_BMC_PASSWORD", "")
	own := lab.provider() + `
resource "strata_machine" "node" {
  name                 = "node4"
  mac                  = "52-54-00-CC-00-04"
  labels               = {}
  bmc                  = "ipmi://127.0.0.1:1"
  bmc_user             = "admin"
  power_off_on_destroy = false
  profile = {
    kernel = "vmlinuz"
    initrd = []
  }
}
`
	shared := strings.Replace(own, "profile = {\n    kernel = \"vmlinuz\"\n    initrd = []\n  }", `profile_name = "shared"`, 1)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: machineProviders(),
		CheckDestroy: func(*terraform.State) error {
			if err := gone(lab, "node4"); err != nil {
				return err
			}
			if _, err := lab.Store.GetProfile(ctx, "shared"); err != nil {
				return fmt.Errorf("destroy removed the shared profile: %v", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// The MAC's notation and the empty map and list are kept:
				// the plan after apply (the framework checks it) is empty.
				Config: own,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(machineAddr, tfjsonpath.New("mac"), knownvalue.StringExact("52-54-00-CC-00-04")),
				},
			},
			{
				// Deregistered outside Terraform: refresh drops it, apply
				// registers it again.
				PreConfig: func() {
					if err := lab.Store.DeleteMachine(ctx, "node4"); err != nil {
						t.Fatal(err)
					}
					if err := lab.Store.DeleteProfile(ctx, "node4"); err != nil {
						t.Fatal(err)
					}
				},
				Config: own,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(machineAddr, plancheck.ResourceActionCreate),
				}},
				Check: registered(lab, "node4", func(m inventory.Machine, p inventory.Profile) error {
					if p.Name != "node4" {
						return fmt.Errorf("profile %s", p.Name)
					}
					return nil
				}),
			},
			{
				// Profile changed outside Terraform: the next apply puts
				// it back, in place.
				PreConfig: func() {
					if err := lab.Store.PutProfile(ctx, inventory.Profile{Name: "node4", Kernel: "vmlinuz-old"}); err != nil {
						t.Fatal(err)
					}
				},
				Config: own,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(machineAddr, plancheck.ResourceActionUpdate),
				}},
				Check: registered(lab, "node4", func(m inventory.Machine, p inventory.Profile) error {
					if p.Kernel != "vmlinuz" {
						return fmt.Errorf("kernel %q", p.Kernel)
					}
					return nil
				}),
			},
			{
				// Switching to a shared profile deletes the machine's own.
				Config: shared,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(machineAddr, plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					m, err := lab.Store.GetMachine(ctx, "node4")
					if err != nil || m.Profile != "shared" {
						return fmt.Errorf("machine %+v, %v", m, err)
					}
					if _, err := lab.Store.GetProfile(ctx, "node4"); !errors.Is(err, inventory.ErrNotFound) {
						return fmt.Errorf("the machine's own profile was left behind (%v)", err)
					}
					return nil
				},
			},
			{
				// An import of a machine on a shared profile.
				ResourceName:            machineAddr,
				ImportState:             true,
				ImportStateId:           "node4",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"mac", "labels", "power_off_on_destroy"},
			},
		},
	})
}

func TestMachineSchema(t *testing.T) {
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := resp.ResourceSchemas["strata_machine"]
	if !ok {
		t.Fatalf("no strata_machine resource")
	}
	attrs := map[string]*tfprotov6.SchemaAttribute{}
	for _, a := range s.Block.Attributes {
		attrs[a.Name] = a
		if a.Description == "" {
			t.Errorf("%s has no description", a.Name)
		}
	}
	if a := attrs["bmc_password_wo"]; a == nil || !a.WriteOnly || !a.Sensitive {
		t.Errorf("bmc_password_wo is not write-only and sensitive: %+v", a)
	}
	var userData *tfprotov6.SchemaAttribute
	for _, a := range attrs["profile"].NestedType.Attributes {
		if a.Name == "user_data" {
			userData = a
		}
	}
	if userData == nil || !userData.Sensitive {
		t.Errorf("profile.user_data is not sensitive: %+v", userData)
	}
}

func TestMachineChecks(t *testing.T) {
	cases := []struct {
		check stringCheck
		in    string
		ok    bool
	}{
		{macCheck, "52:54:00:00:00:01", true},
		{macCheck, "52-54-00-AA-00-01", true},
		{macCheck, "5254.00aa.0001", true},
		{macCheck, "52:54:00:00:00", false},
		{macCheck, "ff:ff:ff:ff:ff:ff", false},                   // broadcast
		{macCheck, "00:00:00:00:fe:80:00:00:00:00:00:00", false}, // not Ethernet
		{bmcCheck, "ipmi://10.0.0.5", true},
		{bmcCheck, "ipmi://10.0.0.5:6230", true},
		{bmcCheck, "redfish://bmc.example/redfish/v1/Systems/2?insecure=true", true},
		{bmcCheck, "redfish+http://127.0.0.1:8000", false}, // power speaks it, the boot server refuses it
		{bmcCheck, "http://10.0.0.5", false},
		{bmcCheck, "ipmi://", false},
		{bmcCheck, "ipmi://root:calvin@10.0.0.5", false},
		{bmcCheck, "ipmi://root@10.0.0.5", false}, // the boot server keeps no credentials
		{ipCheck, "10.0.0.21", true},
		{ipCheck, "fd00::21", true},
		{ipCheck, "10.0.0.256", false},
		{envVarCheck, "RACK1_BMC_PW", true},
		{envVarCheck, "_PW", true},
		{envVarCheck, "1PW", false},
		{envVarCheck, "BMC-PW", false},
		{durationCheck, "20m", true},
		{durationCheck, "1h30m", true},
		{durationCheck, "0s", false},
		{durationCheck, "20", false},
	}
	for _, c := range cases {
		err := c.check.fn(c.in)
		if (err == nil) != c.ok {
			t.Errorf("%s(%q) = %v, want ok=%t", c.check.summary, c.in, err, c.ok)
		}
	}
}

func TestMachineFields(t *testing.T) {
	cases := []struct {
		f     func(string) (path.Path, bool)
		field string
		want  path.Path
		ok    bool
	}{
		{machineField, "mac", path.Root("mac"), true},
		{machineField, "profile", path.Root("profile_name"), true},
		{machineField, "", path.Empty(), false},
		{profileField, "kernel", path.Root("profile").AtName("kernel"), true},
		{profileField, "initrd[2]", path.Root("profile").AtName("initrd").AtListIndex(2), true},
		{profileField, "user_data_base64", path.Root("profile").AtName("user_data"), true},
		{profileField, "name", path.Root("name"), true},
		{profileField, "discovery", path.Empty(), false},
	}
	for _, c := range cases {
		got, ok := c.f(c.field)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("field %q: %v %t, want %v %t", c.field, got, ok, c.want, c.ok)
		}
	}
}

func TestMachineReplacedBy(t *testing.T) {
	m := func(name, mac types.String) machineResourceModel { return machineResourceModel{Name: name, MAC: mac} }
	s := types.StringValue
	cases := []struct {
		prior, plan machineResourceModel
		want        []string
	}{
		{m(s("a"), s("52:54:00:00:00:01")), m(s("a"), s("52-54-00-00-00-01")), nil},
		{m(s("a"), s("52:54:00:00:00:01")), m(s("b"), s("52:54:00:00:00:01")), []string{"name"}},
		{m(s("a"), s("52:54:00:00:00:01")), m(s("a"), s("52:54:00:00:00:02")), []string{"mac"}},
		{m(s("a"), s("52:54:00:00:00:01")), m(types.StringUnknown(), types.StringUnknown()), []string{"name", "mac"}},
	}
	for _, c := range cases {
		var got []string
		for _, p := range replacedBy(c.prior, c.plan) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v -> %v: replaced by %v, want %v", c.prior, c.plan, got, c.want)
		}
	}
}

// TestMachineRefreshKeepsSpelling checks that a refresh keeps the
// configuration's notation of values the boot server normalises, and
// takes the server's value when it really changed.
func TestMachineRefreshKeepsSpelling(t *testing.T) {
	ctx := context.Background()
	m := machineResourceModel{
		MAC: types.StringValue("52-54-00-AA-00-01"), IP: types.StringValue("fd00:0::21"),
		BMC: types.StringValue("ipmi://10.0.0.5"), BMCUser: types.StringNull(),
		Labels: types.MapValueMust(types.StringType, nil),
	}
	v := api.MachineView{Name: "n", MAC: "52:54:00:aa:00:01", BMC: "ipmi://10.0.0.5", Profile: "n", State: api.StateDHCP}
	v.IP = netip.MustParseAddr("fd00::21")
	if d := m.refresh(ctx, v); d.HasError() {
		t.Fatal(d)
	}
	if m.MAC.ValueString() != "52-54-00-AA-00-01" || m.IP.ValueString() != "fd00:0::21" || m.BMCUser.IsNull() != true ||
		m.Labels.IsNull() || m.State.ValueString() != "dhcp" || m.Address.ValueString() != "fd00::21" || m.ProfileName.ValueString() != "n" {
		t.Fatalf("refreshed %+v", m)
	}
	v.MAC, v.IP, v.BMCUser = "52:54:00:aa:00:09", netip.MustParseAddr("10.0.0.9"), "root"
	v.Labels = map[string]string{"rack": "a"}
	if d := m.refresh(ctx, v); d.HasError() {
		t.Fatal(d)
	}
	if m.MAC.ValueString() != "52:54:00:aa:00:09" || m.IP.ValueString() != "10.0.0.9" || m.BMCUser.ValueString() != "root" ||
		len(m.Labels.Elements()) != 1 {
		t.Fatalf("refreshed %+v", m)
	}
}

func TestMachineBMCPasswordSource(t *testing.T) {
	env := map[string]string{"STRATA_BMC_PASSWORD": "from-env", "RACK_PW": "rack-env"}
	s, _ := resolve(catalog.Kinds(), nil, func(k string) string { return env[k] })
	r := &machineResource{client: &client{settings: s}}
	cases := []struct {
		wo      types.String
		envVar  string
		want    string
		wantErr string
	}{
		{types.StringValue("write-only"), "", "write-only", ""},
		{types.StringNull(), "", "from-env", ""},
		{types.StringNull(), "RACK_PW", "rack-env", ""},
		{types.StringValue(""), "RACK_PW", "rack-env", ""},
		{types.StringNull(), "MISSING_PW", "", "set MISSING_PW"},
	}
	for _, c := range cases {
		got, err := r.bmcPassword(c.wo)("n1", c.envVar)
		if got != c.want || (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("wo %v env %q: %q, %v; want %q, %q", c.wo, c.envVar, got, err, c.want, c.wantErr)
		}
	}
	if p := bootServerProblem(provisioners.Env{}); !strings.Contains(p, "STRATA_BOOT_SERVER") {
		t.Errorf("no boot server: %q", p)
	}
	if p := bootServerProblem(provisioners.Env{Settings: map[string]string{"boot_server": "http://x"}}); !strings.Contains(p, "STRATA_BOOT_TOKEN") {
		t.Errorf("no token: %q", p)
	}
	obj := types.ObjectValueMust(map[string]attr.Type{"create": types.StringType, "update": types.StringType},
		map[string]attr.Value{"create": types.StringValue("90s"), "update": types.StringNull()})
	if got := timeout(context.Background(), obj, "create"); got != 90*time.Second {
		t.Errorf("timeout create = %v", got)
	}
	if got := timeout(context.Background(), obj, "update"); got != baremetal.DefaultReadyTimeout {
		t.Errorf("timeout update = %v", got)
	}
}

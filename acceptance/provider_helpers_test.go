package acceptance

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/provider"
	"github.com/stratastack/strata/provisioners/vsphere/vcsim"
)

// Helpers for the provider's acceptance tests: a vSphere simulator per
// test, the provider served in-process to the real terraform binary, and
// a view of the simulator's inventory that does not go through strata.

// enableAcceptance sets TF_ACC so terraform-plugin-testing runs these
// tests: they need only the terraform binary and an in-process simulator,
// so CI runs them with the rest (`go test ./acceptance`) rather than behind
// an opt-in variable. TF_ACC_TERRAFORM_VERSION must stay unset: it makes the
// harness download Terraform.
func enableAcceptance(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC_TERRAFORM_VERSION") != "" {
		t.Fatal("unset TF_ACC_TERRAFORM_VERSION: it makes terraform-plugin-testing download Terraform; these tests use the terraform on PATH (or TF_ACC_TERRAFORM_PATH)")
	}
	t.Setenv("TF_ACC", "1")
}

// factories serve the provider to terraform from this process.
func factories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"strata": providerserver.NewProtocol6WithError(provider.New("acceptance")()),
	}
}

func startSim(t *testing.T) *vcsim.Sim {
	t.Helper()
	sim, err := vcsim.Start(t.Context(), vcsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

// providerBlock configures the provider for sim with password.
func providerBlock(sim *vcsim.Sim, password string) string {
	return fmt.Sprintf(`
provider "strata" {
  parallelism = 8
  vsphere {
    server               = %q
    user                 = %q
    password             = %q
    allow_unverified_ssl = true
  }
}
`, sim.URL(), sim.User(), password)
}

// mesosStack is a stack of three Mesos masters and var.agents agents on
// the simulator's defaults.
func mesosStack(name, template string) string {
	return fmt.Sprintf(`stack {
  name = %q
}

variable "agents" {
  type    = number
  default = 5
}

substrate "vsphere" "sim" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
  datastore  = "LocalDS_0"
  network    = "VM Network"
  template   = %q
}

pool "mesos" {
  substrate = substrate.vsphere.sim
  size      = 3 + var.agents
  cpus      = 2
  memory_mb = 2048
}

layer "mesos" "core" {
  role "master" {
    on    = pool.mesos
    count = 3
  }
  role "agent" {
    on = pool.mesos
  }
}
`, name, template)
}

func stackResource(path string, agents int) string {
	return fmt.Sprintf(`
resource "strata_stack" "mesos" {
  path = %q
  vars = {
    agents = %d
  }
}
`, path, agents)
}

// workdir makes a temporary working directory holding the stack file and
// the stack's secret seed in .strata/, where the strata CLI keeps it, and
// makes it the process's working directory: the in-process provider then
// finds the seed as it would beside a user's configuration, and the test
// knows the secrets every bootstrap derives from.
func workdir(t *testing.T, stack, src string) (path string, seed *secrets.Seed) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, stack+".strata.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	seed, err := secrets.LoadOrCreate(filepath.Join(dir, ".strata", stack+".seed"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	return path, seed
}

// vm is a VM as the simulator holds it.
type vm struct {
	ID       string
	Name     string
	Template bool
	Folder   string
	Extra    map[string]string
}

// userData decodes the VM's guestinfo.userdata.
func (v vm) userData() ([]byte, error) {
	if enc := v.Extra["guestinfo.userdata.encoding"]; enc != "base64" {
		return nil, fmt.Errorf("%s: guestinfo.userdata.encoding is %q, want base64", v.Name, enc)
	}
	return base64.StdEncoding.DecodeString(v.Extra["guestinfo.userdata"])
}

// inventory lists every VM in the simulator, read with govmomi directly.
func inventory(ctx context.Context, sim *vcsim.Sim) ([]vm, error) {
	c, err := sim.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()
	v, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.template", "config.extraConfig", "parent"}, &vms); err != nil {
		return nil, err
	}
	folders := map[string]string{}
	var out []vm
	for _, m := range vms {
		x := vm{ID: m.Self.Value, Name: m.Name, Extra: map[string]string{}}
		if m.Config != nil {
			x.Template = m.Config.Template
			for _, o := range m.Config.ExtraConfig {
				ov := o.GetOptionValue()
				if s, ok := ov.Value.(string); ok {
					x.Extra[ov.Key] = s
				}
			}
		}
		if m.Parent != nil {
			name, ok := folders[m.Parent.Value]
			if !ok {
				var f mo.Folder
				if err := c.RetrieveOne(ctx, *m.Parent, []string{"name"}, &f); err == nil {
					name = f.Name
				}
				folders[m.Parent.Value] = name
			}
			x.Folder = name
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b vm) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// stackVMs are the VMs carrying the stack's tag, by name; a name held
// twice is an error.
func stackVMs(ctx context.Context, sim *vcsim.Sim, stack string) (map[string]vm, error) {
	all, err := inventory(ctx, sim)
	if err != nil {
		return nil, err
	}
	out := map[string]vm{}
	for _, v := range all {
		if v.Extra["guestinfo.strata.tags.stack"] != stack {
			continue
		}
		if prev, dup := out[v.Name]; dup {
			return nil, fmt.Errorf("two VMs are named %s: %s and %s", v.Name, prev.ID, v.ID)
		}
		out[v.Name] = v
	}
	return out, nil
}

// countVMs counts every VM and template in the simulator.
func countVMs(t *testing.T, sim *vcsim.Sim) int {
	t.Helper()
	all, err := inventory(t.Context(), sim)
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// machineNames are STACK-mesos-0 ... STACK-mesos-(n-1), sorted.
func machineNames(stack string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-mesos-%d", stack, i)
	}
	slices.Sort(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

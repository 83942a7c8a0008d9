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

	"github.com/gophercloud/gophercloud/v2"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/openstack"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// osStack is a Mesos stack on the test cloud: three masters and
// var.agents agents of one vCPU and 2 GiB (m1.small is the smallest fit).
func osStack(name, cloud, image, flavor string) string {
	flavorLine := ""
	if flavor != "" {
		flavorLine = fmt.Sprintf("  flavor    = %q\n", flavor)
	}
	return fmt.Sprintf(`stack {
  name = %q
}

variable "agents" {
  type    = number
  default = 4
}

substrate "openstack" "lab" {
  cloud   = %q
  image   = %q
  network = "none"
}

pool "mesos" {
  substrate = substrate.openstack.lab
  size      = 3 + var.agents
  cpus      = 1
  memory_mb = 2048
%s}

layer "mesos" "core" {
  role "master" {
    on    = pool.mesos
    count = 3
  }
  role "agent" {
    on = pool.mesos
  }
}
`, name, cloud, image, flavorLine)
}

const osProvider = `
provider "strata" {
  openstack {
    cloud = "strata"
  }
}
`

// checkOSStack checks the cloud holds exactly the stack's planned servers,
// each tagged for its place, on the smallest flavor that fits, with the
// bootstrap plan.RenderNode gives it, the masters together in one
// soft-anti-affinity server group, and state recording each server's id.
func checkOSStack(c *gophercloud.ServiceClient, stack, path string, seed *secrets.Seed, agents int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx := context.Background()
		got, err := stackServers(ctx, c, stack)
		if err != nil {
			return err
		}
		if names, want := sortedKeys(got), machineNames(stack, 3+agents); !slices.Equal(names, want) {
			return fmt.Errorf("the cloud holds %v, want %v", names, want)
		}
		attrs := s.RootModule().Resources[stackAddr].Primary.Attributes
		kinds := catalog.Kinds()
		st, _, diags := stacks.Load(path, kinds, stacks.Options{Vars: []string{"agents=" + strconv.Itoa(agents)}})
		if diags.HasErrors() {
			return diags
		}
		p := plan.Compile(st, kinds)
		masters := plan.Addresses{}
		for i := range 3 {
			name := fmt.Sprintf("%s-mesos-%d", stack, i)
			if a := attrs["machines."+name+".addresses.0"]; a != "" {
				masters[name] = a
			}
		}
		var masterIDs []string
		for i := range 3 + agents {
			name := fmt.Sprintf("%s-mesos-%d", stack, i)
			srv := got[name]
			role, known := "agent", masters
			if i < 3 {
				role, known = "master", nil
				masterIDs = append(masterIDs, srv.ID)
			}
			want := map[string]string{"strata:stack": stack, "strata:pool": "mesos", "strata:index": strconv.Itoa(i), "strata:layer": "mesos.core", "strata:role": role}
			for k, v := range want {
				if srv.Metadata[k] != v {
					return fmt.Errorf("%s: metadata %s = %q, want %q", name, k, srv.Metadata[k], v)
				}
			}
			if srv.Status != "ACTIVE" {
				return fmt.Errorf("%s is %s, want ACTIVE", name, srv.Status)
			}
			if f := srv.Flavor["original_name"]; f != "m1.small" {
				return fmt.Errorf("%s has flavor %v, want m1.small (1 vCPU, 2 GiB: the smallest that fits)", name, srv.Flavor)
			}
			if id := attrs["machines."+name+".substrate_id"]; id != srv.ID {
				return fmt.Errorf("%s: state says substrate_id %q, the cloud %q", name, id, srv.ID)
			}
			ud, err := srv.userData()
			if err != nil {
				return fmt.Errorf("%s: user_data: %w", name, err)
			}
			b, err := p.RenderNode(ctx, seed, "mesos", i, known)
			if err != nil {
				return err
			}
			if !bytes.Equal(ud, b.UserData) {
				return fmt.Errorf("%s: user_data is not the %s bootstrap plan.RenderNode gives:\n--- got\n%s\n--- want\n%s", name, role, ud, b.UserData)
			}
		}
		groups, err := stackGroups(ctx, c, stack)
		if err != nil {
			return err
		}
		if len(groups) != 1 {
			return fmt.Errorf("%d server groups for the stack, want 1 (the masters'): %+v", len(groups), groups)
		}
		g := groups[0]
		members := slices.Sorted(slices.Values(g.Members))
		slices.Sort(masterIDs)
		if policy := *g.Policy; policy != "soft-anti-affinity" || !slices.Equal(members, masterIDs) {
			return fmt.Errorf("server group %s: policy %s, members %v; want soft-anti-affinity with the masters %v", g.Name, policy, members, masterIDs)
		}
		return nil
	}
}

// leftServers are the stack's servers that are still there 10 s after a
// destroy, each with its status: a leak persists, while Nova's listing
// may trail its deletes by a moment on a loaded machine (it merges build
// requests and cell records).
func leftServers(ctx context.Context, c *gophercloud.ServiceClient, stack string) ([]string, error) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		got, err := stackServers(ctx, c, stack)
		if err == nil && len(got) == 0 {
			return nil, nil
		}
		if time.Now().After(deadline) {
			var left []string
			for name, s := range got {
				left = append(left, fmt.Sprintf("%s (%s, status %s)", name, s.ID, s.Status))
			}
			slices.Sort(left)
			return left, err
		}
	}
}

// noServersLeft checks nothing of the stack is left on the cloud.
func noServersLeft(c *gophercloud.ServiceClient, stack string) func(*terraform.State) error {
	return func(*terraform.State) error {
		ctx := context.Background()
		left, err := leftServers(ctx, c, stack)
		if err != nil {
			return err
		}
		if len(left) != 0 {
			return fmt.Errorf("destroy left servers: %v", left)
		}
		groups, err := stackGroups(ctx, c, stack)
		if err != nil {
			return err
		}
		if len(groups) != 0 {
			return fmt.Errorf("destroy left server groups: %+v", groups)
		}
		return nil
	}
}

// serverIDs records the stack's servers, by name, in into (replacing
// what it held).
func serverIDs(c *gophercloud.ServiceClient, stack string, into map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := stackServers(context.Background(), c, stack)
		clear(into)
		for name, s := range got {
			into[name] = s.ID
		}
		return err
	}
}

// sameServers checks that the servers recorded in before which still
// exist kept their ids.
func sameServers(c *gophercloud.ServiceClient, stack string, before map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := stackServers(context.Background(), c, stack)
		if err != nil {
			return err
		}
		for name, s := range got {
			if id, ok := before[name]; ok && id != s.ID {
				return fmt.Errorf("%s was replaced (%s -> %s): scaling must change only the difference", name, id, s.ID)
			}
		}
		return nil
	}
}

// TestAccOpenStackMesos: a Mesos stack on the real cloud comes up with
// every server carrying its role's user_data and tags and the masters in
// a server group; scaling changes only the difference; destroy leaves no
// server and no group.
func TestAccOpenStackMesos(t *testing.T) {
	useCloud(t)
	enableAcceptance(t)
	c := admin(t)
	path, seed := workdir(t, "osm", osStack("osm", "strata", "debian-12", ""))
	ids := map[string]string{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noServersLeft(c, "osm"),
		Steps: []resource.TestStep{
			{
				Config: osProvider + stackResource(path, 4),
				Check:  resource.ComposeTestCheckFunc(checkOSStack(c, "osm", path, seed, 4), serverIDs(c, "osm", ids)),
			},
			{
				Config: osProvider + stackResource(path, 2),
				Check:  resource.ComposeTestCheckFunc(checkOSStack(c, "osm", path, seed, 2), sameServers(c, "osm", ids), serverIDs(c, "osm", ids)),
			},
			{
				Config: osProvider + stackResource(path, 5),
				Check:  resource.ComposeTestCheckFunc(checkOSStack(c, "osm", path, seed, 5), sameServers(c, "osm", ids)),
			},
		},
	})
}

// TestAccOpenStackInterruptedApply: an apply stopped halfway leaves
// tagged servers; terraform apply then adopts them and ends with exactly
// the planned servers, none twice.
func TestAccOpenStackInterruptedApply(t *testing.T) {
	useCloud(t)
	enableAcceptance(t)
	c := admin(t)
	path, seed := workdir(t, "osi", osStack("osi", "strata", "debian-12", ""))
	kinds := catalog.Kinds()
	st, _, diags := stacks.Load(path, kinds, stacks.Options{Vars: []string{"agents=4"}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var creates atomic.Int32
	cfg := openstack.Config{CloudsFile: os.Getenv("OS_CLIENT_CONFIG_FILE")}
	e := engine.New(engine.OpenFunc(func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
		return openstack.Open(ctx, cfg, sub.Settings)
	}), engine.Options{Parallelism: 1, Report: func(ev engine.Event) {
		if ev.Action == "create" && creates.Add(1) == 4 {
			cancel()
		}
	}})
	if _, err := e.Apply(ctx, plan.Compile(st, kinds), seed); !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted apply returned %v, want context.Canceled", err)
	}
	before := map[string]string{}
	if err := serverIDs(c, "osi", before)(nil); err != nil {
		t.Fatal(err)
	}
	if len(before) < 4 || len(before) > 5 {
		t.Fatalf("the interrupted apply left %d servers (%v); the test wants it stopped halfway", len(before), sortedKeys(before))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noServersLeft(c, "osi"),
		Steps: []resource.TestStep{{
			Config: osProvider + stackResource(path, 4),
			Check:  resource.ComposeTestCheckFunc(checkOSStack(c, "osi", path, seed, 4), sameServers(c, "osi", before)),
		}},
	})
}

// TestAccOpenStackClearErrors: a missing image or flavor fails the apply
// with an error naming it and creates nothing; an exhausted quota fails
// naming the quota, and what was made is recorded so destroy removes it.
func TestAccOpenStackClearErrors(t *testing.T) {
	useCloud(t)
	enableAcceptance(t)
	c := admin(t)
	tests := []struct {
		name, cloud, image, flavor string
		agents                     int
		want                       *regexp.Regexp
	}{
		{"ose", "strata", "no-such-image", "", 1, regexp.MustCompile(`(?s)image.*no-such-image.*debian-12`)},
		{"osf", "strata", "debian-12", "m9.huge", 1, regexp.MustCompile(`(?s)flavor.*m9\.huge.*m1\.small`)},
		// One call at a time: Nova's quota check races concurrent creates
		// (all may pass it), which would make this test a coin toss.
		{"osq", "strata-acc-quota", "debian-12", "", 0, regexp.MustCompile(`quota exceeded for instances:\s+2\s+of\s+2\s+used`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cloud != "strata" {
				quotaCloud(t, tt.cloud, 2)
			}
			path, _ := workdir(t, tt.name, osStack(tt.name, tt.cloud, tt.image, tt.flavor))
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: factories(),
				CheckDestroy:             noServersLeft(c, tt.name),
				Steps: []resource.TestStep{{
					Config:      strings.Replace(osProvider, "openstack {", "parallelism = 1\n  openstack {", 1) + stackResource(path, tt.agents),
					ExpectError: tt.want,
				}},
			})
			// The quota project holds 2 instances: the masters that fit are
			// made and recorded; destroy (above) removed them.
			got, err := stackServers(context.Background(), c, tt.name)
			if err != nil || len(got) != 0 {
				t.Fatalf("servers left: %v, %v", sortedKeys(got), err)
			}
		})
	}
}

// TestOpenStackLayerPool: a pool on an openstack layer puts its servers on
// that cloud. The layer's machines are vSphere VMs (the simulator); the
// layer reaches its cloud through the clouds.yaml entry it names, here the
// Debian test cloud, so the pool's servers are made there for real, after
// the layer's machines, and removed before them.
func TestOpenStackLayerPool(t *testing.T) {
	useCloud(t) // before simEnv, which passes this environment on
	c := admin(t)
	sim, env := simEnv(t)
	dir := t.TempDir()
	src := `stack {
  name = "osl"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
  datastore  = "LocalDS_0"
  network    = "VM Network"
  template   = "ubuntu-24.04"
}
pool "infra" {
  substrate = substrate.vsphere.dc
  size      = 2
  memory_mb = 4096
}
layer "openstack" "cloud" {
  cloud = "strata"
  role "controller" {
    on    = pool.infra
    count = 1
  }
  role "compute" {
    on = pool.infra
  }
}
pool "tenant" {
  substrate = layer.openstack.cloud
  size      = 3
  flavor    = "m1.tiny"
  image     = "cirros-tiny"
  network   = "none"
}
`
	if err := os.WriteFile(filepath.Join(dir, "osl.strata.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := strataIn(t, dir, env, "up", "osl.strata.hcl")
	if code != 0 {
		t.Fatalf("strata up: exit %d\n%s", code, out)
	}
	got, err := stackServers(t.Context(), c, "osl")
	if err != nil {
		t.Fatal(err)
	}
	if names := sortedKeys(got); !slices.Equal(names, []string{"osl-tenant-0", "osl-tenant-1", "osl-tenant-2"}) {
		t.Fatalf("the cloud holds %v, want the three tenants", names)
	}
	vms := vmNames(t, sim, "osl-")
	slices.Sort(vms)
	if !slices.Equal(vms, []string{"osl-infra-0", "osl-infra-1"}) {
		t.Fatalf("vSphere holds %v, want the layer's two machines", vms)
	}
	for name, s := range got {
		if s.Metadata["strata:pool"] != "tenant" || s.Metadata["strata:stack"] != "osl" || s.Flavor["original_name"] != "m1.tiny" {
			t.Errorf("%s: metadata %v, flavor %v", name, s.Metadata, s.Flavor)
		}
	}
	out, code = strataIn(t, dir, env, "down", "osl.strata.hcl")
	if code != 0 {
		t.Fatalf("strata down: exit %d\n%s", code, out)
	}
	if left, err := leftServers(t.Context(), c, "osl"); err != nil || len(left) > 0 {
		t.Fatalf("after down the cloud holds %v (%v); strata down said:\n%s", left, err, out)
	}
	if vms := vmNames(t, sim, "osl-"); len(vms) != 0 {
		t.Fatalf("after down vSphere holds %v", vms)
	}
}

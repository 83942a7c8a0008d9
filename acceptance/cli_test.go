package acceptance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/stratastack/strata/provisioners/vsphere/vcsim"
)

const cliStack = `stack {
  name = "cli"
}
variable "agents" {
  type    = number
  default = 5
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
  size      = 3 + var.agents
  memory_mb = 2048
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

// simEnv starts a vCenter simulator for one test and returns the
// environment that points strata at it.
func simEnv(t *testing.T) (*vcsim.Sim, []string) {
	t.Helper()
	sim, err := vcsim.Start(context.Background(), vcsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim, append(os.Environ(), "VSPHERE_SERVER="+sim.URL(), "VSPHERE_USER="+sim.User(),
		"VSPHERE_PASSWORD="+sim.Password(), "VSPHERE_ALLOW_UNVERIFIED_SSL=true")
}

// vmNames lists the non-template VMs whose names start with prefix.
func vmNames(t *testing.T, sim *vcsim.Sim, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	c, err := sim.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout(ctx)
	v, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Destroy(ctx)
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &vms); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, vm := range vms {
		if strings.HasPrefix(vm.Name, prefix) {
			out = append(out, vm.Name)
		}
	}
	return out
}

func strataIn(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// TestCLIUpStatusDown drives strata up/status/down against the simulator:
// scaling changes only the difference, a TTL expires, down removes all.
func TestCLIUpStatusDown(t *testing.T) {
	sim, env := simEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.strata.hcl"), []byte(cliStack), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := strataIn(t, dir, env, "up", "s.strata.hcl", "-ttl", "1s", "-parallelism", "4")
	if code != 0 || !strings.Contains(out, `Stack "cli" is up: 8 machines.`) {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	if got := vmNames(t, sim, "cli-"); len(got) != 8 {
		t.Fatalf("%d VMs after up: %v", len(got), got)
	}
	out, code = strataIn(t, dir, env, "up", "s.strata.hcl", "-var", "agents=2")
	if code != 0 || !strings.Contains(out, "Removed: cli-infra-5, cli-infra-6, cli-infra-7") || strings.Contains(out, "create ") {
		t.Fatalf("scale down: exit %d\n%s", code, out)
	}
	if got := vmNames(t, sim, "cli-"); len(got) != 5 {
		t.Fatalf("%d VMs after scaling to 2 agents: %v", len(got), got)
	}
	time.Sleep(1100 * time.Millisecond)
	out, _ = strataIn(t, dir, env, "status")
	if !strings.Contains(out, "EXPIRED") {
		t.Fatalf("status does not report the expired stack:\n%s", out)
	}
	out, code = strataIn(t, dir, env, "down", "-expired")
	if code != 0 || !strings.Contains(out, `Stack "cli" is down: 5 machines and 0 hosted objects removed.`) {
		t.Fatalf("down -expired: exit %d\n%s", code, out)
	}
	if got := vmNames(t, sim, "cli-"); len(got) != 0 {
		t.Fatalf("VMs left after down: %v", got)
	}
	if out, _ := strataIn(t, dir, env, "status"); strings.Contains(out, "cli ") {
		t.Fatalf("state of a removed stack remains:\n%s", out)
	}
}

// TestCLIInterruptedUpAdopts: Ctrl-C halfway through up, then up again,
// ends with exactly the planned VMs — no duplicates, no orphans.
func TestCLIInterruptedUpAdopts(t *testing.T) {
	sim, env := simEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.strata.hcl"), []byte(cliStack), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "up", "s.strata.hcl", "-var", "agents=20", "-parallelism", "2")
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once a few machines exist.
	deadline := time.Now().Add(30 * time.Second)
	for len(vmNames(t, sim, "cli-")) < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("interrupted up exited 0:\n%s", out.String())
	}
	if n := len(vmNames(t, sim, "cli-")); n == 0 || n >= 23 {
		t.Fatalf("%d VMs after the interrupt; the test wants a half-done apply\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "Interrupted") {
		t.Fatalf("no word on the interrupt:\n%s", out.String())
	}
	res, code := strataIn(t, dir, env, "up", "s.strata.hcl", "-var", "agents=20")
	if code != 0 || !strings.Contains(res, "adopt ") {
		t.Fatalf("re-run: exit %d\n%s", code, res)
	}
	got := vmNames(t, sim, "cli-")
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] {
			t.Errorf("duplicate VM %s", n)
		}
		seen[n] = true
	}
	for i := 0; i < 23; i++ {
		if name := fmt.Sprintf("cli-infra-%d", i); !seen[name] {
			t.Errorf("missing %s", name)
		}
	}
	if len(got) != 23 {
		t.Fatalf("%d VMs, want 23: %v", len(got), got)
	}
	if _, code := strataIn(t, dir, env, "down", "s.strata.hcl"); code != 0 || len(vmNames(t, sim, "cli-")) != 0 {
		t.Fatal("down left VMs")
	}
}

// TestCLIClearErrors: bad credentials and a missing template fail before
// anything is made, saying what is wrong.
func TestCLIClearErrors(t *testing.T) {
	sim, env := simEnv(t)
	dir := t.TempDir()
	bad := strings.Replace(cliStack, `template   = "ubuntu-24.04"`, `template   = "ubuntu-42"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "bad.strata.hcl"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s.strata.hcl"), []byte(cliStack), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := strataIn(t, dir, env, "up", "bad.strata.hcl")
	if code != 1 || !strings.Contains(out, `"ubuntu-42"`) || !strings.Contains(out, "ubuntu-24.04") {
		t.Fatalf("missing template: exit %d\n%s", code, out)
	}
	wrong := append(append([]string(nil), env...), "VSPHERE_PASSWORD=nope")
	out, code = strataIn(t, dir, wrong, "up", "s.strata.hcl")
	if code != 1 || !strings.Contains(out, "wrong user name or password") {
		t.Fatalf("wrong password: exit %d\n%s", code, out)
	}
	if got := vmNames(t, sim, "cli-"); len(got) != 0 {
		t.Fatalf("VMs left behind by failed applies: %v", got)
	}
}

package acceptance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/provisioners/baremetal"
	bootapi "github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/lab"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// testLab is a `strata lab` brought up for one test, on its own name,
// networks and BMC ports so it never meets a lab a user runs.
type testLab struct {
	dir        string
	bootServer string
	token      string
	bmcPass    string
	bmcPort    int
}

func startLab(t *testing.T) *testLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the PXE lab needs root (network namespaces, taps); CI runs as root")
	}
	if err := lab.Check(lab.Config{Busybox: "/bin/busybox"}); err != nil {
		t.Fatalf("%v (CI installs these: make lab-deps)", err)
	}
	l := &testLab{dir: filepath.Join(t.TempDir(), "lab"), bmcPort: freeUDPRange(t, 3)}
	name := fmt.Sprintf("t%d", os.Getpid()%1000000)
	out, code := strataIn(t, t.TempDir(), os.Environ(), "lab", "up", "-dir", l.dir, "-name", name,
		"-subnet", "192.168.178.0/24", "-link", "169.254.178.0/30", "-bmc-port", strconv.Itoa(l.bmcPort))
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"lab.log", "boot/boot.log", "vms/vm0/console.log", "vms/vm1/console.log", "vms/vm2/console.log"} {
				b, _ := os.ReadFile(filepath.Join(l.dir, f))
				t.Logf("--- %s:\n%s", f, lastLines(string(b), 40))
			}
		}
		if out, code := strataIn(t, t.TempDir(), os.Environ(), "lab", "down", "-dir", l.dir); code != 0 {
			t.Errorf("strata lab down: exit %d\n%s", code, out)
		}
	})
	if code != 0 {
		t.Fatalf("strata lab up: exit %d\n%s", code, out)
	}
	env, err := os.ReadFile(filepath.Join(l.dir, "lab.env"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(env)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "STRATA_BOOT_TOKEN":
			l.token = v
		case "STRATA_BMC_PASSWORD":
			l.bmcPass = v
		case "STRATA_LAB_BOOT_SERVER":
			l.bootServer = v
		}
	}
	return l
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// freeUDPRange finds n consecutive free UDP ports on 127.0.0.1.
func freeUDPRange(t *testing.T, n int) int {
	t.Helper()
	for base := 20000 + os.Getpid()%20000; base < 60000; base += n {
		ok := true
		for p := base; p < base+n && ok; p++ {
			c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				continue
			}
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free UDP ports")
	return 0
}

func (l *testLab) state(t *testing.T) lab.State {
	t.Helper()
	st, ok, err := lab.ReadState(l.dir)
	if err != nil || !ok {
		t.Fatalf("lab state: %v (recorded: %t)", err, ok)
	}
	return st
}

// machines asks the boot server's API for its machines, by name.
func (l *testLab) machines() (map[string]bootapi.MachineView, error) {
	req, _ := http.NewRequest(http.MethodGet, l.bootServer+"/api/v1/machines", nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET machines: %s", resp.Status)
	}
	var vs []bootapi.MachineView
	if err := json.NewDecoder(resp.Body).Decode(&vs); err != nil {
		return nil, err
	}
	out := map[string]bootapi.MachineView{}
	for _, v := range vs {
		out[v.Name] = v
	}
	return out, nil
}

// bmcPower asks VM i's BMC, with ipmitool, whether the chassis is on.
func (l *testLab) bmcPower(i int) (string, error) {
	out, err := exec.Command("ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(l.bmcPort+i),
		"-U", lab.BMCUser, "-P", l.bmcPass, "-C", "3", "-N", "1", "-R", "3", "chassis", "power", "status").CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// restarter kills the boot server once the master has phoned home and both
// agents are registered, before they boot: the rest of the apply runs
// against a boot server that restarted from its inventory.
type restarter struct {
	mu       sync.Mutex
	killedAt time.Time
	oldPID   int
	err      error
}

func (r *restarter) watch(t *testing.T, l *testLab, stop <-chan struct{}) {
	master, agents := "metal-nodes-0", []string{"metal-nodes-1", "metal-nodes-2"}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		ms, err := l.machines()
		if err != nil {
			continue // between restarts, or not up yet
		}
		if ms[master].State != bootapi.StateReady {
			continue
		}
		// Registered, not further: a restart in the middle of an iPXE
		// download would send that VM back to its BIOS for a minute.
		if ms[agents[0]].State != bootapi.StateRegistered || ms[agents[1]].State != bootapi.StateRegistered {
			continue
		}
		st, ok, err := lab.ReadState(l.dir)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil || !ok || st.Boot.PID == 0 {
			r.err = fmt.Errorf("no boot server pid in the lab state: %v", err)
			return
		}
		r.oldPID, r.killedAt = st.Boot.PID, time.Now()
		if err := syscall.Kill(st.Boot.PID, syscall.SIGKILL); err != nil {
			r.err = err
		}
		t.Logf("killed the boot server (pid %d) with the master ready and the agents registered", st.Boot.PID)
		return
	}
}

// TestLabTerraform: terraform apply of examples/terraform/baremetal brings
// up three lab machines by IPMI and PXE; the boot server is killed in the
// middle and restarted by the lab; every machine phones home with the
// SHA-256 of its own role's bootstrap; destroy powers them all off and
// empties the boot server.
func TestLabTerraform(t *testing.T) {
	l := startLab(t)
	enableAcceptance(t)
	t.Setenv("STRATA_BOOT_TOKEN", l.token)
	t.Setenv("STRATA_BMC_PASSWORD", l.bmcPass)
	src, err := os.ReadFile(filepath.Join("..", "examples", "terraform", "baremetal", "mesos.strata.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	path, seed := workdir(t, "metal", string(src))
	vars := []string{"boot_server=" + l.bootServer, "bmc_port=" + strconv.Itoa(l.bmcPort)}
	config := fmt.Sprintf(`
provider "strata" {}

resource "strata_stack" "metal" {
  path = %q
  vars = {
    boot_server = %q
    bmc_port    = %d
  }
}
`, path, l.bootServer, l.bmcPort)

	var r restarter
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); r.watch(t, l, stop) }()
	defer func() { close(stop); <-done }()

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		Steps: []resource.TestStep{{
			Config: config,
			Check:  checkLab(t, l, &r, path, seed, vars),
		}},
		CheckDestroy: func(*terraform.State) error {
			ms, err := l.machines()
			if err != nil {
				return err
			}
			if len(ms) != 0 {
				return fmt.Errorf("the boot server still has machines after destroy: %v", sortedKeys(ms))
			}
			for i, v := range l.state(t).VMs {
				if v.Power() != "off" {
					return fmt.Errorf("%s is still on after destroy (QEMU pid %d)", v.Name, v.QEMU)
				}
				if p, err := l.bmcPower(i); err != nil || !strings.Contains(p, "off") {
					return fmt.Errorf("%s: its BMC says %q (%v) after destroy, want off", v.Name, p, err)
				}
			}
			return nil
		},
	})
}

func checkLab(t *testing.T, l *testLab, r *restarter, path string, seed *secrets.Seed, vars []string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		r.mu.Lock()
		killedAt, oldPID, rerr := r.killedAt, r.oldPID, r.err
		r.mu.Unlock()
		if rerr != nil {
			return rerr
		}
		if killedAt.IsZero() {
			return fmt.Errorf("the boot server was never restarted during the apply: the test proved nothing about restarts")
		}
		st := l.state(t)
		if st.Boot.Restarts < 1 || st.Boot.PID == oldPID || st.Boot.PID == 0 {
			return fmt.Errorf("the lab did not restart the boot server: pid %d (killed %d), %d restarts", st.Boot.PID, oldPID, st.Boot.Restarts)
		}
		ms, err := l.machines()
		if err != nil {
			return err
		}
		attrs := s.RootModule().Resources["strata_stack.metal"].Primary.Attributes
		kinds := catalog.Kinds()
		stk, _, diags := stacks.Load(path, kinds, stacks.Options{Vars: vars})
		if diags.HasErrors() {
			return diags
		}
		p := plan.Compile(stk, kinds)
		master := "metal-nodes-0"
		known := plan.Addresses{master: attrs["machines."+master+".addresses.0"]}
		for i := range 3 {
			name := fmt.Sprintf("metal-nodes-%d", i)
			m, ok := ms[name]
			if !ok {
				return fmt.Errorf("the boot server lost %s (it has %v)", name, sortedKeys(ms))
			}
			role, k := "agent", known
			if i == 0 {
				role, k = "master", nil
			}
			want, err := p.RenderNode(t.Context(), seed, "nodes", i, k)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(want.UserData)
			ph := m.PhoneHome
			if m.State != bootapi.StateReady || ph == nil {
				return fmt.Errorf("%s is %s with phone-home %+v, want ready", name, m.State, ph)
			}
			if ph.Checksum != hex.EncodeToString(sum[:]) || ph.ChecksumMatches == nil || !*ph.ChecksumMatches {
				return fmt.Errorf("%s (%s) phoned home with %q, want the SHA-256 of its %s bootstrap %x", name, m.Labels[baremetal.LabelMachine], ph.Checksum, role, sum)
			}
			if host, _, _ := net.SplitHostPort(ph.Remote); attrs["machines."+name+".addresses.0"] != host {
				return fmt.Errorf("%s: state has address %q, it phoned home from %s", name, attrs["machines."+name+".addresses.0"], ph.Remote)
			}
			if got := attrs["machines."+name+".role"]; got != role {
				return fmt.Errorf("%s: state says role %q, want %q", name, got, role)
			}
			if i == 0 && !ph.At.Before(killedAt) {
				return fmt.Errorf("the master's phone-home is dated %v, after the restart at %v: the test meant to restart after it", ph.At, killedAt)
			}
		}
		for i, v := range st.VMs {
			if v.Power() != "on" || v.BootDevice != "pxe" || v.PowerOns != 1 {
				return fmt.Errorf("%s: power %s, boot device %q, %d power-ons; want on, pxe, 1", v.Name, v.Power(), v.BootDevice, v.PowerOns)
			}
			if p, err := l.bmcPower(i); err != nil || !strings.Contains(p, "on") {
				return fmt.Errorf("%s: its BMC says %q (%v), want on", v.Name, p, err)
			}
		}
		return l.checkStatusPage([]string{"metal-nodes-0", "metal-nodes-1", "metal-nodes-2"})
	}
}

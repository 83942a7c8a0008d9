package power

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/ipmisim"
)

// simBMC is a running ipmi_sim: OpenIPMI's BMC simulator, speaking real
// IPMI v2.0 RMCP+ on a UDP port of 127.0.0.1.
type simBMC struct {
	dir  string // chassis state: files power, boot, history, calls
	port int
	url  string
	pass string // admin's password, random per test
}

// Users in the simulator's lan.conf besides admin.
const (
	simOperator     = "operator"
	simOperatorPass = "op-pass-4711"
)

// chassisControl is the program ipmi_sim runs for chassis state (lan.conf
// chassis_control): "<prog> [mc] get power boot" must print name:value
// lines, "<prog> [mc] set power 1 boot pxe" sets them. It mirrors the PXE
// lab's script but keeps the state in files instead of starting a VM.
const chassisControl = `#!/bin/sh
D='%s'
echo "$*" >> "$D/calls"
while [ $# -gt 0 ] && [ "$1" != get ] && [ "$1" != set ]; do shift; done
op=$1
[ $# -gt 0 ] && shift
if [ "$op" = get ]; then
  for n in "$@"; do
    case $n in
      power) echo "power:$(cat "$D/power" 2>/dev/null || echo 0)";;
      boot)  echo "boot:$(cat "$D/boot" 2>/dev/null || echo default)";;
      *)     echo "$n:0";;
    esac
  done
  exit 0
fi
while [ $# -ge 2 ]; do
  n=$1; v=$2; shift 2
  case $n in
    power) echo "$v" > "$D/power"; echo "power $v" >> "$D/history";;
    reset) echo "reset" >> "$D/history";;
    boot)  echo "$v" > "$D/boot";  echo "boot $v" >> "$D/history";;
  esac
done
exit 0
`

// needTool fails the test when a program CI installs is missing.
func needTool(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Fatalf("%s not found on PATH: install the Debian package %s "+
			"(apt-get install --no-install-recommends %s, or make deps); CI installs it", prog, pkg, pkg)
	}
	return p
}

// startIPMISim starts ipmi_sim on a free UDP port and stops it when the
// test ends. A port taken between choosing and binding it is retried.
func startIPMISim(t *testing.T) *simBMC {
	t.Helper()
	bin := needTool(t, "ipmi_sim", "openipmi")
	var lastErr error
	for try := 0; try < 3; try++ {
		b, err := trySim(t, bin)
		if err == nil {
			return b
		}
		lastErr = err
	}
	t.Fatalf("ipmi_sim did not come up: %v", lastErr)
	return nil
}

func trySim(t *testing.T, bin string) (*simBMC, error) {
	dir := t.TempDir()
	b := &simBMC{dir: dir, port: freeUDPPort(t), pass: randomPassword(t)}
	b.url = "ipmi://127.0.0.1:" + strconv.Itoa(b.port)
	prog := filepath.Join(dir, "chassis-control")
	write(t, prog, fmt.Sprintf(chassisControl, dir), 0o755)
	// A USER-privilege user would prove nothing: ipmi_sim grants it
	// OPERATOR sessions.
	sim := ipmisim.Config{Dir: dir, Addr: "127.0.0.1:" + strconv.Itoa(b.port), Name: "strata-test", ChassisControl: prog,
		Users: []ipmisim.User{{Name: "admin", Password: b.pass}, {Name: simOperator, Password: simOperatorPass, Privilege: "operator"}}}
	if err := sim.Write(); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "ipmi_sim.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := sim.Command(context.Background())
	cmd.Path = bin
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so cleanup reaches a chassis-control child too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ipmi_sim: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	pid := cmd.Process.Pid
	stop := func() {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			for _, f := range []string{"ipmi_sim.log", "calls", "history"} {
				data, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("%s:\n%s", f, data)
			}
		}
	})
	if err := ipmisim.WaitReady(context.Background(), sim.Addr, exited, 5*time.Second); err != nil {
		stop()
		data, _ := os.ReadFile(filepath.Join(dir, "ipmi_sim.log"))
		return nil, fmt.Errorf("%v; ipmi_sim log:\n%s", err, data)
	}
	return b, nil
}

// read returns a chassis state file's content ("" if missing).
func (b *simBMC) read(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(b.dir, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// history is what chassis control was told to set, one line per change.
func (b *simBMC) history(t *testing.T) []string {
	t.Helper()
	h := b.read(t, "history")
	if h == "" {
		return nil
	}
	return strings.Split(h, "\n")
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func randomPassword(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "Pw-" + hex.EncodeToString(b) // 15 bytes: IPMI allows 20
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// runIpmitool runs ipmitool against b over lanplus with cipher suite 3.
func runIpmitool(t *testing.T, b *simBMC, args ...string) string {
	t.Helper()
	bin := needTool(t, "ipmitool", "ipmitool")
	full := append([]string{"-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(b.port),
		"-U", "admin", "-P", b.pass, "-C", "3", "-N", "1", "-R", "2"}, args...)
	cmd := exec.Command(bin, full...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ipmitool %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("ipmitool %s: no result in 10 s\n%s", strings.Join(args, " "), out.String())
	}
	return out.String()
}

// Package simtest gives a test a real BMC: OpenIPMI's ipmi_sim on a free
// UDP port of 127.0.0.1, whose chassis keeps its power state and boot
// device in files the test can read, and records every call.
package simtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// BMC is a running ipmi_sim with an admin user.
type BMC struct {
	Dir      string // chassis state: files power, boot, history, calls
	Port     int
	URL      string // ipmi://127.0.0.1:PORT
	User     string // "admin"
	Password string // random per test
}

// chassisControl keeps the chassis in files: "get power boot" prints
// name:value lines, "set power 1 boot pxe" sets them, "history" records
// each change and "calls" every invocation.
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

// Start starts a BMC with the admin user and extra users, and stops it
// when the test ends. ipmi_sim must be installed (Debian's openipmi; CI
// installs it): a missing one fails the test with that hint.
func Start(t testing.TB, extra ...ipmisim.User) *BMC {
	t.Helper()
	if _, err := exec.LookPath("ipmi_sim"); err != nil {
		t.Fatal("ipmi_sim not found on PATH: install the Debian package openipmi (apt-get install --no-install-recommends openipmi, or make deps)")
	}
	var last error
	for range 3 { // a port taken between choosing and binding it
		b, err := try(t, extra)
		if err == nil {
			return b
		}
		last = err
	}
	t.Fatalf("ipmi_sim did not come up: %v", last)
	return nil
}

func try(t testing.TB, extra []ipmisim.User) (*BMC, error) {
	dir := t.TempDir()
	pw := make([]byte, 6)
	rand.Read(pw)
	b := &BMC{Dir: dir, Port: FreeUDPPort(t), User: "admin", Password: "Pw-" + hex.EncodeToString(pw)}
	b.URL = "ipmi://127.0.0.1:" + strconv.Itoa(b.Port)
	prog := filepath.Join(dir, "chassis-control")
	if err := os.WriteFile(prog, []byte(fmt.Sprintf(chassisControl, dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	sim := ipmisim.Config{Dir: dir, Addr: "127.0.0.1:" + strconv.Itoa(b.Port), Name: "strata-test", ChassisControl: prog,
		Users: append([]ipmisim.User{{Name: b.User, Password: b.Password}}, extra...)}
	if err := sim.Write(); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "ipmi_sim.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := sim.Command(context.Background())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // cleanup reaches a chassis-control child too
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
				t.Logf("ipmi_sim %s:\n%s", f, data)
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

// FreeUDPPort returns a UDP port of 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// Read returns a chassis state file's content ("" when missing).
func (b *BMC) Read(name string) string {
	data, _ := os.ReadFile(filepath.Join(b.Dir, name))
	return strings.TrimSpace(string(data))
}

// History is what the chassis was told to set, one line per change.
func (b *BMC) History() []string {
	if h := b.Read("history"); h != "" {
		return strings.Split(h, "\n")
	}
	return nil
}

// Ipmitool runs ipmitool against the BMC over lanplus with cipher suite 3
// as admin, as an operator would, and returns its output; it fails the
// test on an error or after 10 s.
func (b *BMC) Ipmitool(t testing.TB, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("ipmitool")
	if err != nil {
		t.Fatal("ipmitool not found on PATH: install the Debian package ipmitool (make deps)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	full := append([]string{"-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(b.Port),
		"-U", b.User, "-P", b.Password, "-C", "3", "-N", "1", "-R", "2"}, args...)
	out, err := exec.CommandContext(ctx, bin, full...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipmitool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

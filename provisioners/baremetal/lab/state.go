package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stratastack/strata/internal/atomicfile"
)

// State is what a running lab reports in Dir/lab.json. The supervisor
// rewrites it on every change; `down` reads it to clean up after a crash.
type State struct {
	Name       string    `json:"name"`
	Netns      string    `json:"netns"`
	Supervisor int       `json:"supervisor_pid"`
	Started    time.Time `json:"started"`
	// Ready is set once the boot server and every BMC answer.
	Ready bool `json:"ready"`
	// BootServer is the boot server's URL from this host, PublicURL the
	// one the VMs use.
	BootServer string `json:"boot_server"`
	PublicURL  string `json:"public_url"`
	Boot       Proc   `json:"boot"`
	VMs        []VM   `json:"vms"`
}

// Proc is a process the supervisor keeps running.
type Proc struct {
	PID      int    `json:"pid"`
	Restarts int    `json:"restarts"`
	Log      string `json:"log"`
	// Error says why it is not running, when it is not.
	Error string `json:"error,omitempty"`
}

// VM is one lab machine and its BMC.
type VM struct {
	Name    string `json:"name"`
	MAC     string `json:"mac"`
	BMC     string `json:"bmc"`
	BMCProc Proc   `json:"bmc_process"`
	Tap     string `json:"tap"`
	// QEMU is the VM's process while it is powered on, else 0.
	QEMU int `json:"qemu_pid"`
	// BootDevice is what the BMC was last told ("pxe", or "default").
	BootDevice string `json:"boot_device"`
	// PowerOns counts power-ons since the lab came up.
	PowerOns int    `json:"power_ons"`
	Console  string `json:"console"`
}

// Power says "on" or "off".
func (v VM) Power() string {
	if v.QEMU != 0 {
		return "on"
	}
	return "off"
}

func (s *State) save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

// ReadState reads a lab's state; ok is false when no lab is recorded in dir.
func ReadState(dir string) (st State, ok bool, err error) {
	b, err := os.ReadFile(Config{Dir: dir}.path("lab.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("lab: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, false, fmt.Errorf("lab: %s is corrupt: %w", Config{Dir: dir}.path("lab.json"), err)
	}
	return st, true, nil
}

// alive reports whether pid is a live process (a zombie is not: where PID
// 1 does not reap orphans, a dead process's pid lingers), and, when marker
// is not empty, whether its command line contains marker, so that a pid
// reused by someone else's process is never taken for ours.
func alive(pid int, marker string) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may hold spaces.
	if i := strings.LastIndexByte(string(stat), ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	if marker == "" {
		return true
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), marker)
}

// kill ends pid if it is alive and ours (see alive): SIGTERM, then SIGKILL
// after grace.
func kill(pid int, marker string, grace time.Duration) {
	if !alive(pid, marker) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(grace); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !alive(pid, "") {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && alive(pid, ""); {
		time.Sleep(50 * time.Millisecond)
	}
}

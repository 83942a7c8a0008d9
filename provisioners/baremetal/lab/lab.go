package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stratastack/strata/internal/atomicfile"
	"github.com/stratastack/strata/provisioners/baremetal/netns"
)

// requirement is a program or file the lab needs, and the Debian package
// that provides it.
type requirement struct{ what, pkg string }

func requirements(busybox string) []requirement {
	return []requirement{
		{"qemu-system-x86_64", "qemu-system-x86"},
		{"/usr/lib/ipxe/qemu/efi-virtio.rom", "ipxe-qemu"}, // the virtio NIC boot ROM QEMU loads: iPXE
		{"/usr/lib/ipxe/undionly.kpxe", "ipxe"},            // what the boot server's TFTP serves
		{"ipmi_sim", "openipmi"},
		{"ip", "iproute2"},
		{"apt-get", "apt"},
		{busybox, "busybox-static"},
	}
}

// Check returns one error naming everything missing to run a lab, with the
// packages to install, or nil.
func Check(cfg Config) error {
	if os.Geteuid() != 0 {
		return errors.New("strata lab needs root: it creates a network namespace, a bridge, tap devices and a veth link, and runs QEMU on them (run it with sudo)")
	}
	var missing, pkgs []string
	for _, r := range requirements(cfg.Busybox) {
		var err error
		if strings.HasPrefix(r.what, "/") {
			_, err = os.Stat(r.what)
		} else {
			_, err = exec.LookPath(r.what)
		}
		if err != nil && !(r.what == "apt-get" && cfg.Kernel != nil) {
			missing, pkgs = append(missing, r.what), append(pkgs, r.pkg)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("strata lab needs %s: apt-get install --no-install-recommends %s (or make lab-deps)",
			strings.Join(missing, ", "), strings.Join(pkgs, " "))
	}
	return nil
}

// Up prepares a lab in cfg.Dir (kernel, initramfs, BMC configurations,
// secrets) and starts its supervisor in the background, then waits until
// the lab is ready. A lab left behind by a crash is cleaned up first.
func Up(ctx context.Context, cfg Config, progress io.Writer) (State, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return State{}, err
	}
	if err := Check(cfg); err != nil {
		return State{}, err
	}
	if st, ok, err := ReadState(cfg.Dir); err != nil {
		return State{}, err
	} else if ok {
		if alive(st.Supervisor, "lab run -dir "+cfg.Dir) {
			return State{}, fmt.Errorf("lab %s is already up in %s (supervisor pid %d); `strata lab down -dir %s` first", st.Name, cfg.Dir, st.Supervisor, cfg.Dir)
		}
		fmt.Fprintf(progress, "cleaning up lab %s, whose supervisor (pid %d) is gone\n", st.Name, st.Supervisor)
		if err := cleanup(ctx, cfg, st); err != nil {
			return State{}, err
		}
	}
	if netns.Exists(cfg.Name) {
		return State{}, fmt.Errorf("lab: network namespace %s exists but no lab in %s records it; if nothing uses it, `ip netns delete %s`", cfg.Name, cfg.Dir, cfg.Name)
	}
	for _, d := range []string{"assets", "boot", "kernel", "vms"} {
		if err := os.MkdirAll(cfg.path(d), 0o755); err != nil {
			return State{}, fmt.Errorf("lab: %w", err)
		}
	}
	kernel := cfg.Kernel
	if kernel == nil {
		fmt.Fprintf(progress, "kernel: %s (cached in %s)\n", KernelPackage, cfg.path("kernel"))
		k, err := FetchKernel(ctx, cfg.path("kernel"))
		if err != nil {
			return State{}, err
		}
		kernel = &k
	}
	if err := copyFile(kernel.Image, cfg.path("assets", "vmlinuz")); err != nil {
		return State{}, err
	}
	var rd bytes.Buffer
	if err := BuildInitramfs(&rd, cfg.Busybox, kernel.ModulesDir); err != nil {
		return State{}, err
	}
	if err := atomicfile.Write(cfg.path("assets", "initrd.gz"), rd.Bytes(), 0o644); err != nil {
		return State{}, fmt.Errorf("lab: %w", err)
	}
	sec := newSecrets()
	if err := atomicfile.Write(cfg.path("lab.env"), []byte(cfg.env(sec)), 0o600); err != nil {
		return State{}, fmt.Errorf("lab: %w", err)
	}
	s := supervisor{cfg: cfg, sec: sec}
	for i := range cfg.VMs {
		b := s.bmc(i)
		if err := b.Write(); err != nil {
			return State{}, err
		}
		// The chassis program: this binary, told which lab and VM.
		prog := fmt.Sprintf("#!/bin/sh\nexec '%s' lab chassis -dir '%s' -vm %d \"$@\"\n", cfg.Strata, cfg.Dir, i)
		if err := atomicfile.Write(b.ChassisControl, []byte(prog), 0o755); err != nil {
			return State{}, fmt.Errorf("lab: %w", err)
		}
	}
	if err := cfg.save(); err != nil {
		return State{}, fmt.Errorf("lab: %w", err)
	}
	return start(ctx, cfg)
}

// start runs `strata lab run` detached (its own session, output to
// lab.log) and waits for it to report the lab ready.
func start(ctx context.Context, cfg Config) (State, error) {
	logf, err := os.OpenFile(cfg.path("lab.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return State{}, fmt.Errorf("lab: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(cfg.Strata, "lab", "run", "-dir", cfg.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return State{}, fmt.Errorf("lab: starting the supervisor: %w", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, ok, err := ReadState(cfg.Dir)
		switch {
		case err != nil:
			return State{}, err
		case ok && st.Supervisor == pid && st.Ready:
			return st, nil
		case !alive(pid, ""):
			return State{}, fmt.Errorf("lab: the supervisor exited before the lab was ready:\n%s", tail(cfg.path("lab.log"), 15))
		case time.Now().After(deadline) || ctx.Err() != nil:
			_ = syscall.Kill(pid, syscall.SIGTERM)
			return State{}, fmt.Errorf("lab: not ready within 90 s; stopping it. Its log:\n%s", tail(cfg.path("lab.log"), 15))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// Down takes the lab in dir down: it asks the supervisor to stop and, if
// the supervisor is gone (crashed, killed), ends what it left running and
// removes the network itself. It reports whether there was a lab.
func Down(ctx context.Context, dir string) (bool, error) {
	st, ok, err := ReadState(dir)
	if err != nil || !ok {
		return false, err
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		return true, err
	}
	if alive(st.Supervisor, "lab run -dir "+cfg.Dir) {
		_ = syscall.Kill(st.Supervisor, syscall.SIGTERM)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && alive(st.Supervisor, ""); {
			time.Sleep(100 * time.Millisecond)
		}
		kill(st.Supervisor, "lab run -dir "+cfg.Dir, 0)
	}
	// Whatever the supervisor did, make sure: cleanup is idempotent. The
	// state is read again: it has the latest pids.
	if now, ok, err := ReadState(dir); err == nil && ok {
		st = now
	}
	return true, cleanup(ctx, cfg, st)
}

// Command returns a command running argv inside the lab's network
// namespace, for `strata lab exec`.
func Command(ctx context.Context, dir string, argv ...string) (*exec.Cmd, error) {
	st, ok, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	if !ok || !netns.Exists(st.Netns) {
		return nil, fmt.Errorf("lab: no lab is up in %s (strata lab up)", dir)
	}
	return netns.Command(ctx, st.Netns, argv...), nil
}

// Env returns the path of the lab's environment file (boot token, BMC
// password, URLs), for `. $(strata lab env)`-style use.
func Env(dir string) string { return filepath.Join(dir, "lab.env") }

package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/ipmisim"
	"github.com/stratastack/strata/provisioners/baremetal/netns"
)

// supervisor is the lab's long-running process: the parent of the boot
// server, the BMCs and the VMs, so that it reaps them and restarts the
// first two when they die.
type supervisor struct {
	cfg Config
	sec Secrets
	log *slog.Logger

	mu sync.Mutex // guards st and its file
	st State

	vms []*vmProc
	wg  sync.WaitGroup // every child's wait goroutine
}

// vmProc is one VM's QEMU, when it runs.
type vmProc struct {
	mu     sync.Mutex // serialises power changes
	cmd    *exec.Cmd
	exited chan struct{}
}

// Run is the supervisor: it builds the lab's network, keeps its boot server
// and BMCs running, starts and stops VMs as their BMCs are told to, and
// when ctx ends takes everything down again (Down does the same for a
// supervisor that died). `strata lab up` starts it in the background as
// `strata lab run`.
func Run(ctx context.Context, dir string, log *slog.Logger) (err error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return err
	}
	sec, err := cfg.readSecrets()
	if err != nil {
		return err
	}
	s := &supervisor{cfg: cfg, sec: sec, log: log, st: State{
		Name: cfg.Name, Netns: cfg.Name, Supervisor: os.Getpid(), Started: time.Now().UTC(),
		BootServer: cfg.BootServer(), PublicURL: cfg.PublicURL(),
		Boot: Proc{Log: cfg.path("boot", "boot.log")},
	}}
	for i := range cfg.VMs {
		n := cfg.vmName(i)
		s.st.VMs = append(s.st.VMs, VM{
			Name: n, MAC: MAC(i), BMC: cfg.BMC(i), Tap: "tap" + strconv.Itoa(i), BootDevice: "default",
			Console: cfg.path("vms", n, "console.log"), BMCProc: Proc{Log: cfg.path("bmc", n, "ipmi_sim.log")},
		})
		s.vms = append(s.vms, &vmProc{})
	}
	if netns.Exists(cfg.Name) {
		// Not ours to tear down: return before the deferred teardown.
		return fmt.Errorf("lab: network namespace %s already exists; if no lab uses it, `strata lab down -dir %s` or `ip netns delete %s`", cfg.Name, cfg.Dir, cfg.Name)
	}
	s.save()

	// Children run until teardown, not until ctx: teardown stops the VMs
	// before the BMCs and the boot server go.
	cctx, stopChildren := context.WithCancel(context.Background())
	defer func() {
		s.teardown(stopChildren)
		if err != nil {
			s.log.Error("lab failed", "err", err)
		}
	}()
	if err := s.network(ctx); err != nil {
		return err
	}
	if !cfg.NoBootServer {
		s.keep(cctx, "boot server", func() *Proc { return &s.st.Boot }, s.bootCommand)
	}
	for i := range cfg.VMs {
		s.keep(cctx, "BMC of "+cfg.vmName(i), func() *Proc { return &s.st.VMs[i].BMCProc }, s.bmcCommand(i))
	}
	ln, err := net.Listen("unix", cfg.path("lab.sock"))
	if err != nil {
		return fmt.Errorf("lab: control socket: %w", err)
	}
	defer ln.Close()
	go s.serveControl(ln)
	if err := s.waitReady(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.st.Ready = true
	s.saveLocked()
	s.mu.Unlock()
	s.log.Info("lab ready", "name", cfg.Name, "vms", cfg.VMs, "boot_server", cfg.BootServer())
	<-ctx.Done()
	return nil
}

func (s *supervisor) save() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saveLocked()
}

func (s *supervisor) saveLocked() {
	if err := s.st.save(s.cfg.path("lab.json")); err != nil {
		s.log.Error("writing lab state", "err", err)
	}
}

// network makes the namespace: a bridge with the boot server's addresses,
// one tap per VM on it, and a veth link to the host.
func (s *supervisor) network(ctx context.Context) error {
	c, ns := s.cfg, s.cfg.Name
	if err := netns.Add(ctx, ns); err != nil {
		return err
	}
	// Without duplicate address detection the bridge's link-local address
	// is usable at once, which router advertisements need.
	if err := netns.Do(ns, func() error {
		for _, f := range []string{"all", "default"} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+f+"/accept_dad", []byte("0"), 0o644); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	steps := [][]string{
		{"link", "add", "br0", "type", "bridge"},
		{"addr", "add", netip4(c.serverIP(), c.Subnet.Bits()), "dev", "br0"},
		{"addr", "add", c.raPrefix().Addr().Next().String() + "/64", "dev", "br0", "nodad"},
		{"link", "set", "br0", "up"},
	}
	for i := range c.VMs {
		tap := "tap" + strconv.Itoa(i)
		steps = append(steps, []string{"tuntap", "add", "dev", tap, "mode", "tap"},
			[]string{"link", "set", tap, "master", "br0"}, []string{"link", "set", tap, "up"})
	}
	for _, st := range steps {
		if err := netns.IP(ctx, ns, st...); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	// The host's end of the link, then the lab's end moved into the namespace.
	host := c.hostLink()
	for _, st := range [][]string{
		{"link", "add", host, "type", "veth", "peer", "name", "link0", "netns", ns},
		{"addr", "add", netip4(c.hostIP(), 30), "dev", host},
		{"link", "set", host, "up"},
	} {
		if err := netns.IP(ctx, "", st...); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	for _, st := range [][]string{{"addr", "add", netip4(c.labIP(), 30), "dev", "link0"}, {"link", "set", "link0", "up"}} {
		if err := netns.IP(ctx, ns, st...); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	return nil
}

func netip4(a interface{ String() string }, bits int) string {
	return a.String() + "/" + strconv.Itoa(bits)
}

// bootCommand is the boot server, inside the namespace: full DHCP and
// router advertisements on the bridge, TFTP, HTTP on every address (the
// VMs use the bridge's, the host the link's).
func (s *supervisor) bootCommand(ctx context.Context) *exec.Cmd {
	c := s.cfg
	first, last := c.dhcpRange()
	cmd := netns.Command(ctx, c.Name, c.Strata, "boot", "serve",
		"-data", c.path("boot"), "-http", "0.0.0.0:"+strconv.Itoa(c.HTTPPort), "-public-url", c.PublicURL(),
		"-assets", c.path("assets"), "-tftp", c.serverIP().String()+":69",
		"-dhcp", "full", "-dhcp-interface", "br0", "-dhcp-server-ip", c.serverIP().String(),
		"-dhcp-range", first.String()+"-"+last.String(), "-dhcp-netmask", c.netmask(),
		"-ra-prefix", c.raPrefix().String())
	cmd.Env = append(os.Environ(), "STRATA_BOOT_TOKEN="+s.sec.BootToken)
	return cmd
}

// bmcCommand is VM i's ipmi_sim, on 127.0.0.1 of the host.
func (s *supervisor) bmcCommand(i int) func(context.Context) *exec.Cmd {
	return func(ctx context.Context) *exec.Cmd { return s.bmc(i).Command(ctx) }
}

func (s *supervisor) bmc(i int) ipmisim.Config {
	c := s.cfg
	return ipmisim.Config{
		Dir: c.path("bmc", c.vmName(i)), Addr: "127.0.0.1:" + strconv.Itoa(c.BMCPort+i), Name: c.Name + "-" + c.vmName(i),
		ChassisControl: c.path("bmc", c.vmName(i), "chassis"),
		Users:          []ipmisim.User{{Name: BMCUser, Password: s.sec.BMCPassword}},
	}
}

// keep runs a child until ctx ends, starting it again when it dies.
// Crashing five times in a row within a second of starting gives up.
func (s *supervisor) keep(ctx context.Context, what string, proc func() *Proc, newCmd func(context.Context) *exec.Cmd) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		quick := 0
		for ctx.Err() == nil {
			logPath := s.withProc(proc, func(p *Proc) string { return p.Log })
			cmd := newCmd(ctx)
			started := time.Now()
			err := s.startChild(cmd, logPath)
			if err == nil {
				pid := cmd.Process.Pid
				s.withProc(proc, func(p *Proc) string { p.PID, p.Error = pid, ""; return "" })
				s.log.Info("started", "what", what, "pid", pid)
				err = cmd.Wait()
			}
			if ctx.Err() != nil {
				break
			}
			s.log.Warn("exited; starting it again", "what", what, "err", err)
			s.withProc(proc, func(p *Proc) string {
				p.PID, p.Restarts, p.Error = 0, p.Restarts+1, fmt.Sprint(err)
				return ""
			})
			if time.Since(started) < time.Second {
				if quick++; quick >= 5 {
					s.log.Error("keeps failing at start; giving up (see its log)", "what", what, "log", logPath)
					return
				}
			} else {
				quick = 0
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		s.withProc(proc, func(p *Proc) string { p.PID = 0; return "" })
	}()
}

// withProc changes a Proc of the state under the lock and saves it.
func (s *supervisor) withProc(proc func() *Proc, f func(*Proc) string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := f(proc())
	s.saveLocked()
	return r
}

// startChild starts cmd with its output appended to logPath. A child gets
// SIGTERM when its context ends and SIGKILL if it dies with the supervisor,
// so a crashed supervisor leaves no VM running for long.
func (s *supervisor) startChild(cmd *exec.Cmd, logPath string) error {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close() // the child has its own copy
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	return cmd.Start()
}

// waitReady waits for the boot server's API (through the host link, as
// terraform will reach it) and every BMC to answer.
func (s *supervisor) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for !s.cfg.NoBootServer {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.BootServer()+"/api/v1/profiles", nil)
		req.Header.Set("Authorization", "Bearer "+s.sec.BootToken)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: the boot server did not answer at %s within 60 s (last: %v); see %s", s.cfg.BootServer(), err, s.st.Boot.Log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for i := range s.cfg.VMs {
		if err := ipmisim.WaitReady(ctx, s.bmc(i).Addr, nil, 30*time.Second); err != nil {
			return fmt.Errorf("lab: BMC of %s: %w; see %s", s.cfg.vmName(i), err, s.st.VMs[i].BMCProc.Log)
		}
	}
	return nil
}

// teardown powers every VM off, stops the boot server and the BMCs, and
// removes the network and the state.
func (s *supervisor) teardown(stopChildren context.CancelFunc) {
	for i := range s.vms {
		s.powerOff(i)
	}
	stopChildren()
	s.wg.Wait()
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()
	if err := cleanup(context.Background(), s.cfg, st); err != nil {
		s.log.Error("cleaning up", "err", err)
	}
	s.log.Info("lab down", "name", s.cfg.Name)
}

// cleanup ends whatever st records as running, deletes the namespace (the
// host's end of the link goes with it) and removes the lab's runtime files
// and its boot inventory. It is safe to repeat.
func cleanup(ctx context.Context, c Config, st State) error {
	for _, v := range st.VMs {
		kill(v.QEMU, v.Console, 3*time.Second)
		kill(v.BMCProc.PID, filepath.Join(c.path("bmc", v.Name), "lan.conf"), 3*time.Second)
	}
	kill(st.Boot.PID, c.path("boot"), 5*time.Second)
	var errs []error
	// The namespace goes asynchronously once unmounted; the host's end of
	// the link is deleted now, so that an `up` right after finds its name free.
	if _, err := net.InterfaceByName(c.hostLink()); err == nil {
		errs = append(errs, netns.IP(ctx, "", "link", "delete", c.hostLink()))
	}
	errs = append(errs, netns.Delete(ctx, c.Name))
	for _, p := range []string{c.path("lab.sock"), c.path("lab.json")} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, os.RemoveAll(c.path("boot", "inventory.db")))
	return errors.Join(errs...)
}

// Power.

func (s *supervisor) running(i int) bool {
	v := s.vms[i]
	if v.cmd == nil {
		return false
	}
	select {
	case <-v.exited:
		return false
	default:
		return true
	}
}

func (s *supervisor) powerOn(i int) error {
	v := s.vms[i]
	v.mu.Lock()
	defer v.mu.Unlock()
	if s.running(i) {
		return nil
	}
	c := s.cfg
	s.mu.Lock()
	vm := s.st.VMs[i]
	s.mu.Unlock()
	order := "cn" // disk first: with none, SeaBIOS goes on to the network
	if vm.BootDevice == "pxe" {
		order = "n"
	}
	if err := os.MkdirAll(filepath.Dir(vm.Console), 0o755); err != nil {
		return err
	}
	cmd := netns.Command(context.Background(), c.Name, "qemu-system-x86_64",
		"-name", c.Name+"-"+vm.Name, "-accel", "tcg", "-m", strconv.Itoa(c.MemoryMB), "-smp", "1",
		"-display", "none", "-monitor", "none", "-no-reboot", "-serial", "file:"+vm.Console,
		"-netdev", "tap,id=n0,ifname="+vm.Tap+",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac="+vm.MAC, "-boot", "order="+order)
	if err := s.startChild(cmd, filepath.Join(filepath.Dir(vm.Console), "qemu.log")); err != nil {
		return fmt.Errorf("starting QEMU: %w", err)
	}
	v.cmd, v.exited = cmd, make(chan struct{})
	pid := cmd.Process.Pid
	s.mu.Lock()
	s.st.VMs[i].QEMU = pid
	s.st.VMs[i].PowerOns++
	s.saveLocked()
	s.mu.Unlock()
	s.log.Info("power on", "vm", vm.Name, "pid", pid, "boot", order)
	s.wg.Add(1)
	go func(exited chan struct{}) {
		defer s.wg.Done()
		err := cmd.Wait()
		close(exited)
		s.mu.Lock()
		if s.st.VMs[i].QEMU == pid {
			s.st.VMs[i].QEMU = 0
		}
		s.saveLocked()
		s.mu.Unlock()
		s.log.Info("power off", "vm", vm.Name, "pid", pid, "exit", fmt.Sprint(err))
	}(v.exited)
	return nil
}

func (s *supervisor) powerOff(i int) {
	v := s.vms[i]
	v.mu.Lock()
	defer v.mu.Unlock()
	if !s.running(i) {
		return
	}
	_ = v.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-v.exited:
	case <-time.After(5 * time.Second):
		_ = v.cmd.Process.Kill()
		<-v.exited
	}
}

// chassis answers ipmi_sim's chassis program for VM i (see package
// ipmisim for the calls).
func (s *supervisor) chassis(i int, args []string) ([]string, error) {
	for len(args) > 0 && args[0] != "get" && args[0] != "set" {
		args = args[1:] // the MC address ipmi_sim may put first
	}
	if len(args) == 0 {
		return nil, errors.New("want get NAME... or set NAME VALUE...")
	}
	op, args := args[0], args[1:]
	if op == "get" {
		var out []string
		for _, n := range args {
			switch n {
			case "power":
				p := "0"
				if s.running(i) {
					p = "1"
				}
				out = append(out, "power:"+p)
			case "boot":
				s.mu.Lock()
				out = append(out, "boot:"+s.st.VMs[i].BootDevice)
				s.mu.Unlock()
			default:
				out = append(out, n+":0")
			}
		}
		return out, nil
	}
	for ; len(args) >= 2; args = args[2:] {
		n, val := args[0], args[1]
		switch n {
		case "power":
			if val == "1" {
				if err := s.powerOn(i); err != nil {
					return nil, err
				}
			} else {
				s.powerOff(i)
			}
		case "reset":
			s.powerOff(i)
			if err := s.powerOn(i); err != nil {
				return nil, err
			}
		case "shutdown":
			s.powerOff(i) // the lab's init ignores ACPI; off is what a shutdown ends in
		case "boot":
			s.mu.Lock()
			s.st.VMs[i].BootDevice = val
			s.saveLocked()
			s.mu.Unlock()
		}
	}
	return nil, nil
}

// Control socket: one JSON request per connection.

type controlRequest struct {
	VM   int      `json:"vm"`
	Args []string `json:"args"`
}

type controlResponse struct {
	Lines []string `json:"lines,omitempty"`
	Error string   `json:"error,omitempty"`
}

func (s *supervisor) serveControl(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return // closed at teardown
		}
		go func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			var req controlRequest
			var resp controlResponse
			if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&req); err != nil {
				resp.Error = "bad request: " + err.Error()
			} else if req.VM < 0 || req.VM >= len(s.vms) {
				resp.Error = fmt.Sprintf("no VM %d", req.VM)
			} else {
				s.log.Info("chassis", "vm", s.cfg.vmName(req.VM), "args", strings.Join(req.Args, " "))
				resp.Lines, err = s.chassis(req.VM, req.Args)
				if err != nil {
					resp.Error = err.Error()
				}
			}
			_ = json.NewEncoder(conn).Encode(resp)
		}()
	}
}

// Chassis is `strata lab chassis`: the program a lab BMC runs for VM vm.
// It forwards ipmi_sim's arguments to the supervisor and returns the
// lines to print.
func Chassis(ctx context.Context, dir string, vm int, args []string) ([]string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", Config{Dir: dir}.path("lab.sock"))
	if err != nil {
		return nil, fmt.Errorf("lab: the lab's supervisor is not running: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := json.NewEncoder(conn).Encode(controlRequest{VM: vm, Args: args}); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var resp controlResponse
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if resp.Error != "" {
		return resp.Lines, errors.New("lab: " + resp.Error)
	}
	return resp.Lines, nil
}

package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/web"
)

// The strata_machine tests run against a real boot server (web.Handler on
// a bbolt inventory, served on loopback) and a real BMC: OpenIPMI's
// ipmi_sim, set up as provisioners/baremetal/power's tests set it up (test
// helpers cannot be shared across packages).

const labToken = "lab-boot-token-0123456789abcdef"

// bootLab is a boot server on 127.0.0.1.
type bootLab struct {
	store *inventory.Store
	url   string
	mu    sync.Mutex
	api   bytes.Buffer // every API request body, to look for the password
}

func newBootLab(t *testing.T) *bootLab {
	t.Helper()
	dir := t.TempDir()
	store, err := inventory.Open(filepath.Join(dir, "inventory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	assets := filepath.Join(dir, "assets")
	if err := os.Mkdir(assets, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"vmlinuz": "KERNEL", "initrd.img": "INITRD"} {
		if err := os.WriteFile(filepath.Join(assets, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewUnstartedServer(nil)
	l := &bootLab{store: store, url: "http://" + srv.Listener.Addr().String()}
	h, err := web.New(web.Config{Store: store, APIToken: labToken, PublicURL: l.url, AssetsDir: assets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			l.mu.Lock()
			l.api.Write(b)
			l.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		h.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return l
}

// provider is the provider block that points at the lab.
func (l *bootLab) provider() string {
	return fmt.Sprintf(`
provider "strata" {
  baremetal {
    boot_server = %q
    token       = %q
  }
}
`, l.url, labToken)
}

func (l *bootLab) apiBodies() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.api.String()
}

var (
	chainRE  = regexp.MustCompile(`(?m)^chain (\S+)$`)
	kernelRE = regexp.MustCompile(`(?m)^kernel (\S+) .*ds=nocloud-net;s=(\S+)`)
)

// boot plays what firmware, iPXE and the booted OS of the machine with
// this MAC do, up to the phone-home.
func (l *bootLab) boot(ctx context.Context, mac string) error {
	get := func(method, u string, body io.Reader) (string, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, b)
		}
		return string(b), err
	}
	script, err := get(http.MethodGet, l.url+"/boot.ipxe?mac="+mac, nil)
	if err != nil {
		return err
	}
	m := chainRE.FindStringSubmatch(script)
	if m == nil {
		return fmt.Errorf("no chain in %q", script)
	}
	if script, err = get(http.MethodGet, m[1], nil); err != nil {
		return err
	}
	k := kernelRE.FindStringSubmatch(script)
	if k == nil {
		return fmt.Errorf("no kernel line in %q", script)
	}
	if _, err := get(http.MethodGet, k[1], nil); err != nil {
		return err
	}
	ud, err := get(http.MethodGet, k[2]+"user-data", nil)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(ud))
	_, err = get(http.MethodPost, k[2]+"phone-home", strings.NewReader(hex.EncodeToString(sum[:])+"  user-data\n"))
	return err
}

// simBMC is a running ipmi_sim on a UDP port of 127.0.0.1. Its chassis
// control program keeps the power and boot device in files.
type simBMC struct {
	dir, url, pass string
	port           int
}

// chassisControl is what ipmi_sim runs for chassis state ("get power
// boot" prints name:value lines, "set power 1 boot pxe" sets them).
const chassisControl = `#!/bin/sh
D='%s'
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
    boot)  echo "$v" > "$D/boot";  echo "boot $v" >> "$D/history";;
  esac
done
exit 0
`

const lanConf = `name "strata-provider-test"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 %d
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "%s"
  user 2 true "admin" "%s" admin 10 none md2 md5 straight
`

const bmcEmu = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
`

// startIPMISim starts ipmi_sim and stops it when the test ends. The test
// is skipped when the simulator is not installed.
func startIPMISim(t *testing.T) *simBMC {
	t.Helper()
	bin, err := exec.LookPath("ipmi_sim")
	if err != nil {
		t.Skip("ipmi_sim not found on PATH: install the Debian package openipmi (make deps) to run the strata_machine BMC tests")
	}
	var last error
	for range 3 { // a port taken between choosing and binding it
		b, err := trySim(t, bin)
		if err == nil {
			return b
		}
		last = err
	}
	t.Fatalf("ipmi_sim did not come up: %v", last)
	return nil
}

func trySim(t *testing.T, bin string) (*simBMC, error) {
	dir := t.TempDir()
	pw := make([]byte, 6)
	rand.Read(pw)
	b := &simBMC{dir: dir, port: freeUDPPort(t), pass: "Pw-" + hex.EncodeToString(pw)}
	b.url = "ipmi://127.0.0.1:" + strconv.Itoa(b.port)
	prog := filepath.Join(dir, "chassis-control")
	for name, f := range map[string]struct {
		body string
		mode os.FileMode
	}{
		"chassis-control": {fmt.Sprintf(chassisControl, dir), 0o755},
		"lan.conf":        {fmt.Sprintf(lanConf, b.port, prog, b.pass), 0o600},
		"bmc.emu":         {bmcEmu, 0o644},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "ipmi_sim.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "lan.conf"), "-f", filepath.Join(dir, "bmc.emu"),
		"-s", filepath.Join(dir, "state"), "-n")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // cleanup reaches chassis-control too
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
			for _, f := range []string{"ipmi_sim.log", "history"} {
				data, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("ipmi_sim %s:\n%s", f, data)
			}
		}
	})
	if err := waitRMCPPong(b.port, exited, 5*time.Second); err != nil {
		stop()
		data, _ := os.ReadFile(filepath.Join(dir, "ipmi_sim.log"))
		return nil, fmt.Errorf("%v; ipmi_sim log:\n%s", err, data)
	}
	return b, nil
}

// waitRMCPPong sends RMCP/ASF presence pings until ipmi_sim answers.
func waitRMCPPong(port int, exited <-chan struct{}, within time.Duration) error {
	conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer conn.Close()
	ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00}
	buf := make([]byte, 512)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			return errors.New("ipmi_sim exited")
		default:
		}
		if _, err := conn.Write(ping); err == nil {
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if n, err := conn.Read(buf); err == nil && n >= 9 && buf[3] == 0x06 && buf[8] == 0x40 {
				return nil
			}
		}
	}
	return fmt.Errorf("no RMCP pong on 127.0.0.1:%d within %v", port, within)
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

// read returns a chassis state file ("" when missing).
func (b *simBMC) read(name string) string {
	data, _ := os.ReadFile(filepath.Join(b.dir, name))
	return strings.TrimSpace(string(data))
}

// history is what the chassis was told, one line per change.
func (b *simBMC) history() []string {
	if h := b.read("history"); h != "" {
		return strings.Split(h, "\n")
	}
	return nil
}

// ipmitool asks the BMC over the wire, as an operator would; "" when
// ipmitool is not installed.
func (b *simBMC) ipmitool(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("ipmitool")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	full := append([]string{"-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(b.port),
		"-U", "admin", "-P", b.pass, "-C", "3", "-N", "1", "-R", "2"}, args...)
	out, err := exec.CommandContext(ctx, bin, full...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipmitool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// bootOnPowerOn plays the machine's PXE boot against lab each time the
// BMC is told to power on, until the test ends.
func (b *simBMC) bootOnPowerOn(t *testing.T, lab *bootLab, mac string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	seen := strings.Count(b.read("history"), "power 1")
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if n := strings.Count(b.read("history"), "power 1"); n > seen {
				seen = n
				if err := lab.boot(ctx, mac); err != nil && ctx.Err() == nil {
					t.Errorf("the machine's PXE boot failed: %v", err)
				}
			}
		}
	}()
}

package lab

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Dir: "/var/lib/lab", Strata: "/usr/bin/strata"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ what, got, want string }{
		{"server", c.serverIP().String(), "192.168.77.1"},
		{"host end", c.hostIP().String(), "169.254.77.1"},
		{"lab end", c.labIP().String(), "169.254.77.2"},
		{"boot server", c.BootServer(), "http://169.254.77.2:8080"},
		{"public", c.PublicURL(), "http://192.168.77.1:8080"},
		{"netmask", c.netmask(), "255.255.255.0"},
		{"ra prefix", c.raPrefix().String(), "fd57:4ca8:4d00::/64"},
		{"host link", c.hostLink(), "strata-lab-h"},
		{"bmc 2", c.BMC(2), "ipmi://127.0.0.1:9003"},
		{"mac 1", MAC(1), "52:54:00:57:00:01"},
	}
	first, last := c.dhcpRange()
	checks = append(checks, struct{ what, got, want string }{"range", first.String() + "-" + last.String(), "192.168.77.100-192.168.77.199"})
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %s, want %s", ch.what, ch.got, ch.want)
		}
	}
	if c.VMs != DefaultVMs || c.MemoryMB != DefaultMemoryMB || c.Busybox != "/bin/busybox" {
		t.Errorf("defaults: %+v", c)
	}
	wide, err := Config{Dir: "/l", Strata: "/s", Subnet: netip.MustParsePrefix("10.20.0.0/16")}.withDefaults()
	if err != nil || wide.netmask() != "255.255.0.0" {
		t.Errorf("a /16: %v, netmask %s", err, wide.netmask())
	}
}

func TestConfigRefused(t *testing.T) {
	ok := Config{Dir: "/var/lib/lab", Strata: "/usr/bin/strata"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"relative dir", func(c *Config) { c.Dir = "lab" }, "absolute path"},
		{"dir with a space", func(c *Config) { c.Dir = "/my lab" }, "without spaces"},
		{"long dir", func(c *Config) { c.Dir = "/" + strings.Repeat("d", 100) }, "too long for a unix socket"},
		{"name", func(c *Config) { c.Name = "Lab_1" }, "name"},
		{"long name", func(c *Config) { c.Name = "abcdefghijkl" }, "name"},
		{"no VMs", func(c *Config) { c.VMs = -1 }, "VMs"},
		{"too many VMs", func(c *Config) { c.VMs = 33 }, "VMs"},
		{"tiny VMs", func(c *Config) { c.MemoryMB = 64 }, "MiB"},
		{"v6 subnet", func(c *Config) { c.Subnet = netip.MustParsePrefix("fd00::/64") }, "IPv4 /24"},
		{"small subnet", func(c *Config) { c.Subnet = netip.MustParsePrefix("10.0.0.0/28") }, "IPv4 /24"},
		{"link not /30", func(c *Config) { c.Link = netip.MustParsePrefix("169.254.1.0/29") }, "/30"},
		{"overlap", func(c *Config) { c.Link = netip.MustParsePrefix("192.168.77.4/30") }, "overlap"},
		{"no strata", func(c *Config) { c.Strata = "" }, "strata binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if _, err := c.withDefaults(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestInitramfs builds the initramfs from this machine's busybox and fake
// modules, then lists and unpacks it with a real cpio (busybox's), as the
// kernel would unpack it.
func TestInitramfs(t *testing.T) {
	bb := "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Fatal("needs Debian's busybox-static (make lab-deps)")
	}
	mods := t.TempDir()
	for _, m := range Modules() {
		if err := os.WriteFile(filepath.Join(mods, m+".ko"), []byte("module "+m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var a, b bytes.Buffer
	if err := BuildInitramfs(&a, bb, mods); err != nil {
		t.Fatal(err)
	}
	if err := BuildInitramfs(&b, bb, mods); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("two builds differ (%v): the archive must be deterministic", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bb, "cpio", "-i", "-d", "-m")
	cmd.Dir, cmd.Stdin = dir, zr
	if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "dev/console") {
		// Only the device node may fail to unpack (mknod needs root).
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	for _, f := range []string{"init", "etc/udhcpc.script", "bin/busybox", "lib/modules/virtio_net.ko"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s missing from the archive: %v", f, err)
		}
		if (f == "init" || f == "bin/busybox") && fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", f, fi.Mode())
		}
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin", "wget")); err != nil || l != "busybox" {
		t.Errorf("bin/wget -> %q, %v; want busybox", l, err)
	}
	init, _ := os.ReadFile(filepath.Join(dir, "init"))
	if !strings.Contains(string(init), "insmod /lib/modules/$m.ko") || !strings.Contains(string(init), "virtio_ring virtio ") {
		t.Errorf("init does not load the modules in order:\n%s", init)
	}
	if out, err := exec.Command(bb, "sh", "-n", filepath.Join(dir, "init")).CombinedOutput(); err != nil {
		t.Errorf("init is not valid sh: %v\n%s", err, out)
	}

	// A dynamically linked busybox and a missing module are refused.
	if err := BuildInitramfs(&bytes.Buffer{}, "/bin/sh", mods); err == nil || !strings.Contains(err.Error(), "statically linked") {
		t.Errorf("dynamic busybox: %v", err)
	}
	os.Remove(filepath.Join(mods, "virtio_net.ko"))
	if err := BuildInitramfs(&bytes.Buffer{}, bb, mods); err == nil || !strings.Contains(err.Error(), "virtio_net") {
		t.Errorf("missing module: %v", err)
	}
}

func TestAlive(t *testing.T) {
	self := os.Getpid()
	if !alive(self, "") || !alive(self, filepath.Base(os.Args[0])) {
		t.Error("this process is not alive")
	}
	if alive(self, "no-such-marker-in-the-command-line") {
		t.Error("a pid whose command line lacks the marker counts as ours")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if alive(cmd.Process.Pid, "") || alive(0, "") || alive(-1, "") {
		t.Error("a finished process counts as alive")
	}
}

func TestCachedKernel(t *testing.T) {
	dir := t.TempDir()
	if _, ok := cachedKernel(dir); ok {
		t.Fatal("an empty folder is a complete cache")
	}
	os.MkdirAll(filepath.Join(dir, "modules"), 0o755)
	for _, m := range Modules() {
		os.WriteFile(filepath.Join(dir, "modules", m+".ko"), nil, 0o644)
	}
	if _, ok := cachedKernel(dir); ok {
		t.Fatal("modules without an image are a complete cache")
	}
	os.WriteFile(filepath.Join(dir, "vmlinuz"), nil, 0o644)
	if k, ok := cachedKernel(dir); !ok || k.Image != filepath.Join(dir, "vmlinuz") {
		t.Fatalf("complete cache not found: %+v %t", k, ok)
	}
}

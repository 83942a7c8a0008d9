package lab

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Modules returns the kernel modules the lab's initramfs loads, in load
// order: Debian's cloud kernel builds virtio-net as modules.
func Modules() []string {
	return []string{
		"virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
		"virtio_pci", "failover", "net_failover", "virtio_net",
	}
}

// busyboxApplets are linked in /bin; init needs no others.
const busyboxApplets = "sh mount insmod ip udhcpc wget cat cut sed grep sleep sha256sum hostname echo wc ls dmesg"

// initScript is PID 1 of a lab machine. It does what a real machine's OS
// does, in as few steps as show the boot chain worked: get an address, read
// its own user-data from the NoCloud seed the boot server put on the kernel
// command line, and phone home with the user-data's SHA-256, so the boot
// server can tell the machine booted its own bootstrap. Every fetch is
// retried: the boot server may be restarting.
const initScript = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "strata-lab: $*"; }
halt() { say "$*"; say "stopped; power the machine off through its BMC"; while :; do sleep 3600; done; }
retry() { i=0; until "$@"; do i=$((i+1)); [ $i -ge 60 ] && return 1; sleep 1; done; }
for m in ` + "MODULES" + `; do insmod /lib/modules/$m.ko || say "insmod $m failed"; done
ip link set lo up
i=0; until [ -e /sys/class/net/eth0 ]; do i=$((i+1)); [ $i -ge 50 ] && halt "no eth0"; sleep 0.2; done
say "mac $(cat /sys/class/net/eth0/address)"
ip link set eth0 up
retry udhcpc -i eth0 -n -q -t 5 -T 1 -s /etc/udhcpc.script || halt "no DHCP lease"
seed=$(sed -n 's/.*ds=nocloud-net;s=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$seed" ] || halt "no ds=nocloud-net;s=URL on the kernel command line"
name=$(echo "$seed" | sed -n 's|.*/machines/\([^/]*\)/.*|\1|p')
[ -n "$name" ] && hostname "$name"
retry wget -q -O /tmp/user-data "${seed}user-data" || halt "cannot fetch user-data"
sum=$(sha256sum /tmp/user-data | cut -d' ' -f1)
say "user-data $(wc -c < /tmp/user-data 2>/dev/null) bytes, sha256 $sum"
retry wget -q -O /tmp/reply --post-data "checksum=$sum" "${seed}phone-home" || halt "cannot phone home"
say "phoned home as ${name:-?}: $(cat /tmp/reply)"
while :; do sleep 3600; done
`

// udhcpcScript applies a lease, as Debian's udhcpc default script would.
const udhcpcScript = `#!/bin/sh
case "$1" in
deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
  ip addr flush dev "$interface"
  ip addr add "$ip/${mask:-24}" dev "$interface"
  [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
  echo "strata-lab: $interface $ip/${mask:-24} from $serverid" ;;
esac
exit 0
`

// BuildInitramfs writes a gzip-compressed initramfs (cpio "newc") with
// busybox, the kernel modules from modulesDir (NAME.ko each) and the init
// above. The archive is deterministic: the same inputs give the same bytes.
func BuildInitramfs(w io.Writer, busybox, modulesDir string) error {
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("lab: busybox: %w (install Debian's busybox-static)", err)
	}
	if !isStatic(bb) {
		return fmt.Errorf("lab: %s is not a statically linked program; the initramfs has no libc (install Debian's busybox-static)", busybox)
	}
	var a cpioWriter
	for _, d := range []string{"bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp"} {
		a.dir(d)
	}
	a.node("dev/console", 0o600, 5, 1) // the kernel opens it before init runs
	a.file("bin/busybox", 0o755, bb)
	for _, ap := range strings.Fields(busyboxApplets) {
		a.symlink("bin/"+ap, "busybox")
	}
	for _, m := range Modules() {
		ko, err := os.ReadFile(filepath.Join(modulesDir, m+".ko"))
		if err != nil {
			return fmt.Errorf("lab: kernel module %s: %w", m, err)
		}
		a.file("lib/modules/"+m+".ko", 0o644, ko)
	}
	a.file("init", 0o755, []byte(strings.Replace(initScript, "MODULES", strings.Join(Modules(), " "), 1)))
	a.file("etc/udhcpc.script", 0o755, []byte(udhcpcScript))
	a.trailer()
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(a.buf.Bytes()); err != nil {
		return err
	}
	return zw.Close()
}

// isStatic reports whether b is an ELF program without a PT_INTERP
// header, i.e. one that needs no dynamic loader.
func isStatic(b []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// cpioWriter builds a "newc" archive, the format the kernel unpacks as an
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
type cpioWriter struct {
	buf bytes.Buffer
	ino int
}

const (
	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFLNK = 0o120000
	sIFCHR = 0o020000
)

func (a *cpioWriter) entry(name string, mode, rdevMajor, rdevMinor int, data []byte) {
	a.ino++
	nlink := 1
	if mode&sIFDIR != 0 {
		nlink = 2
	}
	fmt.Fprintf(&a.buf, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		a.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	a.buf.WriteString(name)
	a.buf.WriteByte(0)
	a.pad()
	a.buf.Write(data)
	a.pad()
}

func (a *cpioWriter) pad() {
	for a.buf.Len()%4 != 0 {
		a.buf.WriteByte(0)
	}
}

func (a *cpioWriter) dir(name string)                      { a.entry(name, sIFDIR|0o755, 0, 0, nil) }
func (a *cpioWriter) file(name string, perm int, b []byte) { a.entry(name, sIFREG|perm, 0, 0, b) }
func (a *cpioWriter) symlink(name, target string)          { a.entry(name, sIFLNK|0o777, 0, 0, []byte(target)) }
func (a *cpioWriter) node(name string, perm, major, minor int) {
	a.entry(name, sIFCHR|perm, major, minor, nil)
}
func (a *cpioWriter) trailer() { a.entry("TRAILER!!!", 0, 0, 0, nil) }

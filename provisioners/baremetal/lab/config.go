package lab

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stratastack/strata/internal/atomicfile"
)

// Defaults for Config.
const (
	DefaultName     = "strata-lab"
	DefaultVMs      = 3
	DefaultMemoryMB = 256
	DefaultBMCPort  = 9001
	DefaultHTTPPort = 8080
	// BMCUser is the admin user of every lab BMC.
	BMCUser = "admin"
)

// Config is one lab. Zero fields take the defaults above.
type Config struct {
	// Name names the network namespace and prefixes what the lab makes.
	Name string `json:"name"`
	// Dir keeps the lab's state, logs, assets and kernel cache. Absolute.
	Dir      string `json:"dir"`
	VMs      int    `json:"vms"`
	MemoryMB int    `json:"memory_mb"`
	// Subnet is the boot network (a /24 or larger, default
	// 192.168.77.0/24); the boot server is its first address, DHCP hands
	// out .100-.199.
	Subnet netip.Prefix `json:"subnet"`
	// Link is a /30 between the host (first address) and the lab
	// (second), over which the host reaches the boot server's API
	// (default 169.254.77.0/30).
	Link     netip.Prefix `json:"link"`
	BMCPort  int          `json:"bmc_port"` // VM i's BMC is on 127.0.0.1:BMCPort+i
	HTTPPort int          `json:"http_port"`
	// Strata is the strata binary: it is the boot server and the BMCs'
	// chassis program.
	Strata string `json:"strata"`
	// Busybox is a statically linked busybox for the initramfs;
	// /bin/busybox (Debian's busybox-static) when empty.
	Busybox string `json:"busybox"`
	// Kernel overrides the kernel fetched into Dir/kernel.
	Kernel *Kernel `json:"kernel,omitempty"`
	// NoBootServer leaves the boot server out, for bringing another one
	// into the lab's network (strata lab exec), e.g. to compare with it.
	NoBootServer bool `json:"no_boot_server,omitempty"`
}

// withDefaults fills in the zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.VMs == 0 {
		c.VMs = DefaultVMs
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if !c.Subnet.IsValid() {
		c.Subnet = netip.MustParsePrefix("192.168.77.0/24")
	}
	if !c.Link.IsValid() {
		// Link-local: the host's way into the lab is never routed further.
		c.Link = netip.MustParsePrefix("169.254.77.0/30")
	}
	if c.BMCPort == 0 {
		c.BMCPort = DefaultBMCPort
	}
	if c.HTTPPort == 0 {
		c.HTTPPort = DefaultHTTPPort
	}
	if c.Busybox == "" {
		c.Busybox = "/bin/busybox"
	}
	switch {
	case !validName(c.Name):
		return c, fmt.Errorf("lab: name %q: use 1-11 of a-z, 0-9 and -, starting with a letter (it names interfaces, which are short)", c.Name)
	case !filepath.IsAbs(c.Dir) || strings.ContainsAny(c.Dir, "\"\n\t "):
		return c, fmt.Errorf("lab: folder %q must be an absolute path without spaces or quotes (BMC configurations name programs in it)", c.Dir)
	case len(filepath.Join(c.Dir, "lab.sock")) > 100:
		return c, fmt.Errorf("lab: folder %q is too long for a unix socket path; pick a shorter one", c.Dir)
	case c.VMs < 1 || c.VMs > 32:
		return c, fmt.Errorf("lab: %d VMs: use 1 to 32", c.VMs)
	case c.MemoryMB < 128:
		return c, fmt.Errorf("lab: %d MiB per VM: the kernel needs at least 128", c.MemoryMB)
	case !c.Subnet.Addr().Is4() || c.Subnet.Bits() > 24:
		return c, fmt.Errorf("lab: subnet %s: use an IPv4 /24 or larger", c.Subnet)
	case !c.Link.Addr().Is4() || c.Link.Bits() != 30:
		return c, fmt.Errorf("lab: link %s: use an IPv4 /30", c.Link)
	case c.Subnet.Overlaps(c.Link):
		return c, fmt.Errorf("lab: subnet %s and link %s overlap", c.Subnet, c.Link)
	case c.BMCPort < 1024 || c.BMCPort+c.VMs > 65535:
		return c, fmt.Errorf("lab: BMC ports from %d do not fit", c.BMCPort)
	case c.Strata == "":
		return c, errors.New("lab: no strata binary given")
	}
	c.Subnet, c.Link = c.Subnet.Masked(), c.Link.Masked()
	return c, nil
}

func validName(s string) bool {
	if len(s) < 1 || len(s) > 11 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Addresses and names derived from a Config.

func (c Config) serverIP() netip.Addr { return c.Subnet.Addr().Next() }
func (c Config) hostIP() netip.Addr   { return c.Link.Addr().Next() }
func (c Config) labIP() netip.Addr    { return c.hostIP().Next() }

// dhcpRange is the second half of the first /24 of the subnet, minus its
// broadcast address: clear of the boot server and of fixed addresses users
// put in the low half.
func (c Config) dhcpRange() (netip.Addr, netip.Addr) {
	b := c.Subnet.Addr().As4()
	b[3] = 100
	first := netip.AddrFrom4(b)
	b[3] = 199
	return first, netip.AddrFrom4(b)
}

func (c Config) netmask() string {
	m := uint32(0xffffffff) << (32 - c.Subnet.Bits())
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// raPrefix is the IPv6 /64 advertised on the boot network (ULA).
func (c Config) raPrefix() netip.Prefix {
	b := c.Subnet.Addr().As4()
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0x57, 0x4c, b[1], b[2], 0, 0, 0}), 64)
}

// hostLink is the name of the host's end of the link (at most 15 bytes).
func (c Config) hostLink() string { return c.Name + "-h" }

// BootServer is the boot server's URL from this host.
func (c Config) BootServer() string {
	return "http://" + c.labIP().String() + ":" + strconv.Itoa(c.HTTPPort)
}

// PublicURL is the boot server's URL from the VMs.
func (c Config) PublicURL() string {
	return "http://" + c.serverIP().String() + ":" + strconv.Itoa(c.HTTPPort)
}

// MAC is VM i's MAC address.
func MAC(i int) string { return fmt.Sprintf("52:54:00:57:00:%02x", i) }

// BMC is VM i's BMC URL.
func (c Config) BMC(i int) string { return fmt.Sprintf("ipmi://127.0.0.1:%d", c.BMCPort+i) }

func (c Config) path(elem ...string) string {
	return filepath.Join(append([]string{c.Dir}, elem...)...)
}

func (c Config) vmName(i int) string { return fmt.Sprintf("vm%d", i) }

// Secrets are the lab's boot server token and BMC password, written to
// Dir/lab.env (mode 0600) for the user to source.
type Secrets struct {
	BootToken   string
	BMCPassword string
}

func newSecrets() Secrets {
	r := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	return Secrets{BootToken: r(24), BMCPassword: r(8)} // IPMI passwords are at most 20 bytes
}

// env is lab.env: the variables strata, terraform and the example read.
func (c Config) env(s Secrets) string {
	return fmt.Sprintf("STRATA_BOOT_TOKEN=%s\nSTRATA_BMC_PASSWORD=%s\nSTRATA_LAB_BOOT_SERVER=%s\nSTRATA_LAB_PUBLIC_URL=%s\nSTRATA_LAB_DIR=%s\n",
		s.BootToken, s.BMCPassword, c.BootServer(), c.PublicURL(), c.Dir)
}

// readEnv reads the secrets back from lab.env.
func (c Config) readSecrets() (Secrets, error) {
	b, err := os.ReadFile(c.path("lab.env"))
	if err != nil {
		return Secrets{}, fmt.Errorf("lab: %w", err)
	}
	var s Secrets
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "STRATA_BOOT_TOKEN":
			s.BootToken = v
		case "STRATA_BMC_PASSWORD":
			s.BMCPassword = v
		}
	}
	if s.BootToken == "" || s.BMCPassword == "" {
		return s, fmt.Errorf("lab: %s lacks the token or the BMC password", c.path("lab.env"))
	}
	return s, nil
}

func (c Config) save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(c.path("lab-config.json"), append(b, '\n'), 0o644)
}

// LoadConfig reads the configuration `strata lab up` left in dir.
func LoadConfig(dir string) (Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, "lab-config.json"))
	if err != nil {
		return Config{}, fmt.Errorf("lab: no lab in %s (%w)", dir, err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("lab: %s: %w", filepath.Join(dir, "lab-config.json"), err)
	}
	return c.withDefaults()
}

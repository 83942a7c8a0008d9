package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/stratastack/strata/internal/cli"
	"github.com/stratastack/strata/provisioners/baremetal/boot"
	"github.com/stratastack/strata/provisioners/baremetal/dhcp"
	"github.com/stratastack/strata/provisioners/baremetal/power"
	"github.com/stratastack/strata/provisioners/baremetal/tftp"
	"github.com/stratastack/strata/provisioners/baremetal/web"
)

// bootCmd parses `strata boot serve` flags; the API token comes from
// STRATA_BOOT_TOKEN so it never shows in a process list.
func bootCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(stderr, "usage: strata boot serve [flags]   (strata boot serve -h lists them)")
		return cli.Usage
	}
	fs := flag.NewFlagSet("strata boot serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "/var/lib/strata/boot", "folder of the durable inventory")
	httpAddr := fs.String("http", "0.0.0.0:8080", "HTTP listen address")
	public := fs.String("public-url", "", "base URL machines reach the HTTP side at (default from -http)")
	assets := fs.String("assets", "", "folder of kernels and initrds served under /assets/")
	cert := fs.String("tls-cert", "", "TLS certificate (PEM) for the HTTP side")
	key := fs.String("tls-key", "", "TLS key (PEM)")
	tftpAddr := fs.String("tftp", "0.0.0.0:69", "TFTP listen address (\"\" disables TFTP)")
	tftpRoot := fs.String("tftp-root", tftp.DefaultRoot, "folder TFTP serves (the iPXE binaries)")
	discovery := fs.String("discovery-profile", "", "profile unknown MACs boot (it must have discovery set)")
	mode := fs.String("dhcp", "off", "DHCP: off, full (hand out leases: labs, isolated racks) or proxy (beside an existing DHCP server)")
	iface := fs.String("dhcp-interface", "", "the one interface DHCP answers on")
	serverIP := fs.String("dhcp-server-ip", "", "this server's address on that interface")
	rng := fs.String("dhcp-range", "", "full mode: FIRST-LAST addresses to hand out")
	mask := fs.String("dhcp-netmask", "255.255.255.0", "full mode: subnet mask")
	router := fs.String("dhcp-router", "", "full mode: default gateway")
	dns := fs.String("dhcp-dns", "", "full mode: comma-separated DNS servers")
	lease := fs.Duration("dhcp-lease", time.Hour, "full mode: lease time")
	stuckAfter := fs.Duration("stuck-after", web.DefaultStuckAfter, "the status page (GET /) marks a machine stuck after this long without a boot step")
	showPower := fs.Bool("show-power", false, "the status page reads each machine's power state from its BMC with STRATA_BMC_PASSWORD (reads only: the server never powers a machine)")
	raPrefix := fs.String("ra-prefix", "", "send IPv6 router advertisements for this /64 (e.g. fd77::/64) on -dhcp-interface, for networks without an IPv6 router: iPXE otherwise waits ~13 s")
	if err := fs.Parse(args[1:]); err != nil {
		return cli.Usage
	}
	cfg := boot.Config{
		DataDir: *data, HTTPAddr: *httpAddr, PublicURL: *public, APIToken: os.Getenv("STRATA_BOOT_TOKEN"),
		AssetsDir: *assets, TLSCert: *cert, TLSKey: *key, TFTPAddr: *tftpAddr, TFTPRoot: *tftpRoot,
		DiscoveryProfile: *discovery, StuckAfter: *stuckAfter,
	}
	if *showPower {
		pw := os.Getenv("STRATA_BMC_PASSWORD")
		if pw == "" {
			fmt.Fprintln(stderr, "strata boot serve: -show-power needs STRATA_BMC_PASSWORD, the BMCs' password")
			return cli.Usage
		}
		cfg.Power = power.Reader{Password: pw}
	}
	if *mode == "off" && *raPrefix != "" {
		fmt.Fprintln(stderr, "strata boot serve: -ra-prefix needs -dhcp full or proxy: it advertises on -dhcp-interface")
		return cli.Usage
	}
	if *mode != "off" {
		d, err := dhcpFlags(*mode, *iface, *serverIP, *rng, *mask, *router, *dns, *lease)
		if err == nil && *raPrefix != "" {
			if d.RAPrefix, err = netip.ParsePrefix(*raPrefix); err != nil {
				err = fmt.Errorf("-ra-prefix: %w", err)
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "strata boot serve: %v\n", err)
			return cli.Usage
		}
		cfg.DHCP = d
	}
	return cli.BootServe(ctx, cfg, cli.IO{Out: stdout, Err: stderr})
}

func dhcpFlags(mode, iface, serverIP, rng, mask, router, dns string, lease time.Duration) (*boot.DHCP, error) {
	d := &boot.DHCP{Interface: iface, LeaseTime: lease}
	switch mode {
	case "full":
		d.Mode = dhcp.Full
	case "proxy":
		d.Mode = dhcp.Proxy
	default:
		return nil, fmt.Errorf("-dhcp %q: use off, full or proxy", mode)
	}
	if iface == "" {
		return nil, fmt.Errorf("-dhcp %s needs -dhcp-interface: DHCP answers on one interface only", mode)
	}
	if d.ServerIP = net.ParseIP(serverIP).To4(); d.ServerIP == nil {
		return nil, fmt.Errorf("-dhcp-server-ip %q is not an IPv4 address", serverIP)
	}
	if d.Mode == dhcp.Full {
		first, last, ok := strings.Cut(rng, "-")
		d.RangeStart, d.RangeEnd = net.ParseIP(first).To4(), net.ParseIP(last).To4()
		if !ok || d.RangeStart == nil || d.RangeEnd == nil {
			return nil, fmt.Errorf("-dhcp-range %q: write FIRST-LAST, e.g. 10.0.0.100-10.0.0.200", rng)
		}
		m := net.ParseIP(mask).To4()
		if m == nil {
			return nil, fmt.Errorf("-dhcp-netmask %q is not an IPv4 mask", mask)
		}
		d.SubnetMask = net.IPMask(m)
		if router != "" {
			if d.Router = net.ParseIP(router).To4(); d.Router == nil {
				return nil, fmt.Errorf("-dhcp-router %q is not an IPv4 address", router)
			}
		}
		for _, s := range strings.Split(dns, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			ip := net.ParseIP(s).To4()
			if ip == nil {
				return nil, fmt.Errorf("-dhcp-dns %q is not an IPv4 address", s)
			}
			d.DNS = append(d.DNS, ip)
		}
	}
	return d, nil
}

package boot

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/dhcp"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/ra"
	"github.com/stratastack/strata/provisioners/baremetal/tftp"
	"github.com/stratastack/strata/provisioners/baremetal/web"
)

// Config is one boot server.
type Config struct {
	// DataDir holds the inventory (inventory.db).
	DataDir string
	// HTTPAddr is where the HTTP side listens, e.g. "0.0.0.0:8080".
	HTTPAddr string
	// PublicURL is the base URL machines reach the HTTP side at; default
	// http://HTTPAddr (https with a certificate).
	PublicURL string
	APIToken  string
	AssetsDir string
	// TLSCert and TLSKey switch the HTTP side to TLS.
	TLSCert, TLSKey string
	// TFTPAddr is where TFTP listens ("" disables it); TFTPRoot what it
	// serves (tftp.DefaultRoot, Debian's ipxe package, by default).
	TFTPAddr string
	TFTPRoot string
	// DHCP, when set, answers DHCP on one interface.
	DHCP             *DHCP
	DiscoveryProfile string
	// StuckAfter is when the status page marks a machine without boot
	// progress stuck (web.DefaultStuckAfter when zero).
	StuckAfter time.Duration
	// Power, when set, shows machines' power states on the status page.
	// Run leaves it nil unless the caller supplies one: the boot server
	// holds no BMC passwords.
	Power web.PowerReader
	Log   *slog.Logger
	// Ready, when set, is called once every listener is bound, with the
	// addresses they got (useful with port 0).
	Ready func(Addrs)
}

// DHCP configures the DHCP responder.
type DHCP struct {
	Mode      dhcp.Mode
	Interface string // the interface to answer on; DHCP never binds all of them
	ServerIP  net.IP // this server's address on that interface
	// Full mode: the range handed out, and what leases carry.
	RangeStart, RangeEnd net.IP
	SubnetMask           net.IPMask
	Router               net.IP
	DNS                  []net.IP
	LeaseTime            time.Duration
	// RAPrefix, when valid, makes the server send IPv6 router
	// advertisements for this /64 on Interface: iPXE otherwise waits about
	// 13 s for IPv6 autoconfiguration on a network without an IPv6 router.
	RAPrefix netip.Prefix
}

// Addrs are the bound listeners.
type Addrs struct {
	HTTP, TFTP string
	PublicURL  string
}

// Run serves until ctx ends or a part fails; it then stops every part and
// returns the first error (nil after a clean shutdown).
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	store, err := inventory.Open(filepath.Join(cfg.DataDir, "inventory.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	progress := store.NewProgress(func(name string, st api.State, err error) {
		log.Error("recording boot progress failed", "machine", name, "state", st, "err", err)
	})
	defer progress.Close() // before store.Close: it writes what is queued

	var tlsConfig *tls.Config
	scheme := "http"
	if cfg.TLSCert != "" {
		if tlsConfig, err = web.LoadTLSConfig(cfg.TLSCert, cfg.TLSKey); err != nil {
			return err
		}
		scheme = "https"
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("boot: HTTP listen on %s: %w", cfg.HTTPAddr, err)
	}
	public := cfg.PublicURL
	if public == "" {
		public = scheme + "://" + ln.Addr().String()
	}
	h, err := web.New(web.Config{Store: store, APIToken: cfg.APIToken, PublicURL: public,
		AssetsDir: cfg.AssetsDir, DiscoveryProfile: cfg.DiscoveryProfile, Log: log, Progress: progress,
		StuckAfter: cfg.StuckAfter, Power: cfg.Power})
	if err != nil {
		ln.Close()
		return err
	}
	defer h.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("boot: %s: %w", name, err)
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	addrs := Addrs{HTTP: ln.Addr().String(), PublicURL: public}
	run("http", func() error { return web.Serve(ctx, ln, h, tlsConfig) })

	if cfg.TFTPAddr != "" {
		root := cfg.TFTPRoot
		if root == "" {
			root = tftp.DefaultRoot
		}
		ts, err := tftp.New(root, tftp.Options{OnTransfer: func(t tftp.Transfer) {
			log.Info("tftp", "remote", t.Remote.String(), "file", t.Filename, "bytes", t.Bytes, "duration", t.Duration, "err", t.Err)
		}})
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		conn, err := net.ListenPacket("udp", cfg.TFTPAddr)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("boot: TFTP listen on %s: %w", cfg.TFTPAddr, err)
		}
		addrs.TFTP = conn.LocalAddr().String()
		run("tftp", func() error { return ts.Serve(ctx, conn) })
	}
	if cfg.DHCP != nil {
		if err := startDHCP(ctx, cfg, public, store, progress, log, run); err != nil {
			cancel()
			wg.Wait()
			return err
		}
	}
	if cfg.Ready != nil {
		cfg.Ready(addrs)
	}
	wg.Wait()
	return first
}

// startDHCP binds the DHCP sockets to one interface (port 67, and 4011 for
// proxyDHCP) and answers known MACs, recording that their firmware asked.
func startDHCP(ctx context.Context, cfg Config, public string, store *inventory.Store, progress *inventory.Progress, log *slog.Logger, run func(string, func() error)) error {
	d := cfg.DHCP
	if d.Interface == "" {
		return errors.New("boot: DHCP needs an interface; it never answers on all of them")
	}
	known := func(mac net.HardwareAddr) bool {
		_, err := store.MachineByMAC(ctx, mac.String())
		return err == nil
	}
	rc := dhcp.Config{
		Mode: d.Mode, ServerIP: d.ServerIP, Known: known,
		ScriptURL:    public + "/boot.ipxe?mac=${mac}",
		HTTPBootBase: public + "/assets/",
		Observe:      DHCPObserver(ctx, store, progress, log),
	}
	if d.Mode == dhcp.Full {
		leases, err := dhcp.NewMemoryLeases(d.RangeStart, d.RangeEnd, d.ServerIP)
		if err != nil {
			return err
		}
		rc.Leases, rc.SubnetMask, rc.Router, rc.DNS, rc.LeaseTime = leases, d.SubnetMask, d.Router, d.DNS, d.LeaseTime
	}
	r, err := dhcp.New(rc)
	if err != nil {
		return err
	}
	conn, err := server4.NewIPv4UDPConn(d.Interface, &net.UDPAddr{Port: dhcpv4ServerPort})
	if err != nil {
		return fmt.Errorf("boot: DHCP on %s: %w", d.Interface, err)
	}
	run("dhcp", func() error { defer conn.Close(); return dhcp.Serve(ctx, conn, r) })
	if d.RAPrefix.IsValid() {
		run("ra", func() error {
			return ra.Serve(ctx, ra.Config{Interface: d.Interface, Prefix: d.RAPrefix, OnSendError: func(err error) {
				log.Warn("router advertisement not sent", "err", err)
			}})
		})
	}
	if d.Mode == dhcp.Proxy {
		bs, err := server4.NewIPv4UDPConn(d.Interface, &net.UDPAddr{Port: pxeBootServerPort})
		if err != nil {
			return fmt.Errorf("boot: proxyDHCP boot server port on %s: %w", d.Interface, err)
		}
		run("dhcp-4011", func() error { defer bs.Close(); return dhcp.ServeBootServer(ctx, bs, r) })
	}
	return nil
}

// DHCPObserver is what the server's DHCP responder tells about every
// request: a log line and, for a known machine that was given a boot file,
// the "dhcp" boot step. It is exported so that tests drive the same path a
// real DHCP exchange takes into the inventory.
func DHCPObserver(ctx context.Context, store *inventory.Store, progress *inventory.Progress, log *slog.Logger) func(dhcp.Event) {
	return func(ev dhcp.Event) {
		log.Info("dhcp", "mac", ev.MAC.String(), "request", ev.Request.String(), "reply", ev.Reply.String(), "file", ev.BootFile, "reason", ev.Reason)
		if m, err := store.MachineByMAC(ctx, ev.MAC.String()); err == nil && ev.BootFile != "" {
			progress.Record(m.Name, api.StateDHCP) // DHCP answers one packet at a time: no fsync before the reply
		}
	}
}

const (
	dhcpv4ServerPort  = 67
	pxeBootServerPort = 4011 // PXE boot server discovery, where UEFI asks a proxy
)

package baremetal

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/client"
	"github.com/stratastack/strata/provisioners/baremetal/power"
	"github.com/stratastack/strata/stacks/schema"
)

// LabelMachine is the label a registered machine carries with the name of
// the physical machine (the substrate's machine block) it is.
const LabelMachine = "strata:machine"

// Defaults for Config.
const (
	DefaultReadyTimeout = 15 * time.Minute
	DefaultPollInterval = 2 * time.Second
)

// Config is what Open needs besides the substrate's settings.
type Config struct {
	// BootToken is the boot server's API bearer token. Required.
	BootToken string
	// BMCPassword returns the password of a machine's BMC. machineName is
	// the substrate's machine block label, envVarName its bmc_password_env
	// ("" when unset). The front end reads the environment (or a
	// write-only attribute); passwords are never taken from state. Needed
	// only for machines with a bmc.
	BMCPassword func(machineName, envVarName string) (string, error)
	// ReadyTimeout bounds Ready; DefaultReadyTimeout when zero.
	ReadyTimeout time.Duration
	// PollInterval is how often Ready asks the boot server;
	// DefaultPollInterval when zero.
	PollInterval time.Duration
	// HTTPClient talks to the boot server; a client with a 30 s timeout
	// when nil.
	HTTPClient *http.Client
}

// physical is one machine block of the substrate.
type physical struct {
	name    string
	mac     string
	bmc     string
	bmcUser string
	passEnv string
	address string
	labels  map[string]string
}

// physicalOf reads a machine block.
func physicalOf(b schema.Nested) physical {
	return physical{
		name: b.Labels[0], mac: b.String("mac"), bmc: b.String("bmc"), bmcUser: b.String("bmc_user"),
		passEnv: b.String("bmc_password_env"), address: b.String("address"), labels: b.Map("labels"),
	}
}

type image struct {
	kernel  string
	initrd  []string
	cmdline string
}

// imageOf reads a substrate's image block; nil when it has none.
func imageOf(sub schema.Values) *image {
	imgs := sub.Blocks["image"]
	if len(imgs) == 0 {
		return nil
	}
	return &image{kernel: imgs[0].String("kernel"), initrd: imgs[0].Strings("initrd"), cmdline: imgs[0].String("cmdline")}
}

// Provisioner takes the substrate's machines: it registers them with the
// boot server, PXE-boots them through their BMCs and waits for phone-home.
type Provisioner struct {
	server   *client.Client // the boot server's API
	image    *image
	machines map[string]physical
	sub      schema.Values
	cfg      Config
	// openPower opens a BMC; power.Open unless a test replaces it.
	openPower func(ctx context.Context, bmcURL string, creds power.Credentials) (power.Controller, error)
}

var _ provisioners.Provisioner = (*Provisioner)(nil)

// Open reads the substrate's settings and checks that the boot server
// answers and accepts the token.
func Open(ctx context.Context, cfg Config, substrate schema.Values) (*Provisioner, error) {
	base := strings.TrimRight(substrate.String("boot_server"), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("baremetal: boot_server %q is not an http(s) URL; write e.g. \"http://10.0.0.2:8080\"", base)
	}
	if strings.TrimSpace(cfg.BootToken) == "" {
		return nil, errors.New("baremetal: no boot server API token given (Config.BootToken)")
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	p := &Provisioner{
		server: client.New(base, strings.TrimSpace(cfg.BootToken), hc), cfg: cfg,
		machines: map[string]physical{}, sub: substrate,
		openPower: func(ctx context.Context, bmcURL string, creds power.Credentials) (power.Controller, error) {
			return power.Open(ctx, bmcURL, creds)
		},
	}
	p.image = imageOf(substrate)
	for _, b := range substrate.Blocks["machine"] {
		if len(b.Labels) == 0 {
			continue
		}
		p.machines[b.Labels[0]] = physicalOf(b)
	}
	// A cheap authenticated request: a wrong token or URL is reported
	// here, before any machine is touched.
	if err := p.server.Ping(ctx); err != nil {
		return nil, fmt.Errorf("baremetal: checking the boot server: %w", err)
	}
	return p, nil
}

// Spec implements provisioners.Provisioner.
func (p *Provisioner) Spec() provisioners.Spec { return Spec() }

// pick returns the physical machine m takes: Machines(substrate, pool) at
// the index in its strata:index tag.
func (p *Provisioner) pick(m provisioners.Machine, sub schema.Values) (physical, error) {
	idx, err := strconv.Atoi(m.Tags[provisioners.TagIndex])
	if err != nil || idx < 0 {
		return physical{}, fmt.Errorf("baremetal: machine %s has no valid strata:index tag (%q)", m.Name, m.Tags[provisioners.TagIndex])
	}
	names := Machines(sub, m.Pool)
	if idx >= len(names) {
		return physical{}, fmt.Errorf("baremetal: machine %s is index %d of its pool, but the pool matches only %d machine(s): %s; add machine blocks or lower size",
			m.Name, idx, len(names), strings.Join(names, ", "))
	}
	for _, b := range sub.Blocks["machine"] {
		if len(b.Labels) > 0 && b.Labels[0] == names[idx] {
			return physicalOf(b), nil
		}
	}
	return physical{}, fmt.Errorf("baremetal: machine block %q not found", names[idx])
}

// Create takes a physical machine for m: it registers a profile (the image
// and m's user-data) and the machine with the boot server, sets the next
// boot to PXE and powers the machine on, or cycles it if it is on.
func (p *Provisioner) Create(ctx context.Context, m provisioners.Machine) (provisioners.Instance, error) {
	sub := m.Substrate
	if sub.Attrs == nil && sub.Blocks == nil {
		sub = p.sub // the settings Open was given
	}
	img := imageOf(sub)
	if img == nil {
		img = p.image
	}
	if img == nil || img.kernel == "" {
		return provisioners.Instance{}, errors.New("baremetal: the substrate has no image block with a kernel; machines have nothing to boot")
	}
	phys, err := p.pick(m, sub)
	if err != nil {
		return provisioners.Instance{}, err
	}

	prof := api.ProfileRequest{Kernel: img.kernel, Initrd: img.initrd, Cmdline: img.cmdline}
	if utf8.Valid(m.UserData) {
		s := string(m.UserData)
		prof.UserData = &s
	} else {
		s := base64.StdEncoding.EncodeToString(m.UserData)
		prof.UserDataBase64 = &s
	}
	if err := p.server.PutProfile(ctx, m.Name, prof); err != nil {
		return provisioners.Instance{}, fmt.Errorf("baremetal: machine %s: registering its profile: %w", m.Name, err)
	}

	labels := map[string]string{}
	for k, v := range phys.labels {
		labels[k] = v
	}
	labels[LabelMachine] = phys.name
	req := api.MachineRequest{
		Name: m.Name, MAC: phys.mac, IP: phys.address, BMC: phys.bmc, BMCUser: phys.bmcUser,
		Profile: m.Name, Labels: labels, Tags: m.Tags,
	}
	view, err := p.server.Register(ctx, req)
	if err != nil {
		if client.IsStatus(err, http.StatusConflict) {
			err = fmt.Errorf("%w (machine %q, MAC %s, is already registered on the boot server under another name: taken by another stack, or left over; delete it there first)", err, phys.name, phys.mac)
		}
		return provisioners.Instance{}, fmt.Errorf("baremetal: machine %s: registering %s: %w", m.Name, phys.name, err)
	}

	if phys.bmc != "" {
		if err := p.pxeBoot(ctx, phys); err != nil {
			return provisioners.Instance{}, fmt.Errorf("baremetal: machine %s: PXE-booting %s: %w", m.Name, phys.name, err)
		}
	}
	in := instance(view)
	in.State = provisioners.StatePending
	return in, nil
}

// withPower opens phys's BMC with its password and runs fn. Errors are
// scrubbed of the password (power errors already are; this also covers a
// password that a BMCPassword func or a test double quotes back).
func (p *Provisioner) withPower(ctx context.Context, phys physical, fn func(power.Controller) error) error {
	if p.cfg.BMCPassword == nil {
		return fmt.Errorf("no BMC password source (Config.BMCPassword) for the BMC of %s", phys.name)
	}
	pw, err := p.cfg.BMCPassword(phys.name, phys.passEnv)
	if err != nil {
		return scrub(fmt.Errorf("BMC password of %s: %w", phys.name, err), pw)
	}
	c, err := p.openPower(ctx, phys.bmc, power.Credentials{User: phys.bmcUser, Password: pw})
	if err == nil {
		err = fn(c)
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, power.ErrUnreachable) && ctx.Err() == nil && !provisioners.IsTransient(err) {
		err = provisioners.Transient(err)
	}
	return scrub(err, pw)
}

// scrub removes pw from err's text, keeping whether it is transient.
func scrub(err error, pw string) error {
	if err == nil || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	clean := errors.New(strings.ReplaceAll(err.Error(), pw, "[redacted]"))
	if provisioners.IsTransient(err) {
		return provisioners.Transient(clean)
	}
	return clean
}

// instance converts a boot server machine.
func instance(v api.MachineView) provisioners.Instance {
	in := provisioners.Instance{ID: v.Name, Name: v.Name, Tags: v.Tags}
	switch v.State {
	case api.StateReady:
		in.State = provisioners.StateRunning
	case api.StateError:
		in.State = provisioners.StateError
	default:
		in.State = provisioners.StatePending
	}
	if v.IP.IsValid() {
		in.Addresses = append(in.Addresses, v.IP.String())
	} else if v.PhoneHome != nil {
		// No fixed address: the one it phoned home from.
		if host, _, err := net.SplitHostPort(v.PhoneHome.Remote); err == nil {
			in.Addresses = append(in.Addresses, host)
		}
	}
	return in
}

// Read reports a machine; one the boot server no longer knows is provisioners.StateGone.
func (p *Provisioner) Read(ctx context.Context, id string) (provisioners.Instance, error) {
	v, err := p.get(ctx, id)
	if client.IsStatus(err, http.StatusNotFound) {
		return provisioners.Instance{ID: id, Name: id, State: provisioners.StateGone}, nil
	}
	if err != nil {
		return provisioners.Instance{}, fmt.Errorf("baremetal: reading machine %s: %w", id, err)
	}
	return instance(v), nil
}

func (p *Provisioner) get(ctx context.Context, id string) (api.MachineView, error) {
	return p.server.Machine(ctx, id)
}

// stuckAt says what a machine whose last boot step is st did not do.
func stuckAt(st api.State) string {
	switch st {
	case api.StateRegistered:
		return "no DHCP seen (is DHCP reaching it? is the BMC powering it?)"
	case api.StateDHCP:
		return "got an address but never fetched its iPXE script"
	case api.StateScriptFetched:
		return "fetched its script but never its kernel"
	case api.StateKernelFetched:
		return "booted its kernel but never phoned home (user-data / network in the OS?)"
	case "":
		return "the boot server could not be asked"
	}
	return "it stopped at an unexpected state"
}

// Ready polls the boot server until the machine phones home, up to
// Config.ReadyTimeout. On timeout the error names the last boot step the
// machine reached and what that means.
func (p *Provisioner) Ready(ctx context.Context, id string) (provisioners.Instance, error) {
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, p.cfg.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(p.cfg.PollInterval)
	defer tick.Stop()
	var last api.MachineView
	var lastErr error
	for {
		v, err := p.get(tctx, id)
		switch {
		case err == nil:
			last, lastErr = v, nil
			switch v.State {
			case api.StateReady:
				return instance(v), nil
			case api.StateError:
				return instance(v), fmt.Errorf("baremetal: machine %s: the boot server reports a boot error", id)
			}
		case client.IsStatus(err, http.StatusNotFound):
			return provisioners.Instance{ID: id, Name: id, State: provisioners.StateGone}, fmt.Errorf("baremetal: machine %s is no longer registered with the boot server", id)
		case provisioners.IsTransient(err) || tctx.Err() != nil:
			lastErr = err // keep polling; reported if time runs out
		default:
			return provisioners.Instance{}, fmt.Errorf("baremetal: waiting for machine %s: %w", id, err)
		}
		select {
		case <-tctx.Done():
			return instance(last), p.notReady(ctx, id, start, last, lastErr)
		case <-tick.C:
		}
	}
}

func (p *Provisioner) notReady(ctx context.Context, id string, start time.Time, last api.MachineView, lastErr error) error {
	why := "did not phone home within " + p.cfg.ReadyTimeout.String()
	if ctx.Err() != nil {
		why = fmt.Sprintf("was not ready when the wait was cancelled after %s", time.Since(start).Round(time.Millisecond))
	}
	step := last.State
	msg := fmt.Sprintf("baremetal: machine %s %s", id, why)
	if step != "" {
		at := ""
		if n := len(last.History); n > 0 {
			at = " at " + last.History[n-1].At.UTC().Format(time.RFC3339)
		}
		msg += fmt.Sprintf("; last boot step %q%s: %s", step, at, stuckAt(step))
	}
	if lastErr != nil {
		msg += fmt.Sprintf("; last poll failed: %v", lastErr)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", msg, ctx.Err())
	}
	return errors.New(msg)
}

// List returns the registered machines that carry all of tags (with no
// tags, those a stack holds: registered with a strata:stack tag).
func (p *Provisioner) List(ctx context.Context, tags map[string]string) ([]provisioners.Instance, error) {
	vs, err := p.server.Machines(ctx, tags)
	if err != nil {
		return nil, fmt.Errorf("baremetal: listing machines: %w", err)
	}
	out := make([]provisioners.Instance, 0, len(vs))
	for _, v := range vs {
		if v.Tags[provisioners.TagStack] != "" {
			out = append(out, instance(v))
		}
	}
	return out, nil
}

// Tag merges tags into a registered machine's.
func (p *Provisioner) Tag(ctx context.Context, id string, tags map[string]string) error {
	if _, err := p.server.Tag(ctx, id, tags); err != nil {
		return fmt.Errorf("baremetal: tagging machine %s: %w", id, err)
	}
	return nil
}

// Delete powers the machine off and deregisters it and its profile. A
// machine the boot server does not know is not an error. A BMC that cannot
// be reached is: the machine would go on running what it booted.
func (p *Provisioner) Delete(ctx context.Context, id string) error {
	v, err := p.get(ctx, id)
	switch {
	case client.IsStatus(err, http.StatusNotFound):
		// Gone already; the profile may be left from a crash.
	case err != nil:
		return fmt.Errorf("baremetal: deleting machine %s: %w", id, err)
	default:
		if v.BMC != "" {
			phys, ok := p.machines[v.Labels[LabelMachine]]
			if !ok || phys.bmc != v.BMC {
				// No longer (or differently) declared: use what the
				// boot server recorded.
				phys = physical{name: v.Labels[LabelMachine], bmc: v.BMC, bmcUser: v.BMCUser}
				if phys.name == "" {
					phys.name = id
				}
			}
			if err := p.withPower(ctx, phys, func(c power.Controller) error { return c.Off(ctx) }); err != nil {
				return fmt.Errorf("baremetal: deleting machine %s: powering off %s: %w", id, phys.name, err)
			}
		}
		if err := p.server.Deregister(ctx, id); err != nil && !client.IsStatus(err, http.StatusNotFound) {
			return fmt.Errorf("baremetal: deleting machine %s: %w", id, err)
		}
	}
	if err := p.server.DeleteProfile(ctx, id); err != nil && !client.IsStatus(err, http.StatusNotFound) {
		return fmt.Errorf("baremetal: deleting the profile of machine %s: %w", id, err)
	}
	return nil
}

package baremetal

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/power"
	"github.com/stratastack/strata/stacks/schema"
)

// This file is the boot server and BMC access for front ends that register
// machines one by one (the provider's strata_machine resource) instead of
// taking them from a substrate's machine blocks. It shares the API client,
// the BMC password handling and scrubbing, the PXE boot sequence and Ready
// with the provisioner.

// OpenBootServer is Open for a boot server alone, with no image and no
// machine blocks: it checks that the server answers and takes the token.
func OpenBootServer(ctx context.Context, cfg Config, bootServer string) (*Provisioner, error) {
	return Open(ctx, cfg, schema.Values{Attrs: map[string]cty.Value{"boot_server": cty.StringVal(bootServer)}})
}

// BMC is a machine's BMC. Its password comes from Config.BMCPassword,
// asked with Machine and PasswordEnv.
type BMC struct {
	Machine     string // the machine's name
	URL         string // ipmi://HOST[:PORT] or redfish://...
	User        string
	PasswordEnv string // the machine's bmc_password_env, "" for the default
}

func (b BMC) physical() physical {
	return physical{name: b.Machine, bmc: b.URL, bmcUser: b.User, passEnv: b.PasswordEnv}
}

// pxeBoot sets phys's next boot to PXE and powers it on, or cycles it if it
// is on: On leaves a running machine alone, and it must boot now.
func (p *Provisioner) pxeBoot(ctx context.Context, phys physical) error {
	return p.withPower(ctx, phys, func(c power.Controller) error {
		if err := c.BootPXE(ctx); err != nil {
			return err
		}
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if st == power.On {
			return c.Cycle(ctx)
		}
		return c.On(ctx)
	})
}

// PXEBoot makes the machine boot from the network now, as Create does.
func (p *Provisioner) PXEBoot(ctx context.Context, b BMC) error { return p.pxeBoot(ctx, b.physical()) }

// PowerOff powers the machine off at once, as Delete does.
func (p *Provisioner) PowerOff(ctx context.Context, b BMC) error {
	return p.withPower(ctx, b.physical(), func(c power.Controller) error { return c.Off(ctx) })
}

// CheckLogin logs in to the BMC (power.Open does) and changes nothing, so
// a wrong address, user or password is reported when it is set.
func (p *Provisioner) CheckLogin(ctx context.Context, b BMC) error {
	return p.withPower(ctx, b.physical(), func(power.Controller) error { return nil })
}

// PutProfile creates or replaces profile name (PUT /api/v1/profiles/NAME).
func (p *Provisioner) PutProfile(ctx context.Context, name string, req api.ProfileRequest) error {
	return p.call(ctx, http.MethodPut, "profiles/"+url.PathEscape(name), req, nil)
}

// Profile reads profile name; its user-data never comes back.
func (p *Provisioner) Profile(ctx context.Context, name string) (api.ProfileView, error) {
	var v api.ProfileView
	err := p.call(ctx, http.MethodGet, "profiles/"+url.PathEscape(name), nil, &v)
	return v, err
}

// DeleteProfile removes profile name; the boot server refuses (409) while
// a machine uses it.
func (p *Provisioner) DeleteProfile(ctx context.Context, name string) error {
	return p.call(ctx, http.MethodDelete, "profiles/"+url.PathEscape(name), nil, nil)
}

// Register registers or re-registers a machine (POST /api/v1/machines, an
// upsert). Its profile must exist.
func (p *Provisioner) Register(ctx context.Context, req api.MachineRequest) (api.MachineView, error) {
	var v api.MachineView
	err := p.call(ctx, http.MethodPost, "machines", req, &v)
	return v, err
}

// Machine reads machine name.
func (p *Provisioner) Machine(ctx context.Context, name string) (api.MachineView, error) {
	return p.get(ctx, name)
}

// Deregister removes machine name from the boot server.
func (p *Provisioner) Deregister(ctx context.Context, name string) error {
	return p.call(ctx, http.MethodDelete, "machines/"+url.PathEscape(name), nil, nil)
}

// Address is the machine's address as Read and Ready report it: its fixed
// IP, else the one it phoned home from, else "".
func Address(v api.MachineView) string {
	if in := instance(v); len(in.Addresses) > 0 {
		return in.Addresses[0]
	}
	return ""
}

// APIStatus reports how the boot server refused a request: the HTTP status
// (0 when err is not a refusal, e.g. a connection failure) and the request
// field it blamed ("" when none).
func APIStatus(err error) (status int, field string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status, ae.Field
	}
	return 0, ""
}

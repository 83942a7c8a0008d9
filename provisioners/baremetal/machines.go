package baremetal

import (
	"context"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/client"
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

// API is the boot server's API client, for front ends that register
// profiles and machines themselves.
func (p *Provisioner) API() *client.Client { return p.server }

// Address is the machine's address as Read and Ready report it: its fixed
// IP, else the one it phoned home from, else "".
func Address(v api.MachineView) string {
	if in := instance(v); len(in.Addresses) > 0 {
		return in.Addresses[0]
	}
	return ""
}

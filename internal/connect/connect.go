package connect

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/baremetal"
	"github.com/stratastack/strata/provisioners/openstack"
	"github.com/stratastack/strata/provisioners/vsphere"
	"github.com/stratastack/strata/stacks"
)

// Config holds the credentials per substrate kind.
type Config struct {
	VSphere   vsphere.Config
	BareMetal baremetal.Config
	OpenStack openstack.Config
}

// openers are the substrate kinds with a provisioner, and how to open one.
func openers() map[string]func(context.Context, Config, *stacks.Substrate) (provisioners.Provisioner, error) {
	return map[string]func(context.Context, Config, *stacks.Substrate) (provisioners.Provisioner, error){
		"vsphere": func(ctx context.Context, c Config, sub *stacks.Substrate) (provisioners.Provisioner, error) {
			return vsphere.Open(ctx, c.VSphere, sub.Settings)
		},
		"baremetal": func(ctx context.Context, c Config, sub *stacks.Substrate) (provisioners.Provisioner, error) {
			return baremetal.Open(ctx, c.BareMetal, sub.Settings)
		},
		// A substrate an openstack layer became carries its own credentials.
		"openstack": func(ctx context.Context, c Config, sub *stacks.Substrate) (provisioners.Provisioner, error) {
			return openstack.Open(ctx, c.OpenStack.WithAccess(sub.Access), sub.Settings)
		},
	}
}

// BMCPasswords is where BMC passwords come from for front ends that read
// the environment: the variable a machine block names in bmc_password_env,
// else STRATA_BMC_PASSWORD. getenv is os.Getenv in a main.
func BMCPasswords(getenv func(string) string) func(machine, envVar string) (string, error) {
	return func(machine, envVar string) (string, error) {
		if envVar == "" {
			envVar = "STRATA_BMC_PASSWORD"
		}
		if p := getenv(envVar); p != "" {
			return p, nil
		}
		return "", fmt.Errorf("no BMC password for machine %q: set %s", machine, envVar)
	}
}

// Kinds lists the substrate kinds that have a provisioner, sorted.
func Kinds() []string {
	return slices.Sorted(maps.Keys(openers()))
}

// Supported reports whether a substrate kind has a provisioner.
func Supported(kind string) bool {
	_, ok := openers()[kind]
	return ok
}

// Open connects to a substrate block.
func (c Config) Open(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
	open, ok := openers()[sub.Kind]
	if !ok {
		return nil, fmt.Errorf("substrate kind %q %s", sub.Kind, unsupported())
	}
	return open(ctx, c, sub)
}

// Check fails, before anything is made, when the stack uses a substrate
// kind without a provisioner.
func Check(s *stacks.Stack) error {
	for _, sub := range s.Substrates {
		if !Supported(sub.Kind) {
			return fmt.Errorf("substrate %s.%s: kind %q %s", sub.Kind, sub.Name, sub.Kind, unsupported())
		}
	}
	return nil
}

// unsupported ends the message about a kind without a provisioner.
func unsupported() string {
	return "is not supported by this version of strata yet (supported: " + strings.Join(Kinds(), ", ") + ")"
}

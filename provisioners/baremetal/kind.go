package baremetal

import (
	"context"
	"fmt"

	"github.com/stratastack/strata/provisioners"
)

// Kind describes the baremetal substrate kind to the registry. Its
// boot_server setting is the one strata_machine registers machines with; a
// stack's substrate block names its own.
func Kind() provisioners.Kind {
	return provisioners.Kind{
		Spec: Spec(),
		Doc:  "The Strata boot server (`strata boot serve`) that serves bare-metal machines: `strata_machine` registers machines with it, and stacks on a baremetal substrate use its token.",
		Settings: []provisioners.Setting{
			{Name: "boot_server", Doc: "Boot server API URL, e.g. `http://10.0.0.2:8080`, that `strata_machine` registers machines with (a stack's baremetal substrate names its own).", Env: []string{"STRATA_BOOT_SERVER"}},
			{Name: "token", Doc: "Boot server API token.", Env: []string{"STRATA_BOOT_TOKEN"}, Sensitive: true},
		},
		Open: func(ctx context.Context, env provisioners.Env, t provisioners.Target) (provisioners.Provisioner, error) {
			return Open(ctx, ConfigFrom(env), t.Settings)
		},
	}
}

// ConfigFrom is the Config that resolved settings describe; BMC passwords
// are read from the environment when a BMC is used (BMCPasswords).
func ConfigFrom(env provisioners.Env) Config {
	return Config{BootToken: env.Settings["token"], BMCPassword: BMCPasswords(env.Getenv)}
}

// BMCPasswords is where BMC passwords come from for front ends that read
// the environment: the variable a machine block names in bmc_password_env,
// else STRATA_BMC_PASSWORD.
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

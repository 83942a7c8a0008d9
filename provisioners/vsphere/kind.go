package vsphere

import (
	"context"

	"github.com/stratastack/strata/provisioners"
)

// Kind describes the vsphere substrate kind to the registry.
func Kind() provisioners.Kind {
	return provisioners.Kind{
		Spec: Spec(),
		Doc:  "vCenter connection. A stack's `substrate \"vsphere\"` block may name its own `server` and `user`; the password always comes from here.",
		Settings: []provisioners.Setting{
			{Name: "server", Doc: "vCenter host name, address or URL.", Env: []string{"VSPHERE_SERVER"}},
			{Name: "user", Doc: "vCenter user name.", Env: []string{"VSPHERE_USER"}},
			{Name: "password", Doc: "vCenter password.", Env: []string{"VSPHERE_PASSWORD"}, Sensitive: true},
			{Name: "allow_unverified_ssl", Doc: "Accept a self-signed or otherwise unverifiable certificate.", Env: []string{"VSPHERE_ALLOW_UNVERIFIED_SSL"}, Bool: true},
		},
		Open: func(ctx context.Context, env provisioners.Env, t provisioners.Target) (provisioners.Provisioner, error) {
			return Open(ctx, ConfigFrom(env), t.Settings)
		},
	}
}

// ConfigFrom is the Config that resolved settings describe.
func ConfigFrom(env provisioners.Env) Config {
	s := env.Settings
	return Config{Server: s["server"], User: s["user"], Password: s["password"], Insecure: env.Bool("allow_unverified_ssl")}
}

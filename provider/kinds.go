package provider

import (
	"context"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/vsphere"
	"github.com/stratastack/strata/stacks"
)

// builtinKinds are the substrate kinds this provider version knows. Only
// kinds with an open function can be provisioned; the others are listed so
// that their stacks fail at plan time with a clear message.
func builtinKinds() map[string]substrateKind {
	return map[string]substrateKind{
		"vsphere": {
			open: func(ctx context.Context, cfg *settings, sub *stacks.Substrate) (provisioners.Provisioner, error) {
				v := cfg.VSphere
				return vsphere.Open(ctx, vsphere.Config{Server: v.Server, User: v.User, Password: v.Password, Insecure: v.Insecure}, sub.Settings)
			},
			unknown: func(cfg *settings) bool { return cfg.VSphere.Unknown },
		},
		"openstack": {},
		"aws":       {},
		"baremetal": {},
	}
}

package openstack

import (
	"context"

	"github.com/stratastack/strata/provisioners"
)

// Kind describes the openstack substrate kind to the registry. Settings
// the provider block leaves unset come from the OS_* environment and
// clouds.yaml as the OpenStack CLI reads them (ConfigFromEnv).
func Kind() provisioners.Kind {
	str := func(name, doc string, env ...string) provisioners.Setting {
		return provisioners.Setting{Name: name, Doc: doc, Env: env}
	}
	password := str("password", "Password.", "OS_PASSWORD")
	password.Sensitive = true
	insecure := str("insecure", "Skip TLS verification.", "OS_INSECURE")
	insecure.Bool = true
	return provisioners.Kind{
		Spec: Spec(),
		Doc:  "OpenStack credentials (Keystone v3: a password or an application credential). Unset settings come from the `OS_*` environment and clouds.yaml, searched where the OpenStack CLI searches (`OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`, `~/.config/openstack/`, `/etc/openstack/`, with `secure.yaml` beside it); a stack's `substrate \"openstack\"` block that names a `cloud` is reached as that clouds.yaml entry says; its `auth_url` and `region` win over these settings, which win over clouds.yaml.",
		Settings: []provisioners.Setting{
			str("cloud", "Entry of clouds.yaml to use.", "OS_CLOUD"),
			str("auth_url", "Keystone URL.", "OS_AUTH_URL"),
			str("user_name", "User name.", "OS_USERNAME"),
			password,
			str("project_name", "Project (tenant) name.", "OS_PROJECT_NAME", "OS_TENANT_NAME"),
			str("user_domain_name", "Domain of the user.", "OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"),
			str("project_domain_name", "Domain of the project.", "OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME"),
			str("region", "Region.", "OS_REGION_NAME"),
			insecure,
		},
		// A substrate an openstack layer became carries its own credentials,
		// and is up once it can run servers, not only log in.
		Open: func(ctx context.Context, env provisioners.Env, t provisioners.Target) (provisioners.Provisioner, error) {
			p, err := Open(ctx, ConfigFrom(env).WithAccess(t.Access), t.Settings)
			if err != nil || t.Access == nil {
				return p, err
			}
			if err := p.ComputeUp(ctx); err != nil {
				_ = p.Close()
				return nil, err
			}
			return p, nil
		},
	}
}

// ConfigFrom is the Config that resolved settings describe: the
// environment's (ConfigFromEnv), with every setting that has a value laid
// over it.
func ConfigFrom(env provisioners.Env) Config {
	c := ConfigFromEnv(env.Getenv)
	s := env.Settings
	for name, dst := range map[string]*string{
		"cloud": &c.Cloud, "auth_url": &c.AuthURL, "user_name": &c.Username, "password": &c.Password,
		"project_name": &c.ProjectName, "user_domain_name": &c.UserDomainName,
		"project_domain_name": &c.ProjectDomainName, "region": &c.Region,
	} {
		if s[name] != "" {
			*dst = s[name]
		}
	}
	if s["insecure"] != "" {
		c.Insecure = env.Bool("insecure")
	}
	return c
}

package openstack

import (
	"fmt"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/zclconf/go-cty/cty"
)

const creds = "use clouds.yaml/secure.yaml (cloud = \"NAME\"), OS_PASSWORD, or password in the provider's openstack block (sensitive, never stored in state)."

// Spec is what `substrate "openstack"` accepts.
func Spec() provisioners.Spec {
	return provisioners.Spec{
		Kind: "openstack",
		Attrs: []schema.Attr{
			{Name: "cloud", Type: cty.String, Doc: "an entry of clouds.yaml, which alone says how to reach the cloud; without it, OS_CLOUD or the provider's openstack block do."},
			{Name: "auth_url", Type: cty.String, Doc: "Keystone v3 URL; wins over OS_AUTH_URL, the provider's auth_url and clouds.yaml."},
			{Name: "region", Type: cty.String, Doc: "wins over OS_REGION_NAME, the provider's region and clouds.yaml."},
			{Name: "image", Type: cty.String, Doc: "image name or id for pools without their own."},
			{Name: "network", Type: cty.String, Doc: "network name or id, \"none\" (no NIC) or \"auto\" (the default: the project's only network)."},
			{Name: "key_name", Type: cty.String, Doc: "Nova key pair."},
			{Name: "security_groups", Type: cty.List(cty.String), Doc: "security group names."},
			{Name: "availability_zone", Type: cty.String, Doc: "Nova availability zone."},
			{Name: "password", Type: cty.String, Secret: creds},
			{Name: "application_credential_secret", Type: cty.String, Secret: creds},
		},
		PoolAttrs: PoolAttrs(),
	}
}

// PoolAttrs are the settings of a pool on OpenStack, whether the cloud is a
// substrate block or an openstack layer.
func PoolAttrs() []schema.Attr {
	return []schema.Attr{
		{Name: "flavor", Type: cty.String, Doc: "flavor name or id; default: the smallest that fits cpus, memory_mb and disk_gb."},
		{Name: "image", Type: cty.String, Doc: "overrides the substrate's image."},
		{Name: "network", Type: cty.String, Doc: "overrides the substrate's network."},
		{Name: "server_group_policy", Type: cty.String, Default: cty.StringVal("soft-anti-affinity"),
			Doc: "how the machines of a master, controller or control-plane role spread (one Nova server group per role): soft-anti-affinity, anti-affinity (a host per machine), affinity, soft-affinity.", Check: policy},
	}
}

func policy(v cty.Value) error {
	switch v.AsString() {
	case "soft-anti-affinity", "anti-affinity", "affinity", "soft-affinity":
		return nil
	}
	return fmt.Errorf("%q is not a server group policy; use soft-anti-affinity, anti-affinity, affinity or soft-affinity", v.AsString())
}

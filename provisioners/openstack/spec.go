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
			{Name: "cloud", Type: cty.String, Doc: "an entry of clouds.yaml; defaults to OS_CLOUD."},
			{Name: "auth_url", Type: cty.String, Doc: "Keystone v3 URL; defaults to OS_AUTH_URL."},
			{Name: "region", Type: cty.String, Doc: "defaults to OS_REGION_NAME."},
			{Name: "image", Type: cty.String, Doc: "image name or id for pools without their own."},
			{Name: "network", Type: cty.String, Doc: "network name, or \"none\"."},
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
		{Name: "flavor", Type: cty.String, Doc: "flavor name; default: the smallest that fits cpus/memory_mb."},
		{Name: "image", Type: cty.String, Doc: "overrides the substrate's image."},
		{Name: "network", Type: cty.String, Doc: "overrides the substrate's network."},
		{Name: "server_group_policy", Type: cty.String, Default: cty.StringVal("soft-anti-affinity"),
			Doc: "how a role's machines spread: soft-anti-affinity, anti-affinity, affinity, soft-affinity.", Check: policy},
	}
}

func policy(v cty.Value) error {
	switch v.AsString() {
	case "soft-anti-affinity", "anti-affinity", "affinity", "soft-affinity":
		return nil
	}
	return fmt.Errorf("%q is not a server group policy; use soft-anti-affinity, anti-affinity, affinity or soft-affinity", v.AsString())
}

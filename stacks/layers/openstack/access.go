package openstack

import (
	"context"
	"fmt"

	"github.com/stratastack/strata/stacks/layers"
)

var _ layers.Substrate = (*Layer)(nil)

// Access implements layers.Substrate: pools placed on the layer reach its
// Keystone as the admin the controller bootstrap made (password derived
// from the stack's secrets), or through the clouds.yaml entry the layer's
// `cloud` names.
func (l *Layer) Access(ctx context.Context, c layers.Cluster) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	region := c.Settings.String("region")
	if region == "" {
		region = "RegionOne"
	}
	if cloud := c.Settings.String("cloud"); cloud != "" {
		return map[string]string{"cloud": cloud, "region": region}, nil
	}
	if c.Settings.String("public_endpoint") == "" {
		if c.Placements[RoleController] != layers.Pool && c.Placements[RoleController] != "" {
			return nil, fmt.Errorf("openstack: layer %s: its controllers are hosted on a %s layer, so pools outside it need public_endpoint (a VIP or load balancer) to reach Keystone", c.Name, c.Placements[RoleController])
		}
		ms := c.Members[RoleController]
		if len(ms) == 0 || first(ms).Address == "" {
			return nil, fmt.Errorf("openstack: layer %s: %w: its first controller has no address", c.Name, layers.ErrNotUp)
		}
	}
	p, err := newPlan(c)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"auth_url": p.url("keystone", portKeystone, "/v3", true), "region": p.region,
		"username": "admin", "password": p.secret(sAdmin), "project_name": "admin",
		"user_domain_name": "Default", "project_domain_name": "Default",
	}, nil
}

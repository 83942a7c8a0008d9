package openstack

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/services"

	"github.com/stratastack/strata/provisioners"
)

// ComputeUp checks that the cloud can run servers: at least one
// nova-compute service is enabled and up. A cloud an openstack layer made
// answers Keystone before its compute hosts have registered; until they
// have, the error is transient so the engine keeps waiting. Listing
// services is an admin call: a user who may not list them gets no verdict
// (nil), as the login already proved the cloud answers.
func (p *Provisioner) ComputeUp(ctx context.Context) error {
	pages, err := services.List(p.compute, services.ListOpts{Binary: "nova-compute"}).AllPages(ctx)
	if gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
		return nil
	}
	if err != nil {
		return fail(err, "list compute services")
	}
	all, err := services.ExtractServices(pages)
	if err != nil {
		return fail(err, "list compute services")
	}
	up := 0
	for _, s := range all {
		if s.State == "up" && s.Status == "enabled" {
			up++
		}
	}
	if up == 0 {
		return provisioners.Transient(fmt.Errorf("openstack: %s: no nova-compute service is up and enabled yet (%d registered)", p.where, len(all)))
	}
	return nil
}

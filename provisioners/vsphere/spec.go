package vsphere

import (
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/zclconf/go-cty/cty"
)

// Spec is what `substrate "vsphere"` accepts.
func Spec() provisioners.Spec {
	return provisioners.Spec{
		Kind: "vsphere",
		Attrs: []schema.Attr{
			{Name: "server", Type: cty.String, Doc: "vCenter address; defaults to VSPHERE_SERVER or the provider setting."},
			{Name: "user", Type: cty.String, Doc: "defaults to VSPHERE_USER or the provider setting."},
			{Name: "datacenter", Type: cty.String, Required: true, Doc: "the datacenter to place VMs in."},
			{Name: "cluster", Type: cty.String, Doc: "compute cluster (its root resource pool is used)."},
			{Name: "resource_pool", Type: cty.String, Doc: "resource pool path, instead of cluster."},
			{Name: "datastore", Type: cty.String, Doc: "datastore for the clones."},
			{Name: "network", Type: cty.String, Doc: "port group for the first NIC."},
			{Name: "template", Type: cty.String, Required: true, Doc: "VM template to clone."},
			{Name: "folder", Type: cty.String, Doc: "VM folder; a sub-folder per stack is made in it."},
			{Name: "password", Type: cty.String, Secret: "set VSPHERE_PASSWORD or the provider's write-only vsphere.password."},
		},
		PoolAttrs: []schema.Attr{
			{Name: "template", Type: cty.String, Doc: "overrides the substrate's template."},
			{Name: "datastore", Type: cty.String, Doc: "overrides the substrate's datastore."},
			{Name: "network", Type: cty.String, Doc: "overrides the substrate's network."},
		},
	}
}

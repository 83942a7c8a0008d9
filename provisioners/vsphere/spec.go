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
			{Name: "cluster", Type: cty.String, Doc: "compute cluster (its root resource pool is used); needed, or resource_pool, when the datacenter has more than one cluster or host."},
			{Name: "resource_pool", Type: cty.String, Doc: "resource pool path, instead of cluster."},
			{Name: "datastore", Type: cty.String, Doc: "datastore for the clones; defaults to the template's."},
			{Name: "network", Type: cty.String, Doc: "port group for the first NIC; defaults to the template's."},
			{Name: "template", Type: cty.String, Doc: "VM template to clone: a name, looked up in the datacenter, or a path under its VM folder; every pool needs one, here or its own (a janitor's file, which has no pools, needs none)."},
			{Name: "folder", Type: cty.String, Doc: "VM folder, a path under the datacenter's VM folder (which is the default); a sub-folder strata-<stack> per stack is made in it."},
			{Name: "password", Type: cty.String, Secret: "set VSPHERE_PASSWORD, or password in the provider's vsphere block (sensitive, never stored in state)."},
		},
		PoolAttrs: []schema.Attr{
			{Name: "template", Type: cty.String, Doc: "overrides the substrate's template."},
			{Name: "datastore", Type: cty.String, Doc: "overrides the substrate's datastore."},
			{Name: "network", Type: cty.String, Doc: "overrides the substrate's network."},
		},
		CheckPool: checkPool,
	}
}

// checkPool asks a template of every pool, its own or the substrate's. An
// unknown one (a Terraform value known only at apply) passes.
func checkPool(substrate, pool schema.Values, _ int) []provisioners.Problem {
	for _, v := range []schema.Values{pool, substrate} {
		if t, ok := v.Attrs["template"]; ok && (!t.IsKnown() || !t.IsNull() && t.AsString() != "") {
			return nil
		}
	}
	return []provisioners.Problem{{Attr: "template", Summary: "No template",
		Detail: "A pool on vSphere clones a template: set template in the substrate block or in the pool."}}
}

package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/plan"
)

// hostedModel is one hosted role of strata_stack: a role of a layer run
// as objects on another layer.
type hostedModel struct {
	Layer   types.String `tfsdk:"layer"`
	Role    types.String `tfsdk:"role"`
	On      types.String `tfsdk:"on"`
	Count   types.Int64  `tfsdk:"count"`
	Objects types.List   `tfsdk:"objects"`
	State   types.String `tfsdk:"state"`
}

func hostedType() types.ObjectType {
	return types.ObjectType{AttrTypes: map[string]attr.Type{
		"layer":   types.StringType,
		"role":    types.StringType,
		"on":      types.StringType,
		"count":   types.Int64Type,
		"objects": types.ListType{ElemType: types.StringType},
		"state":   types.StringType,
	}}
}

func hostedSchema() schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		Computed: true,
		MarkdownDescription: "The roles placed on layers rather than pools (Kubernetes on Mesos as Marathon apps, OpenStack or Mesos on Kubernetes as workloads), " +
			"in bring-up order; `terraform plan` shows their counts beside the machines.",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"layer":   schema.StringAttribute{Computed: true, MarkdownDescription: "The layer (`KIND.NAME`) the role belongs to."},
			"role":    schema.StringAttribute{Computed: true, MarkdownDescription: "The role."},
			"on":      schema.StringAttribute{Computed: true, MarkdownDescription: "The layer (`KIND.NAME`) that runs it."},
			"count":   schema.Int64Attribute{Computed: true, MarkdownDescription: "How many instances the role runs."},
			"objects": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "The host layer's ids of the role's objects (Marathon app ids, Kubernetes GROUP/VERSION/RESOURCE/NAMESPACE/NAME)."},
			"state":   schema.StringAttribute{Computed: true, MarkdownDescription: "`running` once every object is up, `pending`, `error`, or `absent` when none is found."},
		}},
	}
}

// hostedOf reads a hosted list; null or unknown reads as empty.
func hostedOf(ctx context.Context, v types.List) ([]hostedModel, diag.Diagnostics) {
	var out []hostedModel
	if v.IsNull() || v.IsUnknown() {
		return nil, nil
	}
	diags := v.ElementsAs(ctx, &out, false)
	return out, diags
}

func same(m hostedModel, h plan.Hosted) bool {
	return m.Layer.ValueString() == h.Layer && m.Role.ValueString() == h.Role && m.On.ValueString() == h.On
}

// plannedHosted is what the plan says of each hosted role: as it stands
// when it runs with the same count, else with objects and state known only
// after apply.
func plannedHosted(p *plan.Plan, prior []hostedModel) []hostedModel {
	out := make([]hostedModel, 0, len(p.Hosted))
	for _, h := range p.Hosted {
		want := hostedModel{
			Layer: types.StringValue(h.Layer), Role: types.StringValue(h.Role), On: types.StringValue(h.On),
			Count: types.Int64Value(int64(h.Count)), Objects: types.ListUnknown(types.StringType), State: types.StringUnknown(),
		}
		for _, old := range prior {
			if same(old, h) && old.Count.ValueInt64() == int64(h.Count) && old.State.ValueString() == provisioners.StateRunning {
				want.Objects, want.State = old.Objects, old.State
			}
		}
		out = append(out, want)
	}
	return out
}

// hostedFrom records a hosted role as the engine found it.
func hostedFrom(h engine.Hosted) hostedModel {
	ids := make([]attr.Value, 0, len(h.Objects))
	for _, id := range h.Objects {
		ids = append(ids, types.StringValue(id))
	}
	return hostedModel{
		Layer: types.StringValue(h.Layer), Role: types.StringValue(h.Role), On: types.StringValue(h.On),
		Count: types.Int64Value(int64(h.Count)), Objects: types.ListValueMust(types.StringType, ids), State: types.StringValue(h.State),
	}
}

// settleHosted is the state of each planned hosted role after an apply:
// what the plan knew stands, the rest comes from the apply; a role the
// apply did not reach is absent.
func settleHosted(p *plan.Plan, got []engine.Hosted, planned []hostedModel) []hostedModel {
	out := make([]hostedModel, 0, len(p.Hosted))
	for _, h := range p.Hosted {
		m := hostedFrom(engine.Hosted{Hosted: h, State: engine.StateAbsent})
		for _, g := range got {
			if g.Layer == h.Layer && g.Role == h.Role {
				m = hostedFrom(g)
			}
		}
		for _, pl := range planned {
			if same(pl, h) && !pl.Objects.IsUnknown() {
				m.Objects, m.State = pl.Objects, pl.State
			}
		}
		out = append(out, m)
	}
	return out
}

// hostedStatus records each hosted role as a refresh found it.
func hostedStatus(got []engine.Hosted) []hostedModel {
	out := make([]hostedModel, 0, len(got))
	for _, h := range got {
		out = append(out, hostedFrom(h))
	}
	return out
}

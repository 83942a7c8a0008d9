package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/stacks/plan"
)

var (
	_ datasource.DataSourceWithConfigure      = (*bootstrapDataSource)(nil)
	_ datasource.DataSourceWithValidateConfig = (*bootstrapDataSource)(nil)
)

// NewBootstrapDataSource makes the strata_bootstrap data source.
func NewBootstrapDataSource() datasource.DataSource { return &bootstrapDataSource{} }

type bootstrapDataSource struct{ client *client }

type bootstrapModel struct {
	ID        types.String `tfsdk:"id"`
	Path      types.String `tfsdk:"path"`
	Source    types.String `tfsdk:"source"`
	Vars      types.Map    `tfsdk:"vars"`
	Node      types.String `tfsdk:"node"`
	Layer     types.String `tfsdk:"layer"`
	Role      types.String `tfsdk:"role"`
	Seed      types.String `tfsdk:"seed"`
	Addresses types.Map    `tfsdk:"addresses"`
	Machine   types.String `tfsdk:"machine"`
	Format    types.String `tfsdk:"format"`
	UserData  types.String `tfsdk:"user_data"`
	Objects   types.List   `tfsdk:"objects"`
}

func objectType() types.ObjectType {
	return types.ObjectType{AttrTypes: map[string]attr.Type{
		"format": types.StringType,
		"kind":   types.StringType,
		"name":   types.StringType,
		"body":   types.StringType,
	}}
}

// withStackInput adds to a data source's attributes the three that name
// the stack it reads: path or source, and vars.
func withStackInput(attrs map[string]schema.Attribute) map[string]schema.Attribute {
	attrs["path"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "A stack file or folder. Exactly one of `path` and `source` is set."}
	attrs["source"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "The stack inline, in HCL (or JSON) syntax. Exactly one of `path` and `source` is set."}
	attrs["vars"] = schema.MapAttribute{ElementType: types.StringType, Optional: true,
		MarkdownDescription: "Values for the stack's variables, as `strata -var NAME=VALUE` takes them."}
	return attrs
}

func (d *bootstrapDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_bootstrap"
}

func (d *bootstrapDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The rendered bootstrap of one layer role, so that machines made by other providers (`aws_instance`, `vsphere_virtual_machine`, ...) can carry a Strata layer. " +
			"With `node`, it is the cloud-init user data of one machine of a pool; with `layer` and `role`, the objects that bring up a role hosted on another layer " +
			"(Kubernetes manifests or Marathon app definitions).\n\n" +
			"Every machine of a layer must be rendered with the same `seed`, from which the layer's join secrets derive. " +
			"Without `seed`, the `strata` CLI's seed file `.strata/STACK.seed` is used (in the working directory, or beside the stack), and created in the working directory when there is none — the same file `strata render` uses.",
		Attributes: withStackInput(map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "`STACK/POOL/INDEX` or `STACK/KIND.NAME/ROLE`."},
			"node": schema.StringAttribute{Optional: true,
				MarkdownDescription: "The machine to render, `POOL/INDEX` (e.g. `infra/0`). Set either `node`, or `layer` and `role`."},
			"layer": schema.StringAttribute{Optional: true,
				MarkdownDescription: "A layer, `KIND.NAME` (e.g. `kubernetes.apps`), whose `role` is hosted on another layer."},
			"role": schema.StringAttribute{Optional: true,
				MarkdownDescription: "The hosted role of `layer` to render (e.g. `worker`)."},
			"seed": schema.StringAttribute{Optional: true, Sensitive: true,
				MarkdownDescription: "The stack's secret seed: 64 hex digits (32 bytes), e.g. `random_id.seed.hex` of a `random_id` with `byte_length = 32`."},
			"addresses": schema.MapAttribute{ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Known machine addresses by machine name (`STACK-POOL-INDEX`), so a bootstrap names its peers by address; without one, peers are named by machine name, which must then resolve."},
			"machine": schema.StringAttribute{Computed: true, MarkdownDescription: "With `node`: the machine's name, `STACK-POOL-INDEX`."},
			"format":  schema.StringAttribute{Computed: true, MarkdownDescription: "With `node`: the bootstrap's format, `cloud-config`."},
			"user_data": schema.StringAttribute{Computed: true, Sensitive: true,
				MarkdownDescription: "With `node`: the machine's bootstrap, to pass as user data. It holds the layer's join secrets."},
			"objects": schema.ListNestedAttribute{Computed: true, Sensitive: true,
				MarkdownDescription: "With `layer` and `role`: the objects to submit to the host layer, in order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"format": schema.StringAttribute{Computed: true, MarkdownDescription: "`kubernetes` (a YAML manifest) or `marathon` (a JSON definition)."},
					"kind":   schema.StringAttribute{Computed: true, MarkdownDescription: "The object's kind, e.g. `StatefulSet`, `Secret`, `app`, `group`."},
					"name":   schema.StringAttribute{Computed: true, MarkdownDescription: "The object's name."},
					"body":   schema.StringAttribute{Computed: true, MarkdownDescription: "The object itself."},
				}},
			},
		}),
	}
}

func (d *bootstrapDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	configure(&d.client, req.ProviderData, &resp.Diagnostics)
}

func (d *bootstrapDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var m bootstrapModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	exactlyOne(&resp.Diagnostics, m.Path, m.Source)
	if m.Node.IsUnknown() || m.Layer.IsUnknown() || m.Role.IsUnknown() {
		return
	}
	hosted := !m.Layer.IsNull() || !m.Role.IsNull()
	switch {
	case !m.Node.IsNull() && hosted:
		resp.Diagnostics.AddAttributeError(path.Root("node"), "Conflicting targets",
			"Set either node (a machine, POOL/INDEX) or layer and role (a hosted role), not both.")
	case m.Node.IsNull() && !hosted:
		resp.Diagnostics.AddError("Missing target", "Set node (a machine, POOL/INDEX), or layer and role (a role hosted on another layer).")
	case hosted && m.Layer.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("layer"), "Missing layer", "role needs layer: the layer, KIND.NAME, the role belongs to.")
	case hosted && m.Role.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("role"), "Missing role", "layer needs role: the hosted role of the layer to render.")
	}
	if !m.Node.IsNull() {
		if _, _, err := parseNode(m.Node.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("node"), "Invalid node", err.Error())
		}
	}
	if !m.Seed.IsNull() && !m.Seed.IsUnknown() {
		if _, err := secrets.Parse(m.Seed.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("seed"), "Invalid seed", fmt.Sprintf("%v; the seed is 64 hex digits (32 bytes).", err))
		}
	}
}

// parseNode reads POOL/INDEX.
func parseNode(node string) (string, int, error) {
	pool, idx, ok := strings.Cut(node, "/")
	i, err := strconv.Atoi(idx)
	if !ok || pool == "" || err != nil || i < 0 {
		return "", 0, fmt.Errorf("%q is not POOL/INDEX: write the pool's name and the machine's index, e.g. infra/0", node)
	}
	return pool, i, nil
}

func (d *bootstrapDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.client == nil {
		resp.Diagnostics.AddError("Provider not configured", "The strata provider was not configured before the strata_bootstrap data source was read. This is a bug in the provider or Terraform.")
		return
	}
	var m bootstrapModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, s := d.client.loadStack(ctx, m.Path, m.Source, m.Vars, &resp.Diagnostics)
	if s == nil {
		return
	}
	var seed *secrets.Seed
	if !m.Seed.IsNull() {
		var err error
		if seed, err = secrets.Parse(m.Seed.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("seed"), "Invalid seed", err.Error())
			return
		}
	} else {
		var err error
		seed, _, err = cliSeed(s.Name, in.Path)
		if err == nil && seed == nil {
			seed, err = secrets.LoadOrCreate(filepath.Join(".strata", s.Name+".seed"))
		}
		if err != nil {
			resp.Diagnostics.AddError("Cannot keep the stack's secret seed", err.Error())
			return
		}
	}
	known := plan.Addresses{}
	if !m.Addresses.IsNull() {
		resp.Diagnostics.Append(m.Addresses.ElementsAs(ctx, (*map[string]string)(&known), false)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	p := plan.Compile(s, d.client.kinds)
	m.Machine, m.Format, m.UserData = types.StringNull(), types.StringNull(), types.StringNull()
	m.Objects = types.ListNull(objectType())
	if !m.Node.IsNull() {
		pool, idx, err := parseNode(m.Node.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("node"), "Invalid node", err.Error())
			return
		}
		b, err := p.RenderNode(ctx, seed, pool, idx, known)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("node"), "Cannot render the machine's bootstrap", err.Error())
			return
		}
		mc, _ := p.Machine(pool, idx)
		m.ID = types.StringValue(s.Name + "/" + pool + "/" + strconv.Itoa(idx))
		m.Machine, m.Format, m.UserData = types.StringValue(mc.Name), types.StringValue(b.Format), types.StringValue(string(b.UserData))
	} else {
		key, role := m.Layer.ValueString(), m.Role.ValueString()
		if s.Layer(key) == nil {
			var have []string
			for _, l := range s.Layers {
				have = append(have, l.Key())
			}
			resp.Diagnostics.AddAttributeError(path.Root("layer"), "Unknown layer",
				fmt.Sprintf("Stack %q has no layer %q; write KIND.NAME, one of: %s.", s.Name, key, strings.Join(have, ", ")))
			return
		}
		objs, err := p.RenderHosted(ctx, seed, key, role, nil)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("role"), "Cannot render the hosted role", err.Error())
			return
		}
		vals := make([]attr.Value, 0, len(objs))
		for _, o := range objs {
			vals = append(vals, types.ObjectValueMust(objectType().AttrTypes, map[string]attr.Value{
				"format": types.StringValue(o.Format), "kind": types.StringValue(o.Kind),
				"name": types.StringValue(o.Name), "body": types.StringValue(string(o.Body)),
			}))
		}
		m.ID = types.StringValue(s.Name + "/" + key + "/" + role)
		m.Objects = types.ListValueMust(objectType(), vals)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

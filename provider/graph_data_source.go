package provider

import (
	"bytes"
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/stratastack/strata/stacks/graph"
	"github.com/stratastack/strata/stacks/plan"
)

var (
	_ datasource.DataSourceWithConfigure      = (*graphDataSource)(nil)
	_ datasource.DataSourceWithValidateConfig = (*graphDataSource)(nil)
)

// NewGraphDataSource makes the strata_graph data source.
func NewGraphDataSource() datasource.DataSource { return &graphDataSource{} }

type graphDataSource struct{ client *client }

type graphModel struct {
	ID     types.String `tfsdk:"id"`
	Path   types.String `tfsdk:"path"`
	Source types.String `tfsdk:"source"`
	Vars   types.Map    `tfsdk:"vars"`
	DOT    types.String `tfsdk:"dot"`
}

func (d *graphDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_graph"
}

func (d *graphDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A stack as a picture: its substrates, pools with their sizes, layers, the roles placed on pools and the roles hosted on other layers, " +
			"with the stage of the bring-up at which each is made, as a [Graphviz](https://graphviz.org) DOT digraph that reads bottom-up — the same drawing as `strata graph`. " +
			"Write it to a file with the `local_file` resource and render it with `dot -Tsvg`.",
		Attributes: withStackInput(map[string]schema.Attribute{
			"id":  schema.StringAttribute{Computed: true, MarkdownDescription: "The stack's name."},
			"dot": schema.StringAttribute{Computed: true, MarkdownDescription: "The drawing, in Graphviz's DOT language."},
		}),
	}
}

func (d *graphDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	configure(&d.client, req.ProviderData, &resp.Diagnostics)
}

func (d *graphDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var m graphModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if !resp.Diagnostics.HasError() {
		exactlyOne(&resp.Diagnostics, m.Path, m.Source)
	}
}

func (d *graphDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.client == nil {
		resp.Diagnostics.AddError("Provider not configured", "The strata provider was not configured before the strata_graph data source was read. This is a bug in the provider or Terraform.")
		return
	}
	var m graphModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	_, s := d.client.loadStack(ctx, m.Path, m.Source, m.Vars, &resp.Diagnostics)
	if s == nil {
		return
	}
	var b bytes.Buffer
	if err := graph.Write(&b, s, plan.Compile(s, d.client.kinds), graph.Options{}); err != nil {
		resp.Diagnostics.AddError("Cannot draw the stack", err.Error())
		return
	}
	m.ID, m.DOT = types.StringValue(s.Name), types.StringValue(b.String())
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

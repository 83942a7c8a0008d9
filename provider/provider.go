package provider

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/ci"
	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
)

// Address is the provider's registry address.
const Address = "registry.terraform.io/stratastack/strata"

var (
	_ provider.Provider                   = (*StrataProvider)(nil)
	_ provider.ProviderWithValidateConfig = (*StrataProvider)(nil)
)

// StrataProvider is the Terraform provider.
type StrataProvider struct {
	version string
	// open, when set, opens substrates instead of the registry with the
	// resolved settings: tests serve them from memory.
	open func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error)
}

// New returns the provider factory providerserver wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &StrataProvider{version: version}
	}
}

// Metadata names the provider.
func (p *StrataProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "strata"
	resp.Version = p.version
}

// Schema describes the provider block: parallelism, and one block per
// substrate kind with the settings its registry entry declares.
func (p *StrataProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	kinds := p.kinds()
	blocks := map[string]schema.Block{}
	for name, k := range kinds.Substrates {
		attrs := map[string]schema.Attribute{}
		for _, s := range k.Settings {
			doc := s.Doc + s.EnvDoc()
			if s.Bool {
				attrs[s.Name] = schema.BoolAttribute{Optional: true, MarkdownDescription: doc}
			} else {
				attrs[s.Name] = schema.StringAttribute{Optional: true, Sensitive: s.Sensitive, MarkdownDescription: doc}
			}
		}
		blocks[name] = schema.SingleNestedBlock{MarkdownDescription: k.Doc, Attributes: attrs}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Strata brings up **stacks** — machines on a substrate (vSphere, OpenStack, AWS, bare metal) " +
			"and the layers on them (Apache Mesos with Marathon, Kubernetes, OpenStack), in any order — from one HCL stack file. " +
			"Each substrate block is optional and falls back to that ecosystem's usual environment variables; " +
			"credentials are never written in stack files, and provider settings are never stored in Terraform state. " +
			"This version provisions machines on the substrate kinds `" + strings.Join(kinds.Provisioned(), "`, `") + "`; " +
			"stacks using another substrate kind fail at plan time, before anything is made.",
		Attributes: map[string]schema.Attribute{
			"parallelism": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many calls run at once against each substrate (creating, waiting for and deleting machines). Defaults to %d.",
					engine.DefaultParallelism),
			},
		},
		Blocks: blocks,
	}
}

// kinds is the registry the provider serves.
func (p *StrataProvider) kinds() stacks.Kinds { return catalog.Kinds() }

// ValidateConfig checks settings that need no environment.
func (p *StrataProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var n types.Int64
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("parallelism"), &n)...)
	if resp.Diagnostics.HasError() || n.IsNull() || n.IsUnknown() {
		return
	}
	if err := engine.CheckParallelism(n.ValueInt64()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("parallelism"), "Invalid parallelism", err.Error()+".")
	}
}

// Configure resolves the provider block against the environment; it is the
// only place the provider reads environment variables.
func (p *StrataProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	kinds := p.kinds()
	written := map[string]map[string]string{}
	unknown := map[string]bool{}
	for name := range kinds.Substrates {
		var block types.Object
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(name), &block)...)
		written[name], unknown[name] = blockValues(block)
	}
	var n types.Int64
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("parallelism"), &n)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg, problems := resolve(kinds, written, os.Getenv)
	for _, pr := range problems {
		resp.Diagnostics.AddAttributeError(pr.path, pr.summary, pr.detail)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	cfg.unknown = unknown
	c := &client{
		settings:    cfg,
		parallelism: engine.DefaultParallelism,
		kinds:       kinds,
		author:      ci.Author(os.Getenv),
		opener:      p.open,
	}
	if c.opener == nil {
		c.opener = func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
			return kinds.Open(ctx, cfg.env[sub.Kind], sub)
		}
	}
	if !n.IsNull() && !n.IsUnknown() {
		c.parallelism = int(n.ValueInt64())
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

// blockValues reads the values a provider block wrote, by setting name;
// unknown is true when one depends on something Terraform does not know
// yet.
func blockValues(block types.Object) (written map[string]string, unknown bool) {
	written = map[string]string{}
	if block.IsUnknown() {
		return written, true
	}
	for name, v := range block.Attributes() {
		if v.IsUnknown() {
			unknown = true
			continue
		}
		switch v := v.(type) {
		case types.Bool:
			if !v.IsNull() {
				written[name] = strconv.FormatBool(v.ValueBool())
			}
		case types.String:
			if !v.IsNull() {
				written[name] = v.ValueString()
			}
		}
	}
	return written, unknown
}

type configProblem struct {
	path            path.Path
	summary, detail string
}

// resolve fills every setting the blocks did not write from the
// environment (getenv) and reports values that do not parse.
func resolve(kinds stacks.Kinds, written map[string]map[string]string, getenv func(string) string) (settings, []configProblem) {
	out := settings{env: map[string]provisioners.Env{}}
	var problems []configProblem
	for name, k := range kinds.Substrates {
		env, ps := k.Resolve(written[name], getenv)
		out.env[name] = env
		for _, p := range ps {
			problems = append(problems, configProblem{path.Root(name).AtName(p.Attr), p.Summary, p.Detail})
		}
	}
	return out, problems
}

// Resources lists the managed resources.
func (p *StrataProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewStackResource, NewMachineResource}
}

// DataSources lists the data sources.
func (p *StrataProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewBootstrapDataSource, NewGraphDataSource}
}

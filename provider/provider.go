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
	"github.com/stratastack/strata/internal/connect"
	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/openstack"
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
	// open, when set, opens substrates instead of the connect.Config of
	// the resolved settings: tests serve them from memory.
	open func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error)
}

// New returns the provider factory providerserver wants.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &StrataProvider{version: version}
	}
}

type providerModel struct {
	Parallelism types.Int64     `tfsdk:"parallelism"`
	VSphere     *vsphereModel   `tfsdk:"vsphere"`
	OpenStack   *openstackModel `tfsdk:"openstack"`
	AWS         *awsModel       `tfsdk:"aws"`
	BareMetal   *baremetalModel `tfsdk:"baremetal"`
}

type vsphereModel struct {
	Server             types.String `tfsdk:"server"`
	User               types.String `tfsdk:"user"`
	Password           types.String `tfsdk:"password"`
	AllowUnverifiedSSL types.Bool   `tfsdk:"allow_unverified_ssl"`
}

type openstackModel struct {
	Cloud             types.String `tfsdk:"cloud"`
	AuthURL           types.String `tfsdk:"auth_url"`
	UserName          types.String `tfsdk:"user_name"`
	Password          types.String `tfsdk:"password"`
	ProjectName       types.String `tfsdk:"project_name"`
	UserDomainName    types.String `tfsdk:"user_domain_name"`
	ProjectDomainName types.String `tfsdk:"project_domain_name"`
	Region            types.String `tfsdk:"region"`
	Insecure          types.Bool   `tfsdk:"insecure"`
}

type awsModel struct {
	Region  types.String `tfsdk:"region"`
	Profile types.String `tfsdk:"profile"`
}

type baremetalModel struct {
	BootServer types.String `tfsdk:"boot_server"`
	Token      types.String `tfsdk:"token"`
}

// Metadata names the provider.
func (p *StrataProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "strata"
	resp.Version = p.version
}

func envDoc(vars ...string) string {
	quoted := make([]string, len(vars))
	for i, v := range vars {
		quoted[i] = "`" + v + "`"
	}
	return " Defaults to the " + strings.Join(quoted, " or ") + " environment variable."
}

// Schema describes the provider block.
func (p *StrataProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	str := func(doc string, env ...string) schema.StringAttribute {
		if len(env) > 0 {
			doc += envDoc(env...)
		}
		return schema.StringAttribute{Optional: true, MarkdownDescription: doc}
	}
	secret := func(doc string, env ...string) schema.StringAttribute {
		a := str(doc, env...)
		a.Sensitive = true
		return a
	}
	boolean := func(doc string, env ...string) schema.BoolAttribute {
		return schema.BoolAttribute{Optional: true, MarkdownDescription: doc + envDoc(env...)}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Strata brings up **stacks** — machines on a substrate (vSphere, OpenStack, AWS, bare metal) " +
			"and the layers on them (Apache Mesos with Marathon, Kubernetes, OpenStack), in any order — from one HCL stack file. " +
			"Each substrate block is optional and falls back to that ecosystem's usual environment variables; " +
			"credentials are never written in stack files, and provider settings are never stored in Terraform state. This version provisions machines on **vSphere**, **OpenStack** and **bare metal**; " +
			"stacks using another substrate kind fail at plan time, before anything is made.",
		Attributes: map[string]schema.Attribute{
			"parallelism": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many calls run at once against each substrate (creating, waiting for and deleting machines). Defaults to %d.",
					engine.DefaultParallelism),
			},
		},
		Blocks: map[string]schema.Block{
			"vsphere": schema.SingleNestedBlock{
				MarkdownDescription: "vCenter connection. A stack's `substrate \"vsphere\"` block may name its own `server` and `user`; the password always comes from here.",
				Attributes: map[string]schema.Attribute{
					"server":               str("vCenter host name, address or URL.", "VSPHERE_SERVER"),
					"user":                 str("vCenter user name.", "VSPHERE_USER"),
					"password":             secret("vCenter password.", "VSPHERE_PASSWORD"),
					"allow_unverified_ssl": boolean("Accept a self-signed or otherwise unverifiable certificate.", "VSPHERE_ALLOW_UNVERIFIED_SSL"),
				},
			},
			"openstack": schema.SingleNestedBlock{
				MarkdownDescription: "OpenStack credentials (Keystone v3: a password or an application credential). Unset settings come from the `OS_*` environment and clouds.yaml, searched where the OpenStack CLI searches (`OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`, `~/.config/openstack/`, `/etc/openstack/`, with `secure.yaml` beside it); a stack's `substrate \"openstack\"` block that names a `cloud` is reached as that clouds.yaml entry says; its `auth_url` and `region` win over these settings, which win over clouds.yaml.",
				Attributes: map[string]schema.Attribute{
					"cloud":               str("Entry of clouds.yaml to use.", "OS_CLOUD"),
					"auth_url":            str("Keystone URL.", "OS_AUTH_URL"),
					"user_name":           str("User name.", "OS_USERNAME"),
					"password":            secret("Password.", "OS_PASSWORD"),
					"project_name":        str("Project (tenant) name.", "OS_PROJECT_NAME", "OS_TENANT_NAME"),
					"user_domain_name":    str("Domain of the user.", "OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"),
					"project_domain_name": str("Domain of the project.", "OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME"),
					"region":              str("Region.", "OS_REGION_NAME"),
					"insecure":            boolean("Skip TLS verification.", "OS_INSECURE"),
				},
			},
			"aws": schema.SingleNestedBlock{
				MarkdownDescription: "AWS settings; credentials come from the SDK's default chain (environment, shared files, SSO, instance roles). Not used by this provider version yet: stacks on an aws substrate are rejected at plan time.",
				Attributes: map[string]schema.Attribute{
					"region":  str("Region, when a stack's substrate names none.", "AWS_REGION", "AWS_DEFAULT_REGION"),
					"profile": str("Shared configuration profile.", "AWS_PROFILE"),
				},
			},
			"baremetal": schema.SingleNestedBlock{
				MarkdownDescription: "The Strata boot server (`strata boot serve`) that serves bare-metal machines: `strata_machine` registers machines with it, and stacks on a baremetal substrate use its token.",
				Attributes: map[string]schema.Attribute{
					"boot_server": str("Boot server API URL, e.g. `http://10.0.0.2:8080`, that `strata_machine` registers machines with (a stack's baremetal substrate names its own).", "STRATA_BOOT_SERVER"),
					"token":       secret("Boot server API token.", "STRATA_BOOT_TOKEN"),
				},
			},
		},
	}
}

// ValidateConfig checks settings that need no environment.
func (p *StrataProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Parallelism.IsNull() || m.Parallelism.IsUnknown() {
		return
	}
	if err := engine.CheckParallelism(m.Parallelism.ValueInt64()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("parallelism"), "Invalid parallelism", err.Error()+".")
	}
}

// Configure resolves the provider block against the environment; it is the
// only place the provider reads environment variables.
func (p *StrataProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg, problems := resolve(m, os.Getenv)
	for _, pr := range problems {
		resp.Diagnostics.AddAttributeError(pr.path, pr.summary, pr.detail)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	c := &client{
		settings:    cfg,
		parallelism: engine.DefaultParallelism,
		kinds:       catalog.Kinds(),
		opener:      p.open,
	}
	if c.opener == nil {
		c.opener = cfg.connectConfig().Open
	}
	if !m.Parallelism.IsNull() && !m.Parallelism.IsUnknown() {
		c.parallelism = int(m.Parallelism.ValueInt64())
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

type configProblem struct {
	path            path.Path
	summary, detail string
}

// resolve fills every unset setting from the environment (getenv) and
// reports values that do not parse.
func resolve(m providerModel, getenv func(string) string) (settings, []configProblem) {
	var out settings
	var problems []configProblem
	str := func(v types.String, unknown *bool, env ...string) string {
		if v.IsUnknown() {
			*unknown = true
			return ""
		}
		if !v.IsNull() {
			return v.ValueString()
		}
		for _, e := range env {
			if s := getenv(e); s != "" {
				return s
			}
		}
		return ""
	}
	boolean := func(v types.Bool, at path.Path, unknown *bool, env string) bool {
		if v.IsUnknown() {
			*unknown = true
			return false
		}
		if !v.IsNull() {
			return v.ValueBool()
		}
		s := getenv(env)
		if s == "" {
			return false
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			problems = append(problems, configProblem{at, "Invalid " + env,
				fmt.Sprintf("%s=%q is not a boolean: write true or false (or 1 or 0).", env, s)})
		}
		return b
	}

	vs := m.VSphere
	if vs == nil {
		vs = &vsphereModel{}
	}
	v := &out.VSphere
	v.Server = str(vs.Server, &v.Unknown, "VSPHERE_SERVER")
	v.User = str(vs.User, &v.Unknown, "VSPHERE_USER")
	v.Password = str(vs.Password, &v.Unknown, "VSPHERE_PASSWORD")
	v.Insecure = boolean(vs.AllowUnverifiedSSL, path.Root("vsphere").AtName("allow_unverified_ssl"), &v.Unknown, "VSPHERE_ALLOW_UNVERIFIED_SSL")

	osm := m.OpenStack
	if osm == nil {
		osm = &openstackModel{}
	}
	o := &out.OpenStack
	// The OS_* variables and clouds.yaml locations as the OpenStack CLI
	// reads them; what the block sets wins.
	o.Config = openstack.ConfigFromEnv(getenv)
	over := func(v types.String, dst *string) {
		if s := str(v, &o.Unknown); s != "" {
			*dst = s
		}
	}
	over(osm.Cloud, &o.Cloud)
	over(osm.AuthURL, &o.AuthURL)
	over(osm.UserName, &o.Username)
	over(osm.Password, &o.Password)
	over(osm.ProjectName, &o.ProjectName)
	over(osm.UserDomainName, &o.UserDomainName)
	over(osm.ProjectDomainName, &o.ProjectDomainName)
	over(osm.Region, &o.Region)
	o.Insecure = boolean(osm.Insecure, path.Root("openstack").AtName("insecure"), &o.Unknown, "OS_INSECURE")

	am := m.AWS
	if am == nil {
		am = &awsModel{}
	}
	a := &out.AWS
	a.Region = str(am.Region, &a.Unknown, "AWS_REGION", "AWS_DEFAULT_REGION")
	a.Profile = str(am.Profile, &a.Unknown, "AWS_PROFILE")

	bm := m.BareMetal
	if bm == nil {
		bm = &baremetalModel{}
	}
	b := &out.BareMetal
	b.BootServer = str(bm.BootServer, &b.Unknown, "STRATA_BOOT_SERVER")
	b.Token = str(bm.Token, &b.Unknown, "STRATA_BOOT_TOKEN")
	out.bmcPasswords = connect.BMCPasswords(getenv)
	return out, problems
}

// Resources lists the managed resources.
func (p *StrataProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewStackResource, NewMachineResource}
}

// DataSources lists the data sources.
func (p *StrataProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewBootstrapDataSource}
}

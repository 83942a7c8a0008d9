package provider

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/plan"
)

var (
	_ resource.ResourceWithConfigure      = (*stackResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*stackResource)(nil)
	_ resource.ResourceWithImportState    = (*stackResource)(nil)
	_ resource.ResourceWithValidateConfig = (*stackResource)(nil)
)

// NewStackResource makes the strata_stack resource.
func NewStackResource() resource.Resource { return &stackResource{} }

type stackResource struct{ client *client }

type stackModel struct {
	ID       types.String `tfsdk:"id"`
	Path     types.String `tfsdk:"path"`
	Source   types.String `tfsdk:"source"`
	Vars     types.Map    `tfsdk:"vars"`
	Expires  types.String `tfsdk:"expires_at"`
	Name     types.String `tfsdk:"name"`
	Machines types.Map    `tfsdk:"machines"`
	Layers   types.List   `tfsdk:"layers"`
	Hosted   types.List   `tfsdk:"hosted"`
}

type machineModel struct {
	Pool        types.String `tfsdk:"pool"`
	Index       types.Int64  `tfsdk:"index"`
	Layer       types.String `tfsdk:"layer"`
	Role        types.String `tfsdk:"role"`
	Substrate   types.String `tfsdk:"substrate"`
	SubstrateID types.String `tfsdk:"substrate_id"`
	Addresses   types.List   `tfsdk:"addresses"`
	State       types.String `tfsdk:"state"`
}

type layerModel struct {
	Kind    types.String `tfsdk:"kind"`
	Name    types.String `tfsdk:"name"`
	Version types.String `tfsdk:"version"`
}

func machineType() types.ObjectType {
	return types.ObjectType{AttrTypes: map[string]attr.Type{
		"pool":         types.StringType,
		"index":        types.Int64Type,
		"layer":        types.StringType,
		"role":         types.StringType,
		"substrate":    types.StringType,
		"substrate_id": types.StringType,
		"addresses":    types.ListType{ElemType: types.StringType},
		"state":        types.StringType,
	}}
}

func layerType() types.ObjectType {
	return types.ObjectType{AttrTypes: map[string]attr.Type{
		"kind":    types.StringType,
		"name":    types.StringType,
		"version": types.StringType,
	}}
}

func (r *stackResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_stack"
}

func (r *stackResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A Strata stack brought up on its substrates: every machine of every pool, each with its layer role's bootstrap. " +
			"`terraform plan` shows, machine by machine, what will be created, replaced or removed; scaling a pool changes only the difference. " +
			"Every machine is tagged with its stack, pool and index, so an apply that was interrupted is finished by the next one, which adopts what exists " +
			"instead of duplicating it, and destroy removes everything carrying the stack's tag.\n\n" +
			"The stack's join secrets (ZooKeeper, Mesos and Kubernetes tokens and keys) derive from a per-stack seed generated at create and kept in the resource's private state, never in attributes. " +
			"When `.strata/STACK.seed` (the `strata` CLI's seed file) exists in the working directory or beside the stack, it is used instead, so a stack brought up with `strata up` keeps its secrets when Terraform takes it over.\n\n" +
			"Plans fail, before anything is made, for what cannot be applied: an invalid stack (each diagnostic names the stack file, line and column), " +
			"a substrate kind this provider version does not provision, a substrate that refuses the credentials or lacks the datacenter, template, datastore or network the stack names, " +
			"and roles hosted on another layer (render those with the `strata_bootstrap` data source). " +
			"When an apply fails halfway, every machine it made is recorded in state. A failed update is finished by the next apply. " +
			"A failed create leaves the resource tainted, so the next apply replaces the whole stack; run `terraform untaint` first to keep the machines, and the next apply adopts them and makes only the rest.\n\n" +
			"Progress (each machine created, ready, adopted or deleted, and retries of transient errors) is logged at INFO level: set `TF_LOG_PROVIDER=INFO` to watch it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The stack's name.",
			},
			"path": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "A stack file (`.strata.hcl`, or `.strata.json` for JSON syntax) or a folder of them. Exactly one of `path` and `source` is set.",
			},
			"source": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The stack inline, in HCL (or JSON) syntax; diagnostics name it `source.strata.hcl`. Exactly one of `path` and `source` is set.",
			},
			"vars": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Values for the stack's variables, as `strata -var NAME=VALUE` takes them: a string variable takes the value literally; " +
					"any other type parses it as an expression (`\"5\"`, `\"true\"`, `\"[\\\"a\\\", \\\"b\\\"]\"`).",
			},
			"expires_at": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "When the stack is no longer wanted, RFC 3339 (e.g. from the `time_offset` resource of the `hashicorp/time` provider): " +
					"every machine carries it in its `strata:expires` tag, so that `strata down -expired` removes the stack from its substrates after a CI job that died never ran `terraform destroy`. " +
					"Changing it re-tags the machines; machines also carry `strata:created-by`, the CI job's URL (GitHub Actions, GitLab CI, Jenkins, Buildkite) or user@host.",
			},
			"name": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The stack's name (its `stack { name }`), which every machine carries in its `strata:stack` tag. Renaming a stack replaces it.",
			},
			"machines": schema.MapNestedAttribute{
				Computed: true,
				MarkdownDescription: "Every machine of the stack, by name (`STACK-POOL-INDEX`). Machines found with the stack's tag that the stack no longer plans " +
					"appear with state `unplanned` until the next apply removes them.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"pool":         schema.StringAttribute{Computed: true, MarkdownDescription: "The pool the machine belongs to."},
					"index":        schema.Int64Attribute{Computed: true, MarkdownDescription: "The machine's index in its pool."},
					"layer":        schema.StringAttribute{Computed: true, MarkdownDescription: "The layer (`KIND.NAME`) whose role the machine carries; null for a machine without a role."},
					"role":         schema.StringAttribute{Computed: true, MarkdownDescription: "The layer role the machine carries (e.g. `master`, `agent`)."},
					"substrate":    schema.StringAttribute{Computed: true, MarkdownDescription: "Where the machine comes from: `substrate.KIND.NAME`."},
					"substrate_id": schema.StringAttribute{Computed: true, MarkdownDescription: "The substrate's own id for the machine (a vSphere managed object id, an EC2 instance id, ...)."},
					"addresses":    schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "The machine's IP addresses, first the one its peers use."},
					"state":        schema.StringAttribute{Computed: true, MarkdownDescription: "`pending`, `running`, `stopped`, `error`, or `unplanned` for a machine the stack no longer wants."},
				}},
			},
			"hosted": hostedSchema(),
			"layers": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The stack's layers, in declaration order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"kind":    schema.StringAttribute{Computed: true, MarkdownDescription: "`mesos`, `kubernetes` or `openstack`."},
					"name":    schema.StringAttribute{Computed: true, MarkdownDescription: "The layer's name."},
					"version": schema.StringAttribute{Computed: true, MarkdownDescription: "The version the layer runs."},
				}},
			},
		},
	}
}

func (r *stackResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	configure(&r.client, req.ProviderData, &resp.Diagnostics)
}

func (r *stackResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m stackModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	exactlyOne(&resp.Diagnostics, m.Path, m.Source)
	if _, err := expiresAt(m.Expires); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("expires_at"), "Invalid expires_at", err.Error())
	}
}

// expiresAt parses expires_at; null or unknown is no expiry (yet).
func expiresAt(v types.String) (time.Time, error) {
	if v.IsNull() || v.IsUnknown() {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v.ValueString())
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time, such as 2026-12-07T18:00:00Z", v.ValueString())
	}
	return t, nil
}

// exactlyOne reports a configuration that sets both or neither of path
// and source; unknown values are judged at plan time.
func exactlyOne(diags *diag.Diagnostics, p, src types.String) {
	if p.IsUnknown() || src.IsUnknown() {
		return
	}
	switch {
	case !p.IsNull() && !src.IsNull():
		diags.AddAttributeError(path.Root("source"), "Conflicting stack sources",
			"Set either path (a stack file or folder) or source (inline HCL), not both.")
	case p.IsNull() && src.IsNull():
		diags.AddError("Missing stack", "Set path (a stack file or folder) or source (inline HCL).")
	case !p.IsNull() && p.ValueString() == "":
		diags.AddAttributeError(path.Root("path"), "Empty path", "path must name a stack file or folder.")
	case !src.IsNull() && strings.TrimSpace(src.ValueString()) == "":
		diags.AddAttributeError(path.Root("source"), "Empty source", "source must hold a stack.")
	}
}

func (r *stackResource) notConfigured(diags *diag.Diagnostics) bool {
	if r.client == nil {
		diags.AddError("Provider not configured", "The strata provider was not configured before the strata_stack resource was used. This is a bug in the provider or Terraform.")
		return true
	}
	return false
}

// ModifyPlan compiles the stack so the plan shows, machine by machine, what
// the apply will create, replace and remove, and fails at plan time for a
// stack the provider cannot apply.
func (r *stackResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return // destroy, or validation before the provider is configured
	}
	var planned stackModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &planned)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var prior *stackModel
	if !req.State.Raw.IsNull() {
		prior = &stackModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, prior)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	in, known, diags := inputFrom(ctx, planned.Path, planned.Source, planned.Vars)
	resp.Diagnostics.Append(diags...)
	if !known {
		planned.ID, planned.Name = types.StringUnknown(), types.StringUnknown()
		planned.Machines = types.MapUnknown(machineType())
		planned.Layers = types.ListUnknown(layerType())
		planned.Hosted = types.ListUnknown(hostedType())
		resp.Diagnostics.Append(resp.Plan.Set(ctx, planned)...)
		return
	}
	s, diags := in.load(r.client.kinds)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := r.compile(ctx, in, s, true, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	existing := map[string]machineModel{}
	var existingHosted []hostedModel
	if prior != nil {
		if !prior.Name.IsNull() && !prior.Name.IsUnknown() && prior.Name.ValueString() != s.Name {
			// Tags carry the name: a renamed stack is a new stack.
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("name"))
		} else {
			resp.Diagnostics.Append(machinesOf(ctx, prior.Machines, existing)...)
			hs, d := hostedOf(ctx, prior.Hosted)
			resp.Diagnostics.Append(d...)
			existingHosted = hs
		}
	}
	want := make(map[string]machineModel, len(p.Machines))
	for _, m := range p.Machines {
		want[m.Name] = plannedMachine(m, existing)
	}
	resp.Diagnostics.Append(planned.record(ctx, p, want, plannedHosted(p, existingHosted))...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, planned)...)

	if prior != nil && len(resp.RequiresReplace) == 0 {
		add, change, remove := 0, 0, 0
		for name, m := range want {
			if old, ok := existing[name]; !ok {
				add++
			} else if !old.SubstrateID.Equal(m.SubstrateID) {
				change++
			}
		}
		for name := range existing {
			if _, ok := want[name]; !ok {
				remove++
			}
		}
		tflog.Info(ctx, fmt.Sprintf("stack %s: %d machines to create, %d to replace, %d to remove", s.Name, add, change, remove))
	}
}

// plannedMachine is what the plan says of machine m: the machine as it
// stands when it exists and keeps its place, otherwise a new one whose
// id, addresses and state are known only after apply.
func plannedMachine(m plan.Machine, existing map[string]machineModel) machineModel {
	want := machineModel{
		Pool:        types.StringValue(m.Pool),
		Index:       types.Int64Value(int64(m.Index)),
		Layer:       optString(m.Layer),
		Role:        optString(m.Role),
		Substrate:   types.StringValue(m.Substrate),
		SubstrateID: types.StringUnknown(),
		Addresses:   types.ListUnknown(types.StringType),
		State:       types.StringUnknown(),
	}
	old, ok := existing[m.Name]
	if !ok || !old.Layer.Equal(want.Layer) || !old.Role.Equal(want.Role) || !old.Substrate.Equal(want.Substrate) ||
		old.SubstrateID.IsNull() || old.State.ValueString() == stateUnplanned {
		return want // new, or replaced: the engine deletes a machine whose role or substrate changed
	}
	want.SubstrateID = old.SubstrateID
	if old.State.ValueString() == provisioners.StateRunning {
		// The apply waits for each machine again; a running machine comes
		// back as it is (Ready returned it running, with every address it
		// will have: none for an OpenStack server on networks "none").
		want.Addresses, want.State = old.Addresses, old.State
	}
	return want
}

// stateUnplanned marks a machine found with the stack's tag that the stack
// does not plan.
const stateUnplanned = "unplanned"

func optString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// machinesOf copies a machines map into into.
func machinesOf(ctx context.Context, v types.Map, into map[string]machineModel) diag.Diagnostics {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	var got map[string]machineModel
	diags := v.ElementsAs(ctx, &got, false)
	for k, m := range got {
		into[k] = m
	}
	return diags
}

// record sets the stack's name, id, machines, hosted roles and layers from
// plan p, machines and hosted.
func (m *stackModel) record(ctx context.Context, p *plan.Plan, machines map[string]machineModel, hosted []hostedModel) diag.Diagnostics {
	name := types.StringValue(p.Stack)
	m.Name, m.ID = name, name
	var diags, d diag.Diagnostics
	m.Machines, d = types.MapValueFrom(ctx, machineType(), machines)
	diags.Append(d...)
	if hosted == nil {
		hosted = []hostedModel{}
	}
	m.Hosted, d = types.ListValueFrom(ctx, hostedType(), hosted)
	diags.Append(d...)
	m.Layers, d = layersValue(ctx, p)
	diags.Append(d...)
	return diags
}

func layersValue(ctx context.Context, p *plan.Plan) (types.List, diag.Diagnostics) {
	ls := make([]layerModel, 0, len(p.Layers))
	for _, l := range p.Layers {
		ls = append(ls, layerModel{Kind: types.StringValue(l.Kind), Name: types.StringValue(l.Name), Version: types.StringValue(l.Version)})
	}
	return types.ListValueFrom(ctx, layerType(), ls)
}

// machineFrom records a machine as the engine found it.
func machineFrom(m engine.Machine) machineModel {
	addrs := make([]attr.Value, 0, len(m.Addresses))
	for _, a := range m.Addresses {
		addrs = append(addrs, types.StringValue(a))
	}
	return machineModel{
		Pool:        types.StringValue(m.Pool),
		Index:       types.Int64Value(int64(m.Index)),
		Layer:       optString(m.Layer),
		Role:        optString(m.Role),
		Substrate:   types.StringValue(m.Substrate),
		SubstrateID: optString(m.ID),
		Addresses:   types.ListValueMust(types.StringType, addrs),
		State:       types.StringValue(m.State),
	}
}

// orphanMachine records a machine that carries the stack's tag but is not
// planned; its pool and index come from its name (STACK-POOL-INDEX).
func orphanMachine(stack, name string) machineModel {
	m := machineModel{
		Pool: types.StringNull(), Index: types.Int64Null(), Layer: types.StringNull(), Role: types.StringNull(),
		Substrate: types.StringNull(), SubstrateID: types.StringNull(),
		Addresses: types.ListValueMust(types.StringType, nil), State: types.StringValue(stateUnplanned),
	}
	rest, ok := strings.CutPrefix(name, stack+"-")
	if i := strings.LastIndex(rest, "-"); ok && i > 0 {
		if n, err := strconv.Atoi(rest[i+1:]); err == nil {
			m.Pool, m.Index = types.StringValue(rest[:i]), types.Int64Value(int64(n))
		}
	}
	return m
}

// settleAll settles every machine of an apply's result (see settle).
func settleAll(got []engine.Machine, planned map[string]machineModel) map[string]machineModel {
	out := make(map[string]machineModel, len(got))
	for _, mc := range got {
		out[mc.Name] = settle(mc, planned)
	}
	return out
}

// settle is the state of machine got after an apply whose plan said
// planned: values the plan knew stand (Terraform holds the provider to
// them; the next refresh updates them), the rest come from the apply.
// A machine whose id changed under the plan is recorded as it is.
func settle(got engine.Machine, planned map[string]machineModel) machineModel {
	out := machineFrom(got)
	p, ok := planned[got.Name]
	if !ok || p.SubstrateID.IsUnknown() || p.SubstrateID.ValueString() != got.ID {
		return out
	}
	if !p.Addresses.IsUnknown() {
		out.Addresses = p.Addresses
	}
	if !p.State.IsUnknown() {
		out.State = p.State
	}
	return out
}

// compile returns the plan of stack s (loaded from in) and adds to diags,
// on in's attribute, everything that would stop an apply of it; probe
// opens its substrates too (see preflight).
func (r *stackResource) compile(ctx context.Context, in stackInput, s *stacks.Stack, probe bool, diags *diag.Diagnostics) *plan.Plan {
	p := plan.Compile(s, r.client.kinds)
	for _, pr := range r.client.preflight(ctx, p, probe) {
		detail := pr.detail
		if pr.at != nil {
			detail = position(&pr.at.Range) + ": " + detail
		}
		diags.AddAttributeError(in.attr(), pr.summary, detail)
	}
	return p
}

// seedFor returns the seed for a stack that has none in state yet: the
// CLI's seed file when there is one, else a new seed.
func seedFor(s *stacks.Stack, in stackInput) (seed *secrets.Seed, file string, diags diag.Diagnostics) {
	seed, file, err := cliSeed(s.Name, in.Path)
	if err != nil {
		diags.AddError("Cannot read the stack's secret seed", err.Error())
		return nil, "", diags
	}
	if seed != nil {
		return seed, file, nil
	}
	seed, err = secrets.Generate()
	if err != nil {
		diags.AddError("Cannot generate the stack's secret seed", err.Error())
	}
	return seed, "", diags
}

// secretsOf is seed as the engine takes it: a nil *Seed must not become a
// non-nil interface that derives from nothing.
func secretsOf(seed *secrets.Seed) layers.Secrets {
	if seed == nil {
		return nil
	}
	return seed
}

// stored is what the private state holds for a stack.
type stored struct {
	seed *secrets.Seed
	snap *snapshot
}

func readPrivate(ctx context.Context, p privateGetter) (stored, diag.Diagnostics) {
	var out stored
	var diags diag.Diagnostics
	var hex string
	ok, d := getPrivate(ctx, p, privateSeed, &hex)
	diags.Append(d...)
	if ok {
		s, err := secrets.Parse(hex)
		if err != nil {
			diags.AddError("Corrupt private state", "The stack's secret seed in private state does not parse: "+err.Error())
		}
		out.seed = s
	}
	var snap snapshot
	ok, d = getPrivate(ctx, p, privateStack, &snap)
	diags.Append(d...)
	if ok {
		out.snap = &snap
	}
	return out, diags
}

func writePrivate(ctx context.Context, p privateSetter, seed *secrets.Seed, snap snapshot) diag.Diagnostics {
	var diags diag.Diagnostics
	if seed != nil {
		diags.Append(setPrivate(ctx, p, privateSeed, seed.Hex())...)
	}
	diags.Append(setPrivate(ctx, p, privateStack, snap)...)
	return diags
}

// applyStack brings the stack up, its machines marked with m's expiry and
// this run's author, and returns what the engine reports plus the number
// of machines it adopted rather than created.
func (r *stackResource) applyStack(ctx context.Context, p *plan.Plan, m stackModel, seed *secrets.Seed) (*engine.Result, int, error) {
	expires, err := expiresAt(m.Expires)
	if err != nil {
		return nil, 0, err
	}
	p.Mark = provisioners.Mark{Expires: expires, CreatedBy: r.client.author}
	var adopted atomic.Int64
	e := r.client.engine(ctx, len(p.Machines), func(ev engine.Event) {
		if ev.Action == engine.ActionAdopt {
			adopted.Add(1)
		}
	})
	res, err := e.Apply(ctx, p, seed)
	return res, int(adopted.Load()), err
}

func (r *stackResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if r.notConfigured(&resp.Diagnostics) {
		return
	}
	var m stackModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, s := r.client.loadStack(ctx, m.Path, m.Source, m.Vars, &resp.Diagnostics)
	if s == nil {
		return
	}
	p := r.compile(ctx, in, s, false, &resp.Diagnostics)
	seed, seedFile, diags := seedFor(s, in)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if seedFile != "" {
		tflog.Info(ctx, "using the stack's secret seed from "+seedFile)
	}
	planned := map[string]machineModel{}
	resp.Diagnostics.Append(machinesOf(ctx, m.Machines, planned)...)

	res, adopted, err := r.applyStack(ctx, p, m, seed)
	if err != nil && (res == nil || len(res.Machines) == 0) {
		resp.Diagnostics.AddAttributeError(in.attr(), "Cannot bring the stack up", fmt.Sprintf("%v\n\nNo machine of stack %q was made.", err, s.Name))
		return
	}
	if adopted > 0 && seedFile == "" {
		resp.Diagnostics.AddWarning("Adopted machines made elsewhere",
			fmt.Sprintf("%d machines of stack %q already existed and were adopted by their tags. No secret seed was found for them (looked for %s), so machines made from now on get new join secrets that the adopted ones do not share. If they came from `strata up`, put its seed file there and replace this resource.",
				adopted, s.Name, strings.Join(seedFiles(s.Name, in.Path), ", ")))
	}
	got := settleAll(res.Machines, planned)
	plannedH, d := hostedOf(ctx, m.Hosted)
	resp.Diagnostics.Append(d...)
	resp.Diagnostics.Append(m.record(ctx, p, got, settleHosted(p, res.Hosted, plannedH))...)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
	resp.Diagnostics.Append(writePrivate(ctx, resp.Private, seed, takeSnapshot(s, in))...)
	if err != nil {
		resp.Diagnostics.AddAttributeError(in.attr(), "Stack only partly brought up",
			fmt.Sprintf("%v\n\n%d of %d machines of stack %q exist and are recorded in state. Terraform marks the stack tainted, so the next apply replaces it; to keep these machines instead, run `terraform untaint` on this resource: the next apply then adopts them and makes only the rest.",
				err, len(res.Machines), len(p.Machines), s.Name))
	}
}

func (r *stackResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if r.notConfigured(&resp.Diagnostics) {
		return
	}
	var m, prior stackModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in, s := r.client.loadStack(ctx, m.Path, m.Source, m.Vars, &resp.Diagnostics)
	if s == nil {
		return
	}
	p := r.compile(ctx, in, s, false, &resp.Diagnostics)
	st, diags := readPrivate(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	seed := st.seed
	if seed == nil {
		var file string
		seed, file, diags = seedFor(s, in)
		resp.Diagnostics.Append(diags...)
		if resp.Diagnostics.HasError() {
			return
		}
		if file == "" {
			resp.Diagnostics.AddWarning("New secret seed",
				fmt.Sprintf("The state holds no secret seed for stack %q and none was found in %s, so a new one was generated: machines made from now on get join secrets the existing machines do not share.",
					s.Name, strings.Join(seedFiles(s.Name, in.Path), ", ")))
		}
	}
	planned := map[string]machineModel{}
	resp.Diagnostics.Append(machinesOf(ctx, m.Machines, planned)...)
	before := map[string]machineModel{}
	resp.Diagnostics.Append(machinesOf(ctx, prior.Machines, before)...)

	res, _, err := r.applyStack(ctx, p, m, seed)
	if res == nil {
		// Nothing was touched: the engine stops before it acts.
		resp.Diagnostics.Append(resp.State.Set(ctx, prior)...)
		resp.Diagnostics.AddAttributeError(in.attr(), "Cannot apply the stack", fmt.Sprintf("%v\n\nNo machine was created or removed.", err))
		return
	}
	got := settleAll(res.Machines, planned)
	if err != nil {
		// Keep what the failed apply did not get to remove: nothing that
		// exists goes untracked.
		removed := map[string]bool{}
		for _, n := range res.Removed {
			removed[n] = true
		}
		for name, old := range before {
			if _, ok := got[name]; !ok && !removed[name] {
				if _, wanted := planned[name]; !wanted {
					got[name] = old
				}
			}
		}
	}
	plannedH, d := hostedOf(ctx, m.Hosted)
	resp.Diagnostics.Append(d...)
	resp.Diagnostics.Append(m.record(ctx, p, got, settleHosted(p, res.Hosted, plannedH))...)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
	resp.Diagnostics.Append(writePrivate(ctx, resp.Private, seed, takeSnapshot(s, in))...)
	if err != nil {
		resp.Diagnostics.AddAttributeError(in.attr(), "Stack only partly applied",
			fmt.Sprintf("%v\n\nThe machines that exist are recorded in state; the next apply adopts them and finishes the rest.", err))
	}
}

// current reads the resource's state and returns it with the stack as
// last applied (from private state), or as the state's path, source and
// vars give it, and the stack's seed (nil if private state has none). The
// stack is nil when diags hold an error.
func (r *stackResource) current(ctx context.Context, state tfsdk.State, private privateGetter, diags *diag.Diagnostics) (stackModel, *stacks.Stack, *secrets.Seed) {
	var m stackModel
	diags.Append(state.Get(ctx, &m)...)
	st, d := readPrivate(ctx, private)
	diags.Append(d...)
	if diags.HasError() {
		return m, nil, nil
	}
	if st.snap != nil {
		s, err := st.snap.load(r.client.kinds)
		if err == nil {
			return m, s, st.seed
		}
		tflog.Warn(ctx, err.Error()+"; loading the stack from its configuration")
	}
	_, s := r.client.loadStack(ctx, m.Path, m.Source, m.Vars, diags)
	return m, s, st.seed
}

func (r *stackResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if r.notConfigured(&resp.Diagnostics) {
		return
	}
	m, s, seed := r.current(ctx, req.State, req.Private, &resp.Diagnostics)
	if s == nil {
		return
	}
	p := plan.Compile(s, r.client.kinds)
	e := r.client.engine(ctx, 0, nil)
	res, err := e.Status(ctx, p, secretsOf(seed))
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the stack's machines", fmt.Sprintf("stack %q: %v", s.Name, err))
		return
	}
	got := map[string]machineModel{}
	for _, mc := range res.Machines {
		if mc.State != engine.StateAbsent {
			got[mc.Name] = machineFrom(mc)
		}
	}
	for _, name := range res.Orphans {
		got[name] = orphanMachine(s.Name, name)
	}
	if len(res.Orphans) > 0 {
		tflog.Warn(ctx, fmt.Sprintf("stack %s: %d machines carry the stack's tag but are not planned; the next apply removes them: %s",
			s.Name, len(res.Orphans), strings.Join(res.Orphans, ", ")))
	}
	if len(res.OrphanObjects) > 0 {
		tflog.Warn(ctx, fmt.Sprintf("stack %s: %d hosted objects carry the stack's labels but are not planned; the next apply removes them: %s",
			s.Name, len(res.OrphanObjects), strings.Join(res.OrphanObjects, ", ")))
	}
	resp.Diagnostics.Append(m.record(ctx, p, got, hostedStatus(res.Hosted))...)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *stackResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if r.notConfigured(&resp.Diagnostics) {
		return
	}
	_, s, seed := r.current(ctx, req.State, req.Private, &resp.Diagnostics)
	if s == nil {
		return
	}
	e := r.client.engine(ctx, 0, nil)
	res, err := e.Destroy(ctx, plan.Compile(s, r.client.kinds), secretsOf(seed))
	if err != nil {
		removed := 0
		if res != nil {
			removed = len(res.Removed)
		}
		resp.Diagnostics.AddError("Cannot destroy the stack",
			fmt.Sprintf("stack %q: %v\n\n%d machines were removed; the stack stays in state so destroy can be run again.", s.Name, err, removed))
		return
	}
	tflog.Info(ctx, fmt.Sprintf("stack %s: removed %d machines and %d hosted objects", s.Name, len(res.Removed), len(res.RemovedObjects)))
}

// ImportState adopts a running stack. The id is the stack's path, and may
// carry variable values as a query: PATH?agents=5&env=prod.
func (r *stackResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if r.notConfigured(&resp.Diagnostics) {
		return
	}
	in, err := parseImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	s, diags := in.load(r.client.kinds)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	seed, file, diags := seedFor(s, in)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if file == "" {
		resp.Diagnostics.AddWarning("New secret seed for an adopted stack",
			fmt.Sprintf("No secret seed was found for stack %q (looked for %s), so a new one was generated: machines made from now on get join secrets the adopted machines do not share. Put the seed file of the tool that made the stack there and import again to keep them.",
				s.Name, strings.Join(seedFiles(s.Name, in.Path), ", ")))
	} else {
		tflog.Info(ctx, "using the stack's secret seed from "+file)
	}
	m := stackModel{
		ID: types.StringValue(s.Name), Path: types.StringValue(in.Path), Source: types.StringNull(),
		Vars: types.MapNull(types.StringType), Name: types.StringValue(s.Name),
		Machines: types.MapNull(machineType()), Layers: types.ListNull(layerType()), Hosted: types.ListNull(hostedType()),
	}
	if len(in.Vars) > 0 {
		m.Vars, diags = types.MapValueFrom(ctx, types.StringType, in.Vars)
		resp.Diagnostics.Append(diags...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
	resp.Diagnostics.Append(writePrivate(ctx, resp.Private, seed, takeSnapshot(s, in))...)
}

// parseImportID splits PATH[?NAME=VALUE&...]. An id that names an existing
// file or folder as a whole is a path, even with a "?" in it.
func parseImportID(id string) (stackInput, error) {
	if id == "" {
		return stackInput{}, fmt.Errorf("the import id is the stack's path (a file or folder), optionally with variables: PATH?NAME=VALUE&NAME=VALUE")
	}
	if _, err := os.Stat(id); err == nil {
		return stackInput{Path: id}, nil
	}
	p, query, ok := cutLast(id, "?")
	if !ok {
		return stackInput{Path: id}, nil
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return stackInput{}, fmt.Errorf("import id %q: the variables after \"?\" do not parse (write NAME=VALUE&NAME=VALUE, URL-escaped): %v", id, err)
	}
	in := stackInput{Path: p, Vars: map[string]string{}}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		vs := values[n]
		if len(vs) != 1 {
			return stackInput{}, fmt.Errorf("import id %q: variable %q is given %d times", id, n, len(vs))
		}
		in.Vars[n] = vs[0]
	}
	return in, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

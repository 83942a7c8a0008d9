package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/stratastack/strata/provisioners/baremetal"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/web"
)

var (
	_ resource.ResourceWithConfigure      = (*machineResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*machineResource)(nil)
	_ resource.ResourceWithImportState    = (*machineResource)(nil)
	_ resource.ResourceWithValidateConfig = (*machineResource)(nil)
)

// NewMachineResource makes the strata_machine resource.
func NewMachineResource() resource.Resource { return &machineResource{} }

type machineResource struct{ client *client }

type machineResourceModel struct {
	ID                   types.String `tfsdk:"id"`
	Name                 types.String `tfsdk:"name"`
	MAC                  types.String `tfsdk:"mac"`
	IP                   types.String `tfsdk:"ip"`
	Labels               types.Map    `tfsdk:"labels"`
	BMC                  types.String `tfsdk:"bmc"`
	BMCUser              types.String `tfsdk:"bmc_user"`
	BMCPasswordWO        types.String `tfsdk:"bmc_password_wo"`
	BMCPasswordWOVersion types.Int64  `tfsdk:"bmc_password_wo_version"`
	BMCPasswordEnv       types.String `tfsdk:"bmc_password_env"`
	Profile              types.Object `tfsdk:"profile"`
	ProfileName          types.String `tfsdk:"profile_name"`
	PowerOn              types.Bool   `tfsdk:"power_on"`
	PowerOffOnDestroy    types.Bool   `tfsdk:"power_off_on_destroy"`
	WaitForReady         types.Bool   `tfsdk:"wait_for_ready"`
	Timeouts             types.Object `tfsdk:"timeouts"`
	State                types.String `tfsdk:"state"`
	Address              types.String `tfsdk:"address"`
}

type machineProfileModel struct {
	Kernel   types.String `tfsdk:"kernel"`
	Initrd   types.List   `tfsdk:"initrd"`
	Cmdline  types.String `tfsdk:"cmdline"`
	UserData types.String `tfsdk:"user_data"`
}

func machineProfileType() types.ObjectType {
	return types.ObjectType{AttrTypes: map[string]attr.Type{
		"kernel":    types.StringType,
		"initrd":    types.ListType{ElemType: types.StringType},
		"cmdline":   types.StringType,
		"user_data": types.StringType,
	}}
}

func (r *machineResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_machine"
}

func (r *machineResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	str := func(doc string, validators ...validator.String) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: doc, Validators: validators}
	}
	computed := func(doc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: doc}
	}
	flag := func(doc string, def bool) schema.BoolAttribute {
		return schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(def),
			MarkdownDescription: fmt.Sprintf("%s Defaults to `%t`.", doc, def)}
	}
	duration := func(doc string) schema.StringAttribute {
		return str(doc+fmt.Sprintf(" A Go duration (`90s`, `20m`, `1h`). Defaults to `%s`.", durationDoc(baremetal.DefaultReadyTimeout)), durationCheck)
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A bare-metal machine registered with the Strata boot server (`strata boot serve`): the MAC of the NIC it PXE-boots from, " +
			"an optional fixed address, labels, its BMC, and the profile it boots (kernel, initrds, command line and user-data). " +
			"The boot server is the one the provider's `baremetal` block names (`boot_server` and `token`, or `STRATA_BOOT_SERVER` and `STRATA_BOOT_TOKEN`).\n\n" +
			"With `power_on`, create sets the machine's next boot to the network and powers it on through its BMC, or power-cycles it when it is on; " +
			"with `wait_for_ready`, it then waits until the booted OS phones home to the boot server, and on timeout names the last boot step the machine reached.\n\n" +
			"**BMC password.** It never reaches the boot server, Terraform state, plans or logs. Create and update use the write-only `bmc_password_wo` when it is set " +
			"(Terraform 1.11 or later), otherwise the environment variable `bmc_password_env` names, by default `STRATA_BMC_PASSWORD`. " +
			"Destroy powers the machine off, and write-only values are not available then: destroy always reads the environment variable, " +
			"and fails before it changes anything, naming the variable, when it is not set. Set it, or set `power_off_on_destroy = false` to deregister the machine without powering it off.\n\n" +
			"Changes to the address, labels, BMC settings or profile are registered in place and take effect at the machine's next PXE boot: an update does not reboot the machine, " +
			"except when it turns `power_on` on. To reinstall a machine now, replace it: `terraform apply -replace=strata_machine.NAME`. " +
			"Destroy powers the machine off and deregisters it and the profile it registered. " +
			"A machine or profile deleted from the boot server outside Terraform is registered again by the next apply.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The machine's name on the boot server.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The machine's name on the boot server: 1 to 63 letters, digits, `.`, `_` or `-`, starting with a letter or digit. " +
					"A `profile` is registered under this name too. Changing it replaces the machine.",
			},
			"mac": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The MAC address of the NIC the machine PXE-boots from, in any common notation (`52:54:00:00:00:01`, `52-54-00-00-00-01`). " +
					"The boot server knows a machine by it, so one MAC belongs to one machine. Changing it to another address replaces the machine.",
				Validators: []validator.String{macCheck},
			},
			"ip": str("A fixed IP address the machine has (set in its OS, or by a DHCP server of yours). It is recorded with the machine on the boot server and becomes `address`; "+
				"the boot server's own DHCP does not assign it.", ipCheck),
			"labels": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Labels recorded with the machine on the boot server, for people and tools that list machines.",
			},
			"bmc": str("The machine's BMC: `ipmi://HOST[:PORT]` (IPMI v2.0 lanplus, port 623 by default) or `redfish://HOST[:PORT][/redfish/v1/Systems/ID]` "+
				"(add `?insecure=true` for a self-signed certificate), without credentials: see `bmc_user` and `bmc_password_wo`. "+
				"Needed for `power_on` and for powering the machine off at destroy.", bmcCheck),
			"bmc_user": str("The BMC user name. Needed with `bmc`; an operator account is enough."),
			"bmc_password_wo": schema.StringAttribute{
				Optional:  true,
				WriteOnly: true,
				Sensitive: true,
				MarkdownDescription: "The BMC password, write-only: Terraform passes it to create and update and never stores it. " +
					"Without it those read the environment variable `bmc_password_env` names. Destroy always reads that variable, because write-only values are not available then. " +
					"Change `bmc_password_wo_version` to make an update use a new password.",
			},
			"bmc_password_wo_version": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Any number; change it whenever `bmc_password_wo` changes. Terraform cannot see changes to a write-only value, " +
					"so a new version is what triggers an update, which logs in to the BMC with the new password to check it.",
			},
			"bmc_password_env": str("The environment variable holding the BMC password, read when `bmc_password_wo` is not set and always at destroy. "+
				"Defaults to `STRATA_BMC_PASSWORD`. The provider reads the environment of the Terraform run, as the `strata` CLI does for `bmc_password_env` in machine blocks.", envVarCheck),
			"profile": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "What the machine boots, registered as a boot server profile named after the machine and deleted with it. " +
					"Exactly one of `profile` and `profile_name` is set. Create fails when a profile of that name exists already, rather than replace it.",
				Attributes: map[string]schema.Attribute{
					"kernel": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "The kernel: a path under the boot server's assets directory (`vmlinuz`) or an `http`, `https` or `tftp` URL.",
					},
					"initrd": schema.ListAttribute{
						ElementType:         types.StringType,
						Optional:            true,
						MarkdownDescription: "Initrds, in order, each an asset path or URL like `kernel`.",
					},
					"cmdline": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "The kernel command line, on one line. The boot server appends the cloud-init NoCloud seed " +
							"(`ds=nocloud-net;s=...`) that serves `user_data` to this machine only.",
					},
					"user_data": schema.StringAttribute{
						Optional:  true,
						Sensitive: true,
						MarkdownDescription: "User-data the machine's OS fetches (a cloud-config, a script). Sensitive: it is kept in state (the boot server never returns it) " +
							"but not shown in plans. The boot server serves it only to this machine, authenticated by a per-machine token.",
					},
				},
			},
			"profile_name": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "An existing boot server profile for the machine to boot, shared with other machines and left alone at destroy. " +
					"Exactly one of `profile` and `profile_name` is set; with `profile` this is the machine's name.",
			},
			"power_on": flag("When create registers the machine, set its next boot to PXE and power it on through its BMC, or power-cycle it when it is on. "+
				"Turning it on in an update boots the machine then. Turning it off changes nothing on the machine. Needs `bmc`.", false),
			"power_off_on_destroy": flag("Power the machine off through its BMC before deregistering it at destroy. "+
				"This needs the password from the environment (see `bmc_password_env`); set it to `false` to destroy without the password, leaving the machine running.", true),
			"wait_for_ready": flag("Wait, after create (or an update that powers the machine on), until the booted OS phones home to the boot server; "+
				"`timeouts` bound the wait. On timeout the error names the last boot step the machine reached (see `state`).", false),
			"state": computed("The machine's boot progress as the boot server last saw it: `registered` (not seen yet), `dhcp` (its firmware asked for an address), " +
				"`script-fetched` (iPXE fetched its boot script), `kernel-fetched`, `ready` (the booted OS phoned home) or `error`."),
			"address": computed("The machine's address: `ip` when set, otherwise the address it phoned home from; null until it is known."),
		},
		Blocks: map[string]schema.Block{
			"timeouts": schema.SingleNestedBlock{
				MarkdownDescription: "How long `wait_for_ready` waits for the phone-home.",
				Attributes: map[string]schema.Attribute{
					"create": duration("How long create waits."),
					"update": duration("How long an update that powers the machine on waits."),
				},
			},
		},
	}
}

func durationDoc(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return d.String()
}

// stringCheck is a string validator made of a function that says what is
// wrong.
type stringCheck struct {
	summary, doc string
	fn           func(string) error
}

func (c stringCheck) Description(context.Context) string         { return c.doc }
func (c stringCheck) MarkdownDescription(context.Context) string { return c.doc }

func (c stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := c.fn(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, c.summary, err.Error())
	}
}

var envVarRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validators, shared by the schema and the tests; nothing changes them.
var (
	macCheck = stringCheck{"Invalid MAC address", "a NIC's MAC address", baremetal.CheckMAC}
	bmcCheck = stringCheck{"Invalid BMC URL", "a BMC URL without credentials", func(s string) error {
		if err := baremetal.CheckBMC(s); err != nil {
			return err
		}
		// What the boot server's API refuses besides: any credentials in
		// the URL, a user too, and plain-HTTP Redfish.
		u, _ := url.Parse(s)
		if u.User != nil {
			return fmt.Errorf("%q carries a user name; the boot server keeps no credentials in BMC URLs: set bmc_user instead", s)
		}
		if u.Scheme != "ipmi" && u.Scheme != "redfish" {
			return fmt.Errorf("%q: the boot server registers only ipmi:// and redfish:// BMCs", s)
		}
		return nil
	}}
	ipCheck = stringCheck{"Invalid IP address", "an IPv4 or IPv6 address", func(s string) error {
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("%q is not an IP address; write e.g. \"10.0.0.21\"", s)
		}
		return nil
	}}
	envVarCheck = stringCheck{"Invalid environment variable name", "an environment variable name", func(s string) error {
		if !envVarRE.MatchString(s) {
			return fmt.Errorf("%q is not an environment variable name: use letters, digits and '_', not starting with a digit", s)
		}
		return nil
	}}
	durationCheck = stringCheck{"Invalid duration", "a Go duration", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration; write e.g. \"20m\" or \"90s\"", s)
		}
		return nil
	}}
)

func (r *machineResource) notConfigured(diags *diag.Diagnostics) bool {
	if r.client == nil {
		diags.AddError("Provider not configured", "The strata provider was not configured before the strata_machine resource was used. This is a bug in the provider or Terraform.")
		return true
	}
	return false
}

func (r *machineResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	configure(&r.client, req.ProviderData, &resp.Diagnostics)
}

// known reports whether v is set and known.
func known(v attr.Value) bool { return !v.IsNull() && !v.IsUnknown() }

func (r *machineResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m machineResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	d := &resp.Diagnostics
	if !m.Profile.IsUnknown() && !m.ProfileName.IsUnknown() {
		switch {
		case !m.Profile.IsNull() && !m.ProfileName.IsNull():
			d.AddAttributeError(path.Root("profile_name"), "Conflicting profiles",
				"Set either profile (a profile registered for this machine) or profile_name (an existing profile on the boot server), not both.")
		case m.Profile.IsNull() && m.ProfileName.IsNull():
			d.AddAttributeError(path.Root("profile"), "Missing profile",
				"Set profile (the kernel, initrds, command line and user-data to register for this machine) or profile_name (an existing profile on the boot server).")
		}
	}
	if m.BMC.IsNull() {
		if m.PowerOn.ValueBool() {
			d.AddAttributeError(path.Root("power_on"), "power_on needs a BMC",
				"The machine is powered on through its BMC: set bmc (and bmc_user), or leave power_on unset and power the machine on yourself.")
		}
		if !m.BMCPasswordWO.IsNull() {
			d.AddAttributeError(path.Root("bmc_password_wo"), "BMC password without a BMC", "Set bmc, or drop bmc_password_wo.")
		}
	} else if m.BMCUser.IsNull() {
		d.AddAttributeError(path.Root("bmc_user"), "Missing BMC user", "A machine with a bmc needs bmc_user, the account power control logs in as.")
	}
	if known(m.BMCPasswordWOVersion) && m.BMCPasswordWO.IsNull() {
		d.AddAttributeWarning(path.Root("bmc_password_wo_version"), "Version without a write-only password",
			"bmc_password_wo_version only matters with bmc_password_wo: changing it makes an update log in with the new password.")
	}
}

// ModifyPlan names the profile, says when a plan replaces the machine
// (a new name or MAC), and fails at plan time for what apply could not do:
// no boot server, or a destroy without the BMC password it needs.
func (r *machineResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.client == nil {
		return // validation before the provider is configured
	}
	var prior *machineResourceModel
	if !req.State.Raw.IsNull() {
		prior = &machineResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, prior)...)
	}
	if req.Plan.Raw.IsNull() {
		if prior != nil {
			r.checkDestroyPassword(*prior, &resp.Diagnostics)
		}
		return
	}
	var plan, config machineResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !config.Profile.IsNull() {
		plan.ProfileName = plan.Name
	}
	if prior == nil {
		if !r.client.settings.BareMetal.Unknown {
			if problem := bootServerProblem(r.client.settings.BareMetal); problem != "" {
				resp.Diagnostics.AddError("No boot server", problem)
			}
		}
	} else if at := replacedBy(*prior, plan); len(at) > 0 {
		resp.RequiresReplace = append(resp.RequiresReplace, at...)
		r.checkDestroyPassword(*prior, &resp.Diagnostics) // the old machine is destroyed first
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
}

// replacedBy lists what makes plan a new machine: another name, or another
// MAC (the same MAC written differently is not).
func replacedBy(prior, plan machineResourceModel) path.Paths {
	var out path.Paths
	if !plan.Name.Equal(prior.Name) {
		out = append(out, path.Root("name"))
	}
	if !plan.MAC.Equal(prior.MAC) && (plan.MAC.IsUnknown() || !sameMAC(plan.MAC.ValueString(), prior.MAC.ValueString())) {
		out = append(out, path.Root("mac"))
	}
	return out
}

func sameMAC(a, b string) bool {
	ca, err := inventory.CanonicalMAC(a)
	if err != nil {
		return false
	}
	cb, err := inventory.CanonicalMAC(b)
	return err == nil && ca == cb
}

// powersOffOnDestroy reports whether destroying m powers it off; a null
// power_off_on_destroy (an older state) means the default.
func powersOffOnDestroy(m machineResourceModel) bool {
	return m.BMC.ValueString() != "" && (m.PowerOffOnDestroy.IsNull() || m.PowerOffOnDestroy.ValueBool())
}

// checkDestroyPassword fails when destroying m would power it off and the
// environment has no password for its BMC.
func (r *machineResource) checkDestroyPassword(m machineResourceModel, diags *diag.Diagnostics) {
	if !powersOffOnDestroy(m) {
		return
	}
	if _, err := r.client.settings.bmcPasswords(m.Name.ValueString(), m.BMCPasswordEnv.ValueString()); err != nil {
		diags.AddAttributeError(path.Root("bmc_password_env"), "BMC password needed to destroy machine "+m.Name.ValueString(),
			fmt.Sprintf("Destroying the machine powers it off through its BMC (%s), which needs the BMC password: %v. "+
				"bmc_password_wo cannot be used, because Terraform does not keep write-only values for destroy. "+
				"Set the variable, or set power_off_on_destroy = false and apply to deregister the machine without powering it off.",
				m.BMC.ValueString(), err))
	}
}

// bootServerProblem says why the provider's baremetal settings name no
// usable boot server ("" when they do).
func bootServerProblem(bm baremetalSettings) string {
	switch {
	case bm.BootServer == "":
		return "strata_machine registers machines with the boot server the provider's baremetal block names: set baremetal { boot_server = \"http://HOST:PORT\" } or STRATA_BOOT_SERVER."
	case bm.Token == "":
		return "The boot server's API needs a token: set baremetal { token } or STRATA_BOOT_TOKEN."
	}
	return ""
}

// bmcPassword is where one create or update takes the BMC password from:
// the write-only argument when the configuration has it, else the
// environment (as destroy always does).
func (r *machineResource) bmcPassword(wo types.String) func(machine, envVar string) (string, error) {
	if !known(wo) || wo.ValueString() == "" {
		return r.client.settings.bmcPasswords
	}
	pw := wo.ValueString()
	return func(string, string) (string, error) { return pw, nil }
}

// open connects to the boot server for one operation; password is where
// BMC passwords come from, readyTimeout bounds wait_for_ready. It reports
// to diags and returns nil when it cannot.
func (r *machineResource) open(ctx context.Context, diags *diag.Diagnostics, password func(machine, envVar string) (string, error), readyTimeout time.Duration) *baremetal.Provisioner {
	bm := r.client.settings.BareMetal
	if problem := bootServerProblem(bm); problem != "" {
		diags.AddError("No boot server", problem)
		return nil
	}
	cfg := r.client.settings.connectConfig().BareMetal
	cfg.BMCPassword = password
	cfg.ReadyTimeout = readyTimeout
	p, err := baremetal.OpenBootServer(ctx, cfg, bm.BootServer)
	if err != nil {
		diags.AddError("Cannot use the boot server", err.Error())
		return nil
	}
	return p
}

// timeout reads timeouts.NAME; the default is the provisioner's.
func timeout(ctx context.Context, obj types.Object, name string) time.Duration {
	if !known(obj) {
		return baremetal.DefaultReadyTimeout
	}
	v, ok := obj.Attributes()[name].(types.String)
	if !ok || !known(v) {
		return baremetal.DefaultReadyTimeout
	}
	d, err := time.ParseDuration(v.ValueString())
	if err != nil || d <= 0 {
		tflog.Warn(ctx, "ignoring an invalid timeout", map[string]any{name: v.ValueString()})
		return baremetal.DefaultReadyTimeout
	}
	return d
}

func (m machineResourceModel) profile(ctx context.Context) (machineProfileModel, bool, diag.Diagnostics) {
	var p machineProfileModel
	if !known(m.Profile) {
		return p, false, nil
	}
	diags := m.Profile.As(ctx, &p, basetypes.ObjectAsOptions{})
	return p, true, diags
}

// profileRequest is the boot server profile for p. A null user_data is
// sent as "": the profile is Terraform's, so absent means none (the API
// keeps the old user-data when the field is left out).
func profileRequest(ctx context.Context, p machineProfileModel) (web.ProfileRequest, diag.Diagnostics) {
	req := web.ProfileRequest{Kernel: p.Kernel.ValueString(), Cmdline: p.Cmdline.ValueString()}
	ud := p.UserData.ValueString()
	req.UserData = &ud
	var diags diag.Diagnostics
	if known(p.Initrd) {
		diags = p.Initrd.ElementsAs(ctx, &req.Initrd, false)
	}
	return req, diags
}

func machineRequest(ctx context.Context, m machineResourceModel) (web.MachineRequest, diag.Diagnostics) {
	req := web.MachineRequest{
		Name: m.Name.ValueString(), MAC: m.MAC.ValueString(), IP: m.IP.ValueString(),
		BMC: m.BMC.ValueString(), BMCUser: m.BMCUser.ValueString(), Profile: m.ProfileName.ValueString(),
	}
	var diags diag.Diagnostics
	if known(m.Labels) {
		diags = m.Labels.ElementsAs(ctx, &req.Labels, false)
	}
	return req, diags
}

func (m machineResourceModel) bmc() baremetal.BMC {
	return baremetal.BMC{Machine: m.Name.ValueString(), URL: m.BMC.ValueString(), User: m.BMCUser.ValueString(), PasswordEnv: m.BMCPasswordEnv.ValueString()}
}

// Attributes the boot server's field names stand for, in machine and in
// profile requests.
func machineField(field string) (path.Path, bool) {
	switch field {
	case "name", "mac", "ip", "bmc", "bmc_user", "labels":
		return path.Root(field), true
	case "profile":
		return path.Root("profile_name"), true
	}
	return path.Empty(), false
}

func profileField(field string) (path.Path, bool) {
	switch field {
	case "name":
		return path.Root("name"), true
	case "kernel", "cmdline", "initrd":
		return path.Root("profile").AtName(field), true
	case "user_data", "user_data_base64":
		return path.Root("profile").AtName("user_data"), true
	}
	var i int
	if _, err := fmt.Sscanf(field, "initrd[%d]", &i); err == nil {
		return path.Root("profile").AtName("initrd").AtListIndex(i), true
	}
	return path.Empty(), false
}

// bootServerError reports a failed boot server call. A refusal (4xx)
// carries the server's own message and, when the server named the field at
// fault, sits on that attribute; a MAC that belongs to another machine is
// said to be one.
func bootServerError(diags *diag.Diagnostics, summary string, err error, field func(string) (path.Path, bool)) {
	status, f := baremetal.APIStatus(err)
	detail := err.Error()
	if status == http.StatusConflict && f == "mac" {
		summary = "MAC address already registered under another name"
		detail += "\n\nThe boot server knows a machine by its MAC, and this one belongs to the machine named in the message. " +
			"Import that machine (terraform import strata_machine.NAME ITS-NAME), deregister it from the boot server, or correct mac."
	}
	if at, ok := field(f); ok && status >= 400 && status < 500 {
		diags.AddAttributeError(at, summary, detail)
		return
	}
	diags.AddError(summary, detail)
}

func notFound(err error) bool {
	status, _ := baremetal.APIStatus(err)
	return status == http.StatusNotFound
}

// record sets what the boot server decides (state and address) from v.
func (m *machineResourceModel) record(v web.MachineView) {
	m.ID = types.StringValue(v.Name)
	m.State = types.StringValue(string(v.State))
	m.Address = optString(baremetal.Address(v))
}

// keep returns prior when it says the same as got (the boot server drops
// empty values), else got.
func keep(prior types.String, got string) types.String {
	if got == prior.ValueString() || (got == "" && prior.IsNull()) {
		return prior
	}
	return optString(got)
}

// refresh sets m from the machine as the boot server has it, keeping m's
// spelling of values the server normalised (MAC notation, IP form, empty
// maps).
func (m *machineResourceModel) refresh(ctx context.Context, v web.MachineView) diag.Diagnostics {
	var diags diag.Diagnostics
	m.record(v)
	m.Name = types.StringValue(v.Name)
	if !sameMAC(m.MAC.ValueString(), v.MAC) {
		m.MAC = types.StringValue(v.MAC)
	}
	if old, err := netip.ParseAddr(m.IP.ValueString()); !v.IP.IsValid() {
		m.IP = types.StringNull()
	} else if err != nil || old != v.IP {
		m.IP = types.StringValue(v.IP.String())
	}
	m.BMC = keep(m.BMC, v.BMC)
	m.BMCUser = keep(m.BMCUser, v.BMCUser)
	m.ProfileName = types.StringValue(v.Profile)
	switch {
	case len(v.Labels) > 0:
		var d diag.Diagnostics
		m.Labels, d = types.MapValueFrom(ctx, types.StringType, v.Labels)
		diags.Append(d...)
	case !m.Labels.IsNull() && len(m.Labels.Elements()) == 0:
	default:
		m.Labels = types.MapNull(types.StringType)
	}
	return diags
}

// refreshProfile sets m.Profile from p, keeping the user-data in state
// (the boot server never returns it) unless its size shows it was changed
// outside Terraform.
func (m *machineResourceModel) refreshProfile(ctx context.Context, p web.ProfileView) diag.Diagnostics {
	prior, _, diags := m.profile(ctx)
	got := machineProfileModel{Kernel: types.StringValue(p.Kernel), Cmdline: keep(prior.Cmdline, p.Cmdline), UserData: prior.UserData}
	if got.UserData.IsUnknown() {
		got.UserData = types.StringNull()
	}
	if p.UserDataBytes != len(prior.UserData.ValueString()) && prior.UserData.ValueString() != "" {
		got.UserData = types.StringNull() // shows as a change, so apply writes it back
	}
	switch {
	case len(p.Initrd) > 0:
		var d diag.Diagnostics
		got.Initrd, d = types.ListValueFrom(ctx, types.StringType, p.Initrd)
		diags.Append(d...)
	case known(prior.Initrd) && len(prior.Initrd.Elements()) == 0:
		got.Initrd = prior.Initrd
	default:
		got.Initrd = types.ListNull(types.StringType)
	}
	var d diag.Diagnostics
	m.Profile, d = types.ObjectValueFrom(ctx, machineProfileType().AttrTypes, got)
	diags.Append(d...)
	return diags
}

// putProfile registers the profile a machine owns, named after it.
func putProfile(ctx context.Context, bs *baremetal.Provisioner, name string, prof machineProfileModel, diags *diag.Diagnostics) bool {
	preq, d := profileRequest(ctx, prof)
	diags.Append(d...)
	if diags.HasError() {
		return false
	}
	if err := bs.PutProfile(ctx, name, preq); err != nil {
		bootServerError(diags, "Cannot register the profile of machine "+name, err, profileField)
		return false
	}
	return true
}

// register registers the machine, or registers it again with its new
// settings (the API's POST is an upsert).
func register(ctx context.Context, bs *baremetal.Provisioner, m machineResourceModel, diags *diag.Diagnostics) (web.MachineView, bool) {
	mreq, d := machineRequest(ctx, m)
	diags.Append(d...)
	if diags.HasError() {
		return web.MachineView{}, false
	}
	view, err := bs.Register(ctx, mreq)
	if err != nil {
		bootServerError(diags, "Cannot register machine "+m.Name.ValueString(), err, machineField)
		return web.MachineView{}, false
	}
	return view, true
}

func (r *machineResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if r.notConfigured(&resp.Diagnostics) {
		return
	}
	var plan, config machineResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	bs := r.open(ctx, &resp.Diagnostics, r.bmcPassword(config.BMCPasswordWO), timeout(ctx, plan.Timeouts, "create"))
	if bs == nil {
		return
	}
	name := plan.Name.ValueString()
	fields := map[string]any{"machine": name}

	// POST is an upsert: without this check create would silently take
	// over a machine registered by someone else.
	if _, err := bs.Machine(ctx, name); err == nil {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Machine already registered",
			fmt.Sprintf("The boot server already has a machine named %q. To manage it with Terraform, import it: terraform import strata_machine.RESOURCE %s", name, name))
		return
	} else if !notFound(err) {
		bootServerError(&resp.Diagnostics, "Cannot read machine "+name, err, machineField)
		return
	}

	prof, owned, diags := plan.profile(ctx)
	resp.Diagnostics.Append(diags...)
	if owned {
		if _, err := bs.Profile(ctx, name); err == nil {
			resp.Diagnostics.AddAttributeError(path.Root("profile"), "Profile already exists",
				fmt.Sprintf("The boot server already has a profile named %q, which this machine's profile would replace. "+
					"Boot that profile with profile_name = %q instead of profile, or delete it from the boot server first.", name, name))
			return
		} else if !notFound(err) {
			bootServerError(&resp.Diagnostics, "Cannot read profile "+name, err, profileField)
			return
		}
		if !putProfile(ctx, bs, name, prof, &resp.Diagnostics) {
			return
		}
	}
	view, ok := register(ctx, bs, plan, &resp.Diagnostics)
	if !ok {
		if owned {
			// Nothing is recorded in state, so nothing would delete it.
			if derr := bs.DeleteProfile(ctx, name); derr != nil {
				tflog.Warn(ctx, "could not remove the profile of a machine that failed to register", map[string]any{"machine": name, "error": derr.Error()})
			}
		}
		return
	}
	tflog.Info(ctx, "registered machine "+name, fields)
	// Recorded now, so that when powering on or waiting fails the machine
	// is in state (tainted) and the next apply replaces it.
	plan.record(view)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)

	if plan.PowerOn.ValueBool() {
		if err := bs.PXEBoot(ctx, plan.bmc()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("bmc"), "Cannot PXE-boot machine "+name, err.Error())
			return
		}
		tflog.Info(ctx, "set machine "+name+" to boot from the network and powered it on", fields)
	}
	r.settle(ctx, bs, &plan, plan.WaitForReady.ValueBool(), &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

// settle waits for the machine to phone home when wait is set, then
// records the boot server's view of it in m.
func (r *machineResource) settle(ctx context.Context, bs *baremetal.Provisioner, m *machineResourceModel, wait bool, diags *diag.Diagnostics) {
	name := m.Name.ValueString()
	if wait {
		tflog.Info(ctx, "waiting for machine "+name+" to phone home", map[string]any{"machine": name})
		if _, err := bs.Ready(ctx, name); err != nil {
			diags.AddError("Machine "+name+" is not ready", err.Error())
		}
	}
	view, err := bs.Machine(ctx, name)
	if err != nil {
		bootServerError(diags, "Cannot read machine "+name, err, machineField)
		return
	}
	m.record(view)
}

func (r *machineResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if r.notConfigured(&resp.Diagnostics) {
		return
	}
	var m machineResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	bs := r.open(ctx, &resp.Diagnostics, nil, 0)
	if bs == nil {
		return
	}
	name := m.Name.ValueString()
	view, err := bs.Machine(ctx, name)
	if notFound(err) {
		tflog.Warn(ctx, "machine "+name+" is no longer registered with the boot server; removing it from state", map[string]any{"machine": name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		bootServerError(&resp.Diagnostics, "Cannot read machine "+name, err, machineField)
		return
	}
	importing := m.MAC.IsNull()
	resp.Diagnostics.Append(m.refresh(ctx, view)...)
	// An imported machine whose profile is named after it is taken to own
	// it, as one created with a profile does.
	if !m.Profile.IsNull() || (importing && view.Profile == name) {
		pv, err := bs.Profile(ctx, name)
		switch {
		case notFound(err):
			m.Profile = types.ObjectNull(machineProfileType().AttrTypes)
		case err != nil:
			bootServerError(&resp.Diagnostics, "Cannot read the profile of machine "+name, err, profileField)
			return
		default:
			resp.Diagnostics.Append(m.refreshProfile(ctx, pv)...)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *machineResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if r.notConfigured(&resp.Diagnostics) {
		return
	}
	var plan, prior, config machineResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	bs := r.open(ctx, &resp.Diagnostics, r.bmcPassword(config.BMCPasswordWO), timeout(ctx, plan.Timeouts, "update"))
	if bs == nil {
		return
	}
	name := plan.Name.ValueString()
	fields := map[string]any{"machine": name}

	prof, owned, diags := plan.profile(ctx)
	resp.Diagnostics.Append(diags...)
	if owned {
		// Written every time: this also restores a profile deleted or
		// changed outside Terraform.
		if !putProfile(ctx, bs, name, prof, &resp.Diagnostics) {
			return
		}
	}
	if _, ok := register(ctx, bs, plan, &resp.Diagnostics); !ok {
		return
	}
	tflog.Info(ctx, "re-registered machine "+name, fields)
	if !owned && !prior.Profile.IsNull() {
		// The machine moved to profile_name; its own profile is unused now.
		if err := bs.DeleteProfile(ctx, name); err != nil && !notFound(err) {
			bootServerError(&resp.Diagnostics, "Cannot delete the former profile of machine "+name, err, profileField)
			return
		}
	}

	booted := false
	switch {
	case plan.PowerOn.ValueBool() && !prior.PowerOn.ValueBool():
		if err := bs.PXEBoot(ctx, plan.bmc()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("bmc"), "Cannot PXE-boot machine "+name, err.Error())
			return
		}
		booted = true
		tflog.Info(ctx, "set machine "+name+" to boot from the network and powered it on", fields)
	case !plan.BMCPasswordWOVersion.Equal(prior.BMCPasswordWOVersion) && plan.BMC.ValueString() != "":
		if err := bs.CheckLogin(ctx, plan.bmc()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("bmc_password_wo"), "Cannot log in to the BMC of machine "+name, err.Error())
			return
		}
	}
	r.settle(ctx, bs, &plan, booted && plan.WaitForReady.ValueBool(), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *machineResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if r.notConfigured(&resp.Diagnostics) {
		return
	}
	var m machineResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Checked first, so that a missing password changes nothing.
	r.checkDestroyPassword(m, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	bs := r.open(ctx, &resp.Diagnostics, r.client.settings.bmcPasswords, 0)
	if bs == nil {
		return
	}
	name := m.Name.ValueString()
	fields := map[string]any{"machine": name}
	view, err := bs.Machine(ctx, name)
	switch {
	case notFound(err):
		// Gone already; its profile may be left over.
	case err != nil:
		bootServerError(&resp.Diagnostics, "Cannot read machine "+name, err, machineField)
		return
	default:
		if powersOffOnDestroy(m) {
			b := m.bmc()
			if view.BMC != "" {
				// What the boot server has is what the machine was
				// registered with.
				b.URL, b.User = view.BMC, view.BMCUser
			}
			if err := bs.PowerOff(ctx, b); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("bmc"), "Cannot power off machine "+name,
					err.Error()+"\n\nThe machine is still registered. Fix the BMC access, or set power_off_on_destroy = false and apply to deregister it without powering it off.")
				return
			}
			tflog.Info(ctx, "powered off machine "+name, fields)
		}
		if err := bs.Deregister(ctx, name); err != nil && !notFound(err) {
			bootServerError(&resp.Diagnostics, "Cannot deregister machine "+name, err, machineField)
			return
		}
		tflog.Info(ctx, "deregistered machine "+name, fields)
	}
	if !m.Profile.IsNull() {
		if err := bs.DeleteProfile(ctx, name); err != nil && !notFound(err) {
			bootServerError(&resp.Diagnostics, "Cannot delete the profile of machine "+name, err, profileField)
		}
	}
}

// ImportState takes a machine registered with the boot server by its name.
// Settings the boot server does not keep (power_on, wait_for_ready,
// power_off_on_destroy, bmc_password_env, timeouts and the profile's
// user-data) start at their defaults.
func (r *machineResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name := strings.TrimSpace(req.ID)
	if name == "" {
		resp.Diagnostics.AddError("Invalid import id", "The import id is the machine's name on the boot server: terraform import strata_machine.RESOURCE NAME")
		return
	}
	for at, v := range map[string]any{"id": name, "name": name, "power_on": false, "power_off_on_destroy": true, "wait_for_ready": false} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(at), v)...)
	}
}

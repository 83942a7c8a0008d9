package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/baremetal"
	"github.com/stratastack/strata/provisioners/baremetal/api"
	bootclient "github.com/stratastack/strata/provisioners/baremetal/client"
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
		if !r.client.settings.unknown[baremetalKind] {
			if problem := bootServerProblem(r.bootEnv()); problem != "" {
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
	ca, err := api.CanonicalMAC(a)
	if err != nil {
		return false
	}
	cb, err := api.CanonicalMAC(b)
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
	if _, err := r.bmcPasswords()(m.Name.ValueString(), m.BMCPasswordEnv.ValueString()); err != nil {
		diags.AddAttributeError(path.Root("bmc_password_env"), "BMC password needed to destroy machine "+m.Name.ValueString(),
			fmt.Sprintf("Destroying the machine powers it off through its BMC (%s), which needs the BMC password: %v. "+
				"bmc_password_wo cannot be used, because Terraform does not keep write-only values for destroy. "+
				"Set the variable, or set power_off_on_destroy = false and apply to deregister the machine without powering it off.",
				m.BMC.ValueString(), err))
	}
}

// baremetalKind is the substrate kind whose provider block names the boot
// server strata_machine registers machines with.
const baremetalKind = "baremetal"

// bootEnv is the provider's resolved baremetal settings.
func (r *machineResource) bootEnv() provisioners.Env {
	return r.client.settings.env[baremetalKind]
}

// bmcPasswords reads BMC passwords from the environment when a BMC is
// used; they are never kept in state.
func (r *machineResource) bmcPasswords() func(machine, envVar string) (string, error) {
	return baremetal.BMCPasswords(r.bootEnv().Getenv)
}

// bootServerProblem says why the provider's baremetal settings name no
// usable boot server ("" when they do).
func bootServerProblem(bm provisioners.Env) string {
	switch {
	case bm.Settings["boot_server"] == "":
		return "strata_machine registers machines with the boot server the provider's baremetal block names: set baremetal { boot_server = \"http://HOST:PORT\" } or STRATA_BOOT_SERVER."
	case bm.Settings["token"] == "":
		return "The boot server's API needs a token: set baremetal { token } or STRATA_BOOT_TOKEN."
	}
	return ""
}

// bmcPassword is where one create or update takes the BMC password from:
// the write-only argument when the configuration has it, else the
// environment (as destroy always does).
func (r *machineResource) bmcPassword(wo types.String) func(machine, envVar string) (string, error) {
	if !known(wo) || wo.ValueString() == "" {
		return r.bmcPasswords()
	}
	pw := wo.ValueString()
	return func(string, string) (string, error) { return pw, nil }
}

// open connects to the boot server for one operation; password is where
// BMC passwords come from, readyTimeout bounds wait_for_ready. It reports
// to diags and returns nil when it cannot.
func (r *machineResource) open(ctx context.Context, diags *diag.Diagnostics, password func(machine, envVar string) (string, error), readyTimeout time.Duration) *baremetal.Provisioner {
	bm := r.bootEnv()
	if problem := bootServerProblem(bm); problem != "" {
		diags.AddError("No boot server", problem)
		return nil
	}
	cfg := baremetal.ConfigFrom(bm)
	cfg.BMCPassword = password
	cfg.ReadyTimeout = readyTimeout
	p, err := baremetal.OpenBootServer(ctx, cfg, bm.Settings["boot_server"])
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

// bootServerError reports a failed boot server call. A refusal (4xx)
// carries the server's own message and, when the server named the field at
// fault, sits on that attribute; a MAC that belongs to another machine is
// said to be one.
func bootServerError(diags *diag.Diagnostics, summary string, err error, field func(string) (path.Path, bool)) {
	status, f := bootclient.Status(err)
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
	status, _ := bootclient.Status(err)
	return status == http.StatusNotFound
}

// putProfile registers the profile a machine owns, named after it.
func putProfile(ctx context.Context, bs *baremetal.Provisioner, name string, prof machineProfileModel, diags *diag.Diagnostics) bool {
	preq, d := profileRequest(ctx, prof)
	diags.Append(d...)
	if diags.HasError() {
		return false
	}
	if err := bs.API().PutProfile(ctx, name, preq); err != nil {
		bootServerError(diags, "Cannot register the profile of machine "+name, err, profileField)
		return false
	}
	return true
}

// register registers the machine, or registers it again with its new
// settings (the API's POST is an upsert).
func register(ctx context.Context, bs *baremetal.Provisioner, m machineResourceModel, diags *diag.Diagnostics) (api.MachineView, bool) {
	mreq, d := machineRequest(ctx, m)
	diags.Append(d...)
	if diags.HasError() {
		return api.MachineView{}, false
	}
	view, err := bs.API().Register(ctx, mreq)
	if err != nil {
		bootServerError(diags, "Cannot register machine "+m.Name.ValueString(), err, machineField)
		return api.MachineView{}, false
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
	if _, err := bs.API().Machine(ctx, name); err == nil {
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
		if _, err := bs.API().Profile(ctx, name); err == nil {
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
			if derr := bs.API().DeleteProfile(ctx, name); derr != nil {
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
	view, err := bs.API().Machine(ctx, name)
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
	view, err := bs.API().Machine(ctx, name)
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
		pv, err := bs.API().Profile(ctx, name)
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
		if err := bs.API().DeleteProfile(ctx, name); err != nil && !notFound(err) {
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
	bs := r.open(ctx, &resp.Diagnostics, r.bmcPasswords(), 0)
	if bs == nil {
		return
	}
	name := m.Name.ValueString()
	fields := map[string]any{"machine": name}
	view, err := bs.API().Machine(ctx, name)
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
		if err := bs.API().Deregister(ctx, name); err != nil && !notFound(err) {
			bootServerError(&resp.Diagnostics, "Cannot deregister machine "+name, err, machineField)
			return
		}
		tflog.Info(ctx, "deregistered machine "+name, fields)
	}
	if !m.Profile.IsNull() {
		if err := bs.API().DeleteProfile(ctx, name); err != nil && !notFound(err) {
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

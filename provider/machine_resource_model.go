package provider

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/stratastack/strata/provisioners/baremetal"
	"github.com/stratastack/strata/provisioners/baremetal/api"
)

// machineResourceModel is strata_machine's Terraform data; this file maps it
// to and from the boot server's API (requests, views, field names).
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
func profileRequest(ctx context.Context, p machineProfileModel) (api.ProfileRequest, diag.Diagnostics) {
	req := api.ProfileRequest{Kernel: p.Kernel.ValueString(), Cmdline: p.Cmdline.ValueString()}
	ud := p.UserData.ValueString()
	req.UserData = &ud
	var diags diag.Diagnostics
	if known(p.Initrd) {
		diags = p.Initrd.ElementsAs(ctx, &req.Initrd, false)
	}
	return req, diags
}

func machineRequest(ctx context.Context, m machineResourceModel) (api.MachineRequest, diag.Diagnostics) {
	req := api.MachineRequest{
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

// record sets what the boot server decides (state and address) from v.
func (m *machineResourceModel) record(v api.MachineView) {
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
func (m *machineResourceModel) refresh(ctx context.Context, v api.MachineView) diag.Diagnostics {
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
func (m *machineResourceModel) refreshProfile(ctx context.Context, p api.ProfileView) diag.Diagnostics {
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

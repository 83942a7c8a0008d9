package provider

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/stratastack/strata/provisioners/baremetal"
)

// Metadata and Schema: strata_machine's attributes, their docs and validators.
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

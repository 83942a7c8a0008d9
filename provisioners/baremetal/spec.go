package baremetal

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/zclconf/go-cty/cty"
)

const bmcCreds = "BMC passwords come from STRATA_BMC_PASSWORD, the environment variable named by bmc_password_env, or the write-only password of a strata_machine resource."

// Spec is what `substrate "baremetal"` accepts.
func Spec() provisioners.Spec {
	return provisioners.Spec{
		Kind: "baremetal",
		Attrs: []schema.Attr{
			{Name: "boot_server", Type: cty.String, Required: true, Doc: "the strata boot server API, e.g. http://10.0.0.2:8080.", Check: httpURL},
		},
		Blocks: []schema.Block{
			{Type: "image", Max: 1, Doc: "what the machines boot.", Attrs: []schema.Attr{
				{Name: "kernel", Type: cty.String, Required: true, Doc: "kernel URL."},
				{Name: "initrd", Type: cty.List(cty.String), Doc: "initrd URLs."},
				{Name: "cmdline", Type: cty.String, Doc: "kernel command line."},
			}},
			{Type: "machine", Labels: []string{"name"}, Doc: "one machine the boot server may provision.", Attrs: []schema.Attr{
				{Name: "mac", Type: cty.String, Required: true, Doc: "the PXE NIC's MAC address.", Check: mac},
				{Name: "bmc", Type: cty.String, Doc: "ipmi://HOST[:PORT] or redfish://HOST[:PORT].", Check: bmc},
				{Name: "bmc_user", Type: cty.String, Doc: "BMC user name."},
				{Name: "bmc_password_env", Type: cty.String, Doc: "environment variable holding this BMC's password."},
				{Name: "address", Type: cty.String, Doc: "the IP the machine gets, when fixed."},
				{Name: "labels", Type: cty.Map(cty.String), Doc: "labels for pool selectors."},
				{Name: "bmc_password", Type: cty.String, Secret: bmcCreds},
			}},
		},
		PoolAttrs: []schema.Attr{
			{Name: "machines", Type: cty.List(cty.String), Doc: "machine names to take, in order."},
			{Name: "selector", Type: cty.Map(cty.String), Doc: "take machines whose labels match all of these."},
		},
		CheckPool: checkPool,
	}
}

func httpURL(v cty.Value) error {
	u, err := url.Parse(v.AsString())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL; write e.g. \"http://10.0.0.2:8080\"", v.AsString())
	}
	return nil
}

func mac(v cty.Value) error { return CheckMAC(v.AsString()) }

func bmc(v cty.Value) error { return CheckBMC(v.AsString()) }

// CheckMAC accepts a machine's MAC address as machine blocks and the
// strata_machine resource take it: what the boot server's inventory
// accepts, so a MAC it would refuse at apply is caught at validate.
func CheckMAC(s string) error {
	if _, err := api.CanonicalMAC(s); err != nil {
		if _, perr := net.ParseMAC(s); perr == nil {
			return fmt.Errorf("%q is not a PXE NIC's MAC address (six bytes, unicast); write e.g. \"52:54:00:00:00:01\"", s)
		}
		return fmt.Errorf("%q is not a MAC address; write e.g. \"52:54:00:00:00:01\"", s)
	}
	return nil
}

// CheckBMC accepts a BMC URL without a password, as machine blocks and the
// strata_machine resource take it.
func CheckBMC(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "ipmi" && u.Scheme != "redfish" && u.Scheme != "redfish+http") || u.Host == "" {
		return fmt.Errorf("%q is not a BMC URL; write ipmi://HOST[:PORT] or redfish://HOST[:PORT]", s)
	}
	if u.User != nil {
		if _, hasPass := u.User.Password(); hasPass {
			return fmt.Errorf("the BMC URL carries a password; %s", bmcCreds)
		}
	}
	return nil
}

// Machines returns the machines a pool may take, in the order it takes them.
func Machines(substrate, pool schema.Values) []string {
	all := substrate.Blocks["machine"]
	if names := pool.Strings("machines"); len(names) > 0 {
		var out []string
		for _, n := range names {
			for _, m := range all {
				if m.Labels[0] == n {
					out = append(out, n)
					break
				}
			}
		}
		return out
	}
	sel := pool.Map("selector")
	var out []string
	for _, m := range all {
		labels := m.Map("labels")
		ok := true
		for k, v := range sel {
			if labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m.Labels[0])
		}
	}
	return out
}

func checkPool(substrate, pool schema.Values, size int) []provisioners.Problem {
	known := map[string]bool{}
	var names []string
	for _, m := range substrate.Blocks["machine"] {
		known[m.Labels[0]] = true
		names = append(names, m.Labels[0])
	}
	sort.Strings(names)
	var out []provisioners.Problem
	for _, n := range pool.Strings("machines") {
		if !known[n] {
			out = append(out, provisioners.Problem{Attr: "machines", Summary: fmt.Sprintf("Unknown machine %q", n),
				Detail: fmt.Sprintf("The substrate declares no machine %q; it has: %s.", n, strings.Join(names, ", "))})
		}
	}
	if got := len(Machines(substrate, pool)); got < size {
		out = append(out, provisioners.Problem{Attr: "size", Summary: "Pool larger than its machines",
			Detail: fmt.Sprintf("The pool wants %d machines but only %d match; lower size or add machine blocks.", size, got)})
	}
	return out
}

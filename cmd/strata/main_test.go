package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stratastack/strata/internal/cli"
	"github.com/stratastack/strata/provisioners/baremetal/dhcp"
)

const contract = "../../examples/stacks/contract"

// The flags every command parses: each bad value is a usage error (exit 2)
// that names the flag, and nothing runs.
func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string // in stderr
		out  string // in stdout
	}{
		{"no command", nil, cli.Usage, "Usage: strata COMMAND", ""},
		{"help", []string{"-h"}, cli.Usage, "Commands:", ""},
		{"unknown command", []string{"frobnicate", contract}, cli.Usage, `unknown command "frobnicate"`, ""},
		{"missing path", []string{"up"}, cli.Usage, "strata up: missing PATH", ""},
		{"down needs a path or -expired", []string{"down"}, cli.Usage, "strata down: missing PATH", ""},
		{"two paths", []string{"plan", "a", "b"}, cli.Usage, `one PATH only (got "a" and "b")`, ""},
		{"parallelism zero", []string{"up", contract, "-parallelism", "0"}, cli.Usage, "-parallelism must be at least 1, got 0", ""},
		{"parallelism negative", []string{"down", contract, "-parallelism=-3"}, cli.Usage, "-parallelism must be at least 1, got -3", ""},
		{"parallelism not a number", []string{"up", contract, "-parallelism", "many"}, cli.Usage, `invalid value "many" for flag -parallelism`, ""},
		{"ttl not a duration", []string{"up", contract, "-ttl", "tomorrow"}, cli.Usage, `invalid value "tomorrow" for flag -ttl`, ""},
		{"unknown flag", []string{"plan", contract, "-paralelism", "3"}, cli.Usage, "flag provided but not defined: -paralelism", ""},
		{"var without value", []string{"plan", contract, "-var"}, cli.Usage, "flag needs an argument: -var", ""},
		{"flags after the path", []string{"validate", contract, "-var", "agents=4"}, cli.OK, "", ""},
		{"flags before the path", []string{"validate", "-var", "agents=2", contract}, cli.OK, "", ""},
		{"a bad variable is the stack's error", []string{"validate", contract, "-var", "no_such_var=1"}, cli.Invalid, "no_such_var", ""},
		{"plan -json", []string{"plan", contract, "-json"}, cli.OK, "", `"machines"`},
		{"graph", []string{"graph", contract}, cli.OK, "", `digraph "edge-1" {`},
		{"graph to a file of no known format", []string{"graph", contract, "-o", "stack.jpg"}, cli.Usage, "-o stack.jpg: name a .svg, .png or .dot file", ""},
		{"boot without serve", []string{"boot"}, cli.Usage, "usage: strata boot serve", ""},
		{"boot unknown flag", []string{"boot", "serve", "-htp", ":80"}, cli.Usage, "flag provided but not defined: -htp", ""},
		{"boot ra without dhcp", []string{"boot", "serve", "-ra-prefix", "fd77::/64"}, cli.Usage, "-ra-prefix needs -dhcp full or proxy", ""},
		{"boot bad dhcp mode", []string{"boot", "serve", "-dhcp", "half"}, cli.Usage, `-dhcp "half": use off, full or proxy`, ""},
		{"boot bad ra prefix", []string{"boot", "serve", "-dhcp", "proxy", "-dhcp-interface", "br0", "-dhcp-server-ip", "10.0.0.1", "-ra-prefix", "fd77::"}, cli.Usage, "-ra-prefix:", ""},
		{"lab without command", []string{"lab"}, cli.Usage, "strata lab", ""},
		{"lab unknown command", []string{"lab", "sideways"}, cli.Usage, `strata lab: unknown command "sideways"`, ""},
		{"lab bad subnet", []string{"lab", "up", "-subnet", "10.0.0.0"}, cli.Usage, "strata lab up: -subnet:", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := tc.args
			if len(args) > 0 && args[0] != "boot" && args[0] != "lab" && args[0] != "-h" {
				// keep state out of the source tree
				args = append([]string{args[0], "-state-dir", t.TempDir()}, args[1:]...)
			}
			code := run(t.Context(), args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("run(%q) = %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.code, &stdout, &stderr)
			}
			if !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("stderr does not say %q:\n%s", tc.err, &stderr)
			}
			if !strings.Contains(stdout.String(), tc.out) {
				t.Errorf("stdout does not say %q:\n%s", tc.out, &stdout)
			}
		})
	}
}

// A setting the environment gives that does not parse stops the commands
// that connect, naming the variable; the others do not read it.
func TestRunBadEnvironment(t *testing.T) {
	t.Setenv("VSPHERE_ALLOW_UNVERIFIED_SSL", "sometimes")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"up", contract}, cli.Usage},
		{[]string{"status", contract}, cli.Usage},
		{[]string{"validate", contract}, cli.OK},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{tc.args[0], "-state-dir", t.TempDir()}, tc.args[1:]...)
		code := run(t.Context(), args, &stdout, &stderr)
		if code != tc.code || (code == cli.Usage && !strings.Contains(stderr.String(), `VSPHERE_ALLOW_UNVERIFIED_SSL="sometimes" is not a boolean`)) {
			t.Errorf("run(%q) = %d, want %d\nstderr: %s", tc.args, code, tc.code, &stderr)
		}
	}
}

// plan -json is one JSON document, whatever flags come with it.
func TestRunPlanJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"plan", "-json", contract}, &stdout, &stderr); code != cli.OK {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("plan -json is not one JSON document: %v\n%s", err, &stdout)
	}
}

func TestDHCPFlags(t *testing.T) {
	for _, tc := range []struct {
		name                              string
		mode, iface, ip, rng, router, dns string
		err                               string
	}{
		{"proxy", "proxy", "br0", "10.0.0.1", "", "", "", ""},
		{"full", "full", "br0", "10.0.0.1", "10.0.0.100-10.0.0.200", "10.0.0.1", "10.0.0.1, 10.0.0.2", ""},
		{"no interface", "full", "", "10.0.0.1", "10.0.0.100-10.0.0.200", "", "", "needs -dhcp-interface"},
		{"server ip v6", "proxy", "br0", "fd00::1", "", "", "", `-dhcp-server-ip "fd00::1" is not an IPv4 address`},
		{"range without dash", "full", "br0", "10.0.0.1", "10.0.0.100", "", "", `-dhcp-range "10.0.0.100": write FIRST-LAST`},
		{"bad router", "full", "br0", "10.0.0.1", "10.0.0.100-10.0.0.200", "gw", "", `-dhcp-router "gw"`},
		{"bad dns", "full", "br0", "10.0.0.1", "10.0.0.100-10.0.0.200", "", "10.0.0.1,dns", `-dhcp-dns "dns"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dhcpFlags(tc.mode, tc.iface, tc.ip, tc.rng, "255.255.255.0", tc.router, tc.dns, time.Hour)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Interface != tc.iface || d.ServerIP.String() != tc.ip || d.LeaseTime != time.Hour {
				t.Errorf("got %+v", d)
			}
			if tc.mode == "full" && (d.Mode != dhcp.Full || d.RangeStart.String() != "10.0.0.100" || len(d.DNS) != 2) {
				t.Errorf("full mode: %+v", d)
			}
		})
	}
}

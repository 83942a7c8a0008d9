package stacks_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/stacks"
)

const head = `stack {
  name = "t"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "tpl"
}
# the case's own text starts on line 9
`

type want struct {
	line    int
	summary string
	detail  string // substring of the detail, optional
}

func TestRejections(t *testing.T) {
	kinds := catalog.Kinds()
	cases := []struct {
		name string
		src  string
		want []want
	}{
		{"unknown block", head + `pol "x" {
}
`, []want{{9, "Unsupported block type", `Did you mean "pool"?`}}},
		{"unknown attribute", head + `pool "infra" {
  substrate = substrate.vsphere.dc
  sise      = 3
}
`, []want{{11, "Unsupported argument", `Did you mean "size"?`}, {9, `Missing required attribute "size"`, ""}}},
		{"unknown substrate kind", `stack {
  name = "t"
}
substrate "vpshere" "dc" {
}
`, []want{{4, `Unknown substrate kind "vpshere"`, `Did you mean "vsphere"?`}}},
		{"unknown layer kind", head + `layer "meso" "m" {
}
`, []want{{9, `Unknown layer kind "meso"`, `Did you mean "mesos"?`}}},
		{"unknown role", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "mesos" "m" {
  role "mastr" {
    on = pool.p
  }
}
`, []want{{14, `Unknown role "mastr" for a mesos layer`, `Did you mean "master"?`}}},
		{"missing required attribute", `stack {
  name = "t"
}
substrate "vsphere" "dc" {
  template = "t"
}
`, []want{{4, `Missing required attribute "datacenter"`, ""}}},
		{"a pool without a template", `stack {
  name = "t"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = 1
}
`, []want{{7, `No template`, "set template in the substrate block or in the pool"}}},
		{"wrong type", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = "six"
}
`, []want{{11, `Wrong type for "size"`, "number"}}},
		{"undeclared pool", head + `pool "infra" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "mesos" "m" {
  role "master" {
    on = pool.infr
  }
}
`, []want{{15, `Undeclared pool "infr"`, `Did you mean "infra"?`}}},
		{"undeclared variable", head + `variable "agents" {
  default = 2
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = var.agnets
}
`, []want{{14, `Undeclared variable "agnets"`, `Did you mean "agents"?`}}},
		{"undeclared substrate", head + `pool "p" {
  substrate = substrate.vsphere.dcc
  size      = 1
}
`, []want{{10, `Undeclared substrate vsphere.dcc`, `Did you mean "vsphere.dc"?`}}},
		{"duplicate pool", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 1
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = 1
}
`, []want{{13, `Duplicate pool "p"`, "already declared"}}},
		{"duplicate role", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "mesos" "m" {
  role "master" {
    on = pool.p
    count = 1
  }
  role "master" {
    on = pool.p
    count = 1
  }
}
`, []want{{18, `Duplicate role "master"`, ""}}},
		{"placement not allowed", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "mesos" "a" {
  role "master" {
    on = pool.p
  }
}
layer "mesos" "b" {
  role "master" {
    on = layer.mesos.a
  }
}
`, []want{{20, "A mesos role cannot be placed on a mesos layer", "a pool or a kubernetes layer"}}},
		{"role on an openstack layer", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "openstack" "o" {
  role "controller" {
    on = pool.p
  }
}
layer "kubernetes" "k" {
  role "control-plane" {
    on = layer.openstack.o
  }
}
`, []want{{20, "A kubernetes role cannot be placed on an openstack layer", "declare a pool with substrate = layer.openstack.o"}}},
		{"layer on itself", head + `layer "openstack" "o" {
  role "controller" {
    on = layer.openstack.o
  }
}
`, []want{{11, "An openstack role cannot be placed on an openstack layer", ""}, {11, "Placement cycle", "placed on itself"}}},
		{"cycle through layers", head + `layer "mesos" "m" {
  role "master" {
    on = layer.kubernetes.k
  }
}
layer "kubernetes" "k" {
  role "control-plane" {
    on = layer.mesos.m
  }
}
`, []want{{16, "Placement cycle", "layer.mesos.m → layer.kubernetes.k → layer.mesos.m"}}},
		{"cycle through a pool on an openstack layer", head + `layer "openstack" "o" {
  role "controller" {
    on = pool.tenant
  }
}
pool "tenant" {
  substrate = layer.openstack.o
  size      = 2
}
`, []want{{15, "Placement cycle", "layer.openstack.o → pool.tenant → layer.openstack.o"}}},
		{"counts do not fit", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 2
}
layer "mesos" "m" {
  role "master" {
    on    = pool.p
    count = 3
  }
}
`, []want{{16, `Roles do not fit pool "p"`, "has 2 machines (size at stack.hcl:11,15-16) but its roles ask for 3"}}},
		{"negative count", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 2
}
layer "mesos" "m" {
  role "master" {
    on    = pool.p
    count = -1
  }
}
`, []want{{16, `Invalid value for "count"`, "out of range"}}},
		{"fractional size", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 2.5
}
`, []want{{11, `Invalid value for "size"`, "not a whole number"}}},
		{"inline vsphere password", `stack {
  name = "t"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "tpl"
  password   = "hunter2"
}
`, []want{{7, `Secret "password" written inline`, "VSPHERE_PASSWORD"}}},
		{"inline aws secret key", `stack {
  name = "t"
}
substrate "aws" "a" {
  region     = "us-east-1"
  secret_key = "abc"
}
`, []want{{6, `Secret "secret_key" written inline`, "default chain"}}},
		{"inline bmc password", `stack {
  name = "t"
}
substrate "baremetal" "r" {
  boot_server = "http://10.0.0.2:8080"
  machine "n1" {
    mac          = "52:54:00:00:00:01"
    bmc_password = "calvin"
  }
}
`, []want{{8, `Secret "bmc_password" written inline`, "STRATA_BMC_PASSWORD"}}},
		{"missing stack block", `substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "tpl"
}
`, []want{{1, "Missing stack block", ""}}},
		{"bad stack name", `stack {
  name = "Edge_1"
}
`, []want{{2, `Invalid value for "name"`, "[a-z][a-z0-9-]{0,38}"}}},
		{"two roles take the rest", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "mesos" "m" {
  role "master" {
    on = pool.p
  }
  role "agent" {
    on = pool.p
  }
}
`, []want{{17, `Two roles take the rest of pool "p"`, "give this role a count"}}},
		{"role needs its prerequisite", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "kubernetes" "k" {
  role "worker" {
    on = pool.p
  }
}
`, []want{{14, `Role "worker" needs role "control-plane"`, ""}}},
		{"pool on a layer that is no substrate", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "mesos" "m" {
  role "master" {
    on = pool.p
  }
}
pool "q" {
  substrate = layer.mesos.m
  size      = 1
}
`, []want{{19, "A mesos layer is not a substrate", "openstack"}}},
		{"unknown bare-metal machine", `stack {
  name = "t"
}
substrate "baremetal" "r" {
  boot_server = "http://10.0.0.2:8080"
  machine "n1" {
    mac = "52:54:00:00:00:01"
  }
}
pool "p" {
  substrate = substrate.baremetal.r
  size      = 1
  machines  = ["n2"]
}
`, []want{{13, `Unknown machine "n2"`, "n1"}, {12, "Pool larger than its machines", "only 0 match"}}},
		{"bad mac and bmc", `stack {
  name = "t"
}
substrate "baremetal" "r" {
  boot_server = "10.0.0.2"
  machine "n1" {
    mac = "52:54:00"
    bmc = "ssh://10.0.0.3"
  }
}
`, []want{{5, `Invalid value for "boot_server"`, "http(s) URL"}, {7, `Invalid value for "mac"`, "MAC"}, {8, `Invalid value for "bmc"`, "ipmi://"}}},
		{"output with a bad attribute", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "mesos" "m" {
  role "master" {
    on = pool.p
  }
}
output "x" {
  value = layer.mesos.m.role.mastr.addresses
}
`, []want{{19, "Unsupported attribute", "mastr"}}},
		{"output with an undeclared layer", head + `output "x" {
  value = layer.mesos.m.role
}
`, []want{{10, "Undeclared layer mesos.m", ""}}},
		{"variable without a value", head + `variable "n" {
  type = number
}
`, []want{{9, `No value for variable "n"`, "-var n=VALUE"}}},
		{"quoted reference", head + `pool "p" {
  substrate = "substrate.vsphere.dc"
  size      = 1
}
`, []want{{10, `Invalid reference in "substrate"`, "without quotes"}}},
		{"machine names too long", `stack {
  name = "a-very-long-stack-name-for-testing-xyz"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "tpl"
}
pool "a-rather-long-pool-name-too" {
  substrate = substrate.vsphere.dc
  size      = 10
}
`, []want{{8, "Machine names too long", "hostnames allow 63"}}},
		{"several errors at once", head + `pool "p" {
  substrate = substrate.vsphere.dc
  size      = -2
  colour    = "red"
}
layer "kubernets" "k" {
}
`, []want{{11, `Invalid value for "size"`, ""}, {12, "Unsupported argument", ""}, {14, `Unknown layer kind "kubernets"`, `Did you mean "kubernetes"?`}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _, diags := stacks.Parse(map[string][]byte{"stack.hcl": []byte(tc.src)}, kinds, stacks.Options{})
			if s != nil {
				t.Fatalf("stack accepted; want %d error(s)", len(tc.want))
			}
			errs := diags.Errs()
			for _, w := range tc.want {
				if !hasDiag(diags, w) {
					t.Errorf("missing diagnostic at line %d %q (detail ~ %q); got:\n%s", w.line, w.summary, w.detail, dump(diags))
				}
			}
			if len(errs) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%s", len(errs), len(tc.want), dump(diags))
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && (d.Subject == nil || d.Subject.Filename != "stack.hcl") {
					t.Errorf("diagnostic without a position in the file: %s", d.Summary)
				}
				if d.Severity == hcl.DiagError && d.Detail == "" {
					t.Errorf("diagnostic %q says nothing about how to fix it", d.Summary)
				}
			}
		})
	}
}

func hasDiag(diags hcl.Diagnostics, w want) bool {
	for _, d := range diags {
		if d.Subject != nil && d.Subject.Start.Line == w.line && strings.Contains(d.Summary, w.summary) && strings.Contains(d.Detail, w.detail) {
			return true
		}
	}
	return false
}

func dump(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		fmt.Fprintf(&b, "  line %d: %s: %s\n", line, d.Summary, d.Detail)
	}
	return b.String()
}

func TestVariables(t *testing.T) {
	kinds := catalog.Kinds()
	src := head + `variable "agents" {
  type    = number
  default = 1
}
variable "zone" {
  type = string
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = var.agents + 1
  labels    = { zone = upper(var.zone) }
}
`
	cases := []struct {
		name     string
		opts     stacks.Options
		size     int
		zone     string
		errorSub string
	}{
		{"flags", stacks.Options{Vars: []string{"agents=4", "zone=eu-1"}}, 5, "EU-1", ""},
		{"typed values win", stacks.Options{Vars: []string{"zone=a"}, Values: map[string]cty.Value{"agents": cty.NumberIntVal(7)}}, 8, "A", ""},
		{"undeclared flag", stacks.Options{Vars: []string{"zone=a", "agnets=3"}}, 0, "", `Did you mean "agents"?`},
		{"wrong type", stacks.Options{Vars: []string{"zone=a", "agents=many"}}, 0, "", `Wrong type for variable "agents"`},
		{"malformed flag", stacks.Options{Vars: []string{"zone"}}, 0, "", "is not NAME=VALUE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _, diags := stacks.Parse(map[string][]byte{"s.hcl": []byte(src)}, kinds, tc.opts)
			if tc.errorSub != "" {
				if s != nil || !strings.Contains(dump(diags), tc.errorSub) {
					t.Fatalf("want an error containing %q, got:\n%s", tc.errorSub, dump(diags))
				}
				return
			}
			if s == nil {
				t.Fatalf("unexpected errors:\n%s", dump(diags))
			}
			p := s.Pool("p")
			if p.Size != tc.size || p.Labels["zone"] != tc.zone {
				t.Fatalf("size=%d zone=%q, want %d %q", p.Size, p.Labels["zone"], tc.size, tc.zone)
			}
		})
	}
}

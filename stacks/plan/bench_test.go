package plan_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// bigStack is a stack of n machines spread evenly over four substrates
// (one pool each) and three layers; the bare-metal pool declares one
// machine block per machine, as a real rack inventory would.
func bigStack(n int) []byte {
	per := n / 4
	var b strings.Builder
	b.WriteString(`stack {
  name = "big"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "ubuntu"
}
substrate "aws" "use1" {
  region = "us-east-1"
  ami    = "ami-0123"
}
substrate "openstack" "lab" {
  cloud = "lab"
  image = "ubuntu"
}
substrate "baremetal" "rack" {
  boot_server = "http://10.0.0.2:8080"
  image {
    kernel = "http://10.0.0.2:8080/vmlinuz"
  }
`)
	for i := 0; i < per; i++ {
		fmt.Fprintf(&b, "  machine \"m%d\" {\n    mac = \"52:54:%02x:%02x:%02x:%02x\"\n    bmc = \"ipmi://10.1.%d.%d\"\n    labels = { row = \"r%d\" }\n  }\n",
			i, (i>>24)&0xff, (i>>16)&0xff, (i>>8)&0xff, i&0xff, i/250, i%250, i%4)
	}
	b.WriteString("}\n")
	for _, p := range []struct{ name, sub string }{{"vs", "substrate.vsphere.dc"}, {"ec2", "substrate.aws.use1"}, {"os", "substrate.openstack.lab"}, {"metal", "substrate.baremetal.rack"}} {
		fmt.Fprintf(&b, "pool %q {\n  substrate = %s\n  size = %d\n  cpus = 4\n  memory_mb = 8192\n}\n", p.name, p.sub, per)
	}
	b.WriteString(`layer "mesos" "m" {
  role "master" {
    on    = pool.vs
    count = 3
  }
  role "agent" {
    on = pool.vs
  }
}
layer "kubernetes" "k" {
  role "control-plane" {
    on    = pool.ec2
    count = 3
  }
  role "worker" {
    on = pool.ec2
  }
}
layer "openstack" "o" {
  role "controller" {
    on    = pool.metal
    count = 3
  }
  role "compute" {
    on = pool.metal
  }
}
`)
	return []byte(b.String())
}

// BenchmarkValidateCompilePlan10k measures parse + validate + compile +
// JSON plan of a 10,000-machine stack. Target: < 500 ms and < 256 MiB
// allocated per op on one core (go test -bench . -benchmem -cpu 1).
func BenchmarkValidateCompilePlan10k(b *testing.B) {
	src := bigStack(10000)
	kinds := catalog.Kinds()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, _, diags := stacks.Parse(map[string][]byte{"big.strata.hcl": src}, kinds, stacks.Options{})
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		p := plan.Compile(s, kinds)
		if len(p.Machines) != 10000 {
			b.Fatalf("%d machines", len(p.Machines))
		}
		var sink strings.Builder
		if err := p.WriteJSON(&sink); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBigStackIsValid also writes the 10,000-machine stack to
// $STRATA_BIGSTACK_OUT when set, for acceptance/bench/plan10k.sh to time
// the CLI on it.
func TestBigStackIsValid(t *testing.T) {
	if out := os.Getenv("STRATA_BIGSTACK_OUT"); out != "" {
		if err := os.WriteFile(out, bigStack(10000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kinds := catalog.Kinds()
	s, _, diags := stacks.Parse(map[string][]byte{"big.strata.hcl": bigStack(400)}, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := plan.Compile(s, kinds)
	if len(p.Machines) != 400 || len(p.Layers) != 3 {
		t.Fatalf("%d machines, %d layers", len(p.Machines), len(p.Layers))
	}
}

package stacks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
)

// A registered kind without a provisioner validates, and applying a stack
// on it fails before anything is made, naming the kinds that can.
func TestKindWithoutProvisioner(t *testing.T) {
	kinds := catalog.Kinds()
	kinds.Substrates["demo"] = provisioners.Kind{Spec: provisioners.Spec{Kind: "demo"}}
	s, _, diags := stacks.Parse(map[string][]byte{"s.hcl": []byte(`stack {
  name = "d"
}
substrate "demo" "x" {
}
pool "p" {
  substrate = substrate.demo.x
  size      = 1
}
`)}, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	err := kinds.Unprovisioned(s)
	if err == nil || !strings.Contains(err.Error(), `substrate demo.x: kind "demo" is not supported by this version of strata yet (supported: aws, baremetal, openstack, vsphere)`) {
		t.Errorf("Unprovisioned: %v", err)
	}
	if _, err := kinds.Open(context.Background(), provisioners.Env{}, s.Substrates[0]); err == nil {
		t.Error("opened a kind without a provisioner")
	}
	if got := strings.Join(kinds.Provisioned(), ","); got != "aws,baremetal,openstack,vsphere" {
		t.Errorf("Provisioned = %s", got)
	}
}

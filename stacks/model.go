package stacks

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/stacks/schema"
)

// Stack is a validated stack.
type Stack struct {
	Name       string
	Variables  map[string]Variable
	Substrates []*Substrate
	Pools      []*Pool
	Layers     []*Layer
	Outputs    []*Output
	// Files holds the parsed sources, for printing diagnostics with context.
	Files map[string]*hcl.File
}

// Variable is a declared variable and the value it took.
type Variable struct {
	Type        cty.Type
	Value       cty.Value
	Description string
	Sensitive   bool
}

// Substrate is a `substrate "KIND" "NAME"` block.
type Substrate struct {
	Kind     string
	Name     string
	Settings schema.Values
	Range    hcl.Range
	// Access is set only on the substrate a layer becomes (an openstack
	// layer's cloud, for the pools placed on it): how to reach it, with the
	// credentials derived from the stack's secrets, by name (auth_url,
	// username, password, project_name, user_domain_name,
	// project_domain_name, region, or cloud: a clouds.yaml entry). A stack
	// file never sets it.
	Access map[string]string
}

// Ref is a reference to a block: substrate.KIND.NAME, layer.KIND.NAME or
// pool.NAME.
type Ref struct {
	Root  string // substrate, layer or pool
	Kind  string // empty for pools
	Name  string
	Range hcl.Range
}

// String is the reference as written: "layer.mesos.core", "pool.infra".
func (r Ref) String() string {
	if r.Kind == "" {
		return r.Root + "." + r.Name
	}
	return r.Root + "." + r.Kind + "." + r.Name
}

// Key is the reference without its root: "mesos.core", "infra".
func (r Ref) Key() string {
	if r.Kind == "" {
		return r.Name
	}
	return r.Kind + "." + r.Name
}

// Pool is a `pool "NAME"` block.
type Pool struct {
	Name string
	// Substrate is substrate.KIND.NAME, or layer.KIND.NAME for a layer that
	// is itself a substrate.
	Substrate     Ref
	SubstrateKind string // the provisioner kind: vsphere, aws, openstack, baremetal
	Size          int
	SizeRange     hcl.Range // the size expression, for errors about what the pool holds
	CPUs          int
	MemoryMB      int
	DiskGB        int
	Labels        map[string]string
	// Settings are the substrate-specific pool settings.
	Settings schema.Values
	Range    hcl.Range
}

// Layer is a `layer "KIND" "NAME"` block.
type Layer struct {
	Kind     string
	Name     string
	Version  string
	Settings schema.Values
	// Roles are in the kind's bring-up order.
	Roles []*Role
	Range hcl.Range
}

// Key is "KIND.NAME".
func (l *Layer) Key() string { return l.Kind + "." + l.Name }

// Role is a `role "NAME"` block: where a role goes and how many.
type Role struct {
	Name string
	On   Ref
	// Count is the number of machines or instances; for a role on a pool
	// without count it is the pool's remaining machines.
	Count      int
	CountSet   bool
	CountRange hcl.Range // the count expression, which errors about it point at
	Range      hcl.Range
}

// Output is an `output "NAME"` block; its value is known after apply.
type Output struct {
	Name        string
	Expr        hcl.Expression
	Description string
	Sensitive   bool
}

// Pool returns the pool of a name.
func (s *Stack) Pool(name string) *Pool {
	for _, p := range s.Pools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Layer returns the layer of a "KIND.NAME" key.
func (s *Stack) Layer(key string) *Layer {
	for _, l := range s.Layers {
		if l.Key() == key {
			return l
		}
	}
	return nil
}

// Substrate returns the substrate of a "KIND.NAME" key.
func (s *Stack) Substrate(key string) *Substrate {
	for _, b := range s.Substrates {
		if b.Kind+"."+b.Name == key {
			return b
		}
	}
	return nil
}

// Role returns the layer's role of a name, or nil.
func (l *Layer) Role(name string) *Role {
	for _, r := range l.Roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

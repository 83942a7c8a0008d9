package layers

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/stratastack/strata/provisioners"

	"github.com/stratastack/strata/stacks/schema"
)

// Pool is the placement name for "on the machines of a pool".
const Pool = "pool"

// Layer is one layer kind.
type Layer interface {
	// Kind is the block label users write: layer "KIND" "name".
	Kind() string
	// DefaultVersion is the pinned version used when the stack sets none.
	DefaultVersion() string
	// Attrs are the kind's own settings, beside the common `version`.
	Attrs() []schema.Attr
	// Roles lists the roles in bring-up order.
	Roles() []Role
	// SubstrateKind is the substrate kind whose pool settings apply to pools
	// placed on a layer of this kind, or "" when the layer is not a substrate.
	SubstrateKind() string
	// RenderNode renders the bootstrap one machine of a pool runs.
	RenderNode(ctx context.Context, n Node) (Bootstrap, error)
	// RenderHosted renders the objects that bring a role up on a host layer
	// (Kubernetes objects for kubernetes, Marathon definitions for mesos).
	RenderHosted(ctx context.Context, h Hosted) ([]Object, error)
}

// ErrNotUp says a layer cannot be reached yet: what Access needs (its
// controllers' addresses) is not known.
var ErrNotUp = errors.New("the layer is not up yet")

// Substrate is implemented by the layer kinds whose SubstrateKind is not
// "": it says how the pools placed on a layer reach the substrate it
// became, once it is up.
type Substrate interface {
	// Access returns the endpoint and credentials, keyed as
	// stacks.Substrate.Access documents, or an error wrapping ErrNotUp
	// while members it needs have no address.
	Access(ctx context.Context, c Cluster) (map[string]string, error)
}

// Role is one role of a layer kind.
type Role struct {
	Name string
	// On lists where the role may be placed: Pool and/or host layer kinds.
	On []string
	// After lists roles of the same layer that must be ready first.
	After []string
	// Spread says the role's machines hold a quorum or the control plane:
	// they should be on distinct hosts where the substrate can place them
	// so (provisioners.Machine.Group).
	Spread bool
	Doc    string
}

// Allows reports whether the role may be placed on placement.
func (r Role) Allows(placement string) bool {
	for _, p := range r.On {
		if p == placement {
			return true
		}
	}
	return false
}

// Secrets derives the per-stack secrets renderers need. Each purpose
// always yields the same value for one stack, and different stacks differ.
type Secrets interface {
	// Token returns n lowercase letters and digits.
	Token(purpose string, n int) string
	// Key returns n bytes of key material.
	Key(purpose string, n int) []byte
}

// Member is one machine (or hosted instance) of a role.
type Member struct {
	Name  string
	Index int // index within the role
	// Address is the machine's address when known before bootstrap (bare
	// metal, adopted machines); renderers fall back to Name otherwise.
	Address string
}

// Host returns the address to reach the member at.
func (m Member) Host() string {
	if m.Address != "" {
		return m.Address
	}
	return m.Name
}

// Cluster is what a renderer knows about one layer of a stack.
type Cluster struct {
	Stack    string
	Kind     string
	Name     string
	Version  string
	Settings schema.Values
	// Members holds each role's machines or instances, by role name.
	Members map[string][]Member
	// Placements says where each role is placed: Pool or a host layer kind.
	Placements map[string]string
	Secrets    Secrets
	// Mark is the run's expiry and author, for hosts to label objects
	// with (MarkLabels) where a label change restarts nothing.
	Mark provisioners.Mark
}

// Key is the layer's "KIND.NAME".
func (c Cluster) Key() string { return c.Kind + "." + c.Name }

// Node is one machine of a pool to render a bootstrap for.
type Node struct {
	Cluster
	Role    string
	Machine Member
	Labels  map[string]string
}

// Hosted is one role placed on a host layer.
type Hosted struct {
	Cluster
	Role     string
	Count    int
	HostKind string // the host layer's kind
	HostName string // the host layer's name
}

// Bootstrap is what a machine runs first: a cloud-init document.
type Bootstrap struct {
	Format   string // "cloud-config"
	UserData []byte
	// Sensitive is true when UserData holds secrets (tokens, keys).
	Sensitive bool
}

// Object is one rendered object for a host layer.
type Object struct {
	Format string // "kubernetes" (YAML) or "marathon" (JSON)
	Kind   string // e.g. "StatefulSet", "app", "group"
	Name   string
	Body   []byte
	// Sensitive is true when Body holds secrets.
	Sensitive bool
	// Labels are the labels Body gives the object, which its host lists
	// it by (Cluster.Labels).
	Labels map[string]string
}

// Set is the layer kinds a stack may use, by kind.
type Set struct{ byKind map[string]Layer }

// NewSet builds a set; kinds must be unique.
func NewSet(ls ...Layer) (*Set, error) {
	s := &Set{byKind: map[string]Layer{}}
	for _, l := range ls {
		if _, dup := s.byKind[l.Kind()]; dup {
			return nil, fmt.Errorf("layer kind %q registered twice", l.Kind())
		}
		s.byKind[l.Kind()] = l
	}
	return s, nil
}

// Get returns the layer of a kind.
func (s *Set) Get(kind string) (Layer, bool) {
	l, ok := s.byKind[kind]
	return l, ok
}

// Kinds lists the kinds, sorted.
func (s *Set) Kinds() []string {
	out := make([]string, 0, len(s.byKind))
	for k := range s.byKind {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// RoleOf finds a role of a layer.
func RoleOf(l Layer, name string) (Role, bool) {
	for _, r := range l.Roles() {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

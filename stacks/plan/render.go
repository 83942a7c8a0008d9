package plan

import (
	"context"
	"fmt"
	"strconv"

	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
)

// Addresses are machine addresses known before a render (machines already
// up, fixed bare-metal addresses), by machine name.
type Addresses map[string]string

// Cluster is what the layer of key ("KIND.NAME") renders from: its
// settings, where each role goes, and each role's members. Members of a
// role on a pool are its machines; of a hosted role, its instances.
func (p *Plan) Cluster(key string, sec layers.Secrets, known Addresses) (layers.Cluster, error) {
	l := p.stack.Layer(key)
	if l == nil {
		return layers.Cluster{}, fmt.Errorf("the stack has no layer %q", key)
	}
	c := layers.Cluster{
		Stack: p.Stack, Kind: l.Kind, Name: l.Name, Version: l.Version, Settings: l.Settings, Secrets: sec, Mark: p.Mark,
		Members: map[string][]layers.Member{}, Placements: map[string]string{},
	}
	for _, r := range l.Roles {
		if r.On.Root == "pool" {
			c.Placements[r.Name] = layers.Pool
			continue
		}
		c.Placements[r.Name] = r.On.Kind
		for i := 0; i < r.Count; i++ {
			c.Members[r.Name] = append(c.Members[r.Name], layers.Member{
				Name: p.Stack + "-" + l.Name + "-" + r.Name + "-" + strconv.Itoa(i), Index: i})
		}
	}
	for _, m := range p.Machines {
		if m.Layer == key {
			c.Members[m.Role] = append(c.Members[m.Role], layers.Member{Name: m.Name, Index: m.RoleIndex, Address: known[m.Name]})
		}
	}
	return c, nil
}

// RenderNode renders the bootstrap of the machine at pool/index; known
// addresses (nil for none) let it name its peers by address.
func (p *Plan) RenderNode(ctx context.Context, sec layers.Secrets, pool string, index int, known Addresses) (layers.Bootstrap, error) {
	m, ok := p.Machine(pool, index)
	if !ok {
		if p.stack.Pool(pool) == nil {
			return layers.Bootstrap{}, fmt.Errorf("the stack has no pool %q", pool)
		}
		return layers.Bootstrap{}, fmt.Errorf("pool %q has no machine %d (size %d)", pool, index, p.stack.Pool(pool).Size)
	}
	if m.Role == "" {
		return layers.Bootstrap{}, fmt.Errorf("machine %s carries no layer role, so it has no bootstrap", m.Name)
	}
	impl, c, err := p.layer(m.Layer, sec, known)
	if err != nil {
		return layers.Bootstrap{}, err
	}
	return impl.RenderNode(ctx, layers.Node{
		Cluster: c, Role: m.Role,
		Machine: layers.Member{Name: m.Name, Index: m.RoleIndex, Address: known[m.Name]},
		Labels:  p.stack.Pool(pool).Labels,
	})
}

// RenderHosted renders the objects of a role of layer key ("KIND.NAME")
// placed on another layer; known addresses (nil for none) let it name
// members on pools by address. Each object carries the role's labels.
func (p *Plan) RenderHosted(ctx context.Context, sec layers.Secrets, key, role string, known Addresses) ([]layers.Object, error) {
	impl, c, err := p.layer(key, sec, known)
	if err != nil {
		return nil, err
	}
	r := p.stack.Layer(key).Role(role)
	if r == nil {
		return nil, fmt.Errorf("layer %s has no role %q", key, role)
	}
	if r.On.Root != "layer" {
		return nil, fmt.Errorf("role %s of layer %s is placed on %s, not on a layer: render its machines with -node", role, key, r.On)
	}
	objs, err := impl.RenderHosted(ctx, layers.Hosted{Cluster: c, Role: role, Count: r.Count, HostKind: r.On.Kind, HostName: r.On.Name})
	for i := range objs {
		objs[i].Labels = c.Labels(role)
	}
	return objs, err
}

// CanHost reports whether the layer of key ("KIND.NAME") is of a kind
// that roles of other layers can be submitted to (layers.Hosting).
func (p *Plan) CanHost(key string) bool {
	l := p.stack.Layer(key)
	if l == nil {
		return false
	}
	impl, _ := p.kinds.Layers.Get(l.Kind)
	_, ok := impl.(layers.Hosting)
	return ok
}

// LayerHost reaches the layer of key ("KIND.NAME") as a host for other
// layers' roles. known gives its members' addresses; without the ones it
// needs the error wraps layers.ErrNotUp.
func (p *Plan) LayerHost(ctx context.Context, sec layers.Secrets, key string, known Addresses) (layers.Host, error) {
	impl, c, err := p.layer(key, sec, known)
	if err != nil {
		return nil, err
	}
	h, ok := impl.(layers.Hosting)
	if !ok {
		return nil, fmt.Errorf("layer %s cannot host roles of other layers: submitting to a %s layer is not implemented yet", key, impl.Kind())
	}
	return h.Host(ctx, c)
}

func (p *Plan) layer(key string, sec layers.Secrets, known Addresses) (layers.Layer, layers.Cluster, error) {
	c, err := p.Cluster(key, sec, known)
	if err != nil {
		return nil, c, err
	}
	impl, ok := p.kinds.Layers.Get(p.stack.Layer(key).Kind)
	if !ok {
		return nil, c, fmt.Errorf("layer kind %q is not known", p.stack.Layer(key).Kind)
	}
	return impl, c, nil
}

// Source is the stack the plan was compiled from.
func (p *Plan) Source() *stacks.Stack { return p.stack }

// LayerSubstrate is the substrate the layer of key ("KIND.NAME") became,
// for the pools placed on it: its kind, and the endpoint and credentials
// the layer kind derives (stacks.Substrate.Access). known gives its
// members' addresses; without the ones it needs the error wraps
// layers.ErrNotUp.
func (p *Plan) LayerSubstrate(ctx context.Context, sec layers.Secrets, key string, known Addresses) (*stacks.Substrate, error) {
	impl, c, err := p.layer(key, sec, known)
	if err != nil {
		return nil, err
	}
	ls, ok := impl.(layers.Substrate)
	if !ok || impl.SubstrateKind() == "" {
		return nil, fmt.Errorf("layer %s is not a substrate: pools cannot be placed on a %s layer", key, impl.Kind())
	}
	access, err := ls.Access(ctx, c)
	if err != nil {
		return nil, err
	}
	return &stacks.Substrate{Kind: impl.SubstrateKind(), Name: key, Access: access}, nil
}

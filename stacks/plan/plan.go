package plan

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
)

// Plan is what a stack will make, in the order it is made.
type Plan struct {
	Stack    string    `json:"stack"`
	Machines []Machine `json:"machines"`
	Hosted   []Hosted  `json:"hosted"`
	Layers   []Layer   `json:"layers"`
	Steps    []Step    `json:"steps"`
	// Mark is this run's expiry and author, which every machine and
	// hosted object carries; the caller sets it (it is not in the file).
	Mark provisioners.Mark `json:"-"`

	stack *stacks.Stack
	kinds stacks.Kinds
}

// Machine is one machine of a pool.
type Machine struct {
	Name          string            `json:"name"`
	Pool          string            `json:"pool"`
	Index         int               `json:"index"`
	Substrate     string            `json:"substrate"` // substrate.KIND.NAME or layer.KIND.NAME
	SubstrateKind string            `json:"substrate_kind"`
	Layer         string            `json:"layer,omitempty"` // KIND.NAME
	Role          string            `json:"role,omitempty"`
	RoleIndex     int               `json:"role_index"`
	CPUs          int               `json:"cpus"`
	MemoryMB      int               `json:"memory_mb"`
	DiskGB        int               `json:"disk_gb"`
	Tags          map[string]string `json:"tags"`
	// Group names the machines that should be on distinct hosts (the
	// members of a role that spreads, STACK-KIND.NAME-ROLE), or is empty.
	Group string `json:"group,omitempty"`
}

// Hosted is a role brought up as workloads of another layer.
type Hosted struct {
	Layer string `json:"layer"` // KIND.NAME
	Role  string `json:"role"`
	On    string `json:"on"` // the host layer, KIND.NAME
	Count int    `json:"count"`
}

// Layer summarises one layer.
type Layer struct {
	Kind    string      `json:"kind"`
	Name    string      `json:"name"`
	Version string      `json:"version"`
	Roles   []Placement `json:"roles"`
}

// Placement is one role of a layer and where it goes.
type Placement struct {
	Role  string `json:"role"`
	On    string `json:"on"` // pool.NAME or layer.KIND.NAME
	Count int    `json:"count"`
}

// Step is one action of the bring-up. Steps of one stage may run in
// parallel; a step runs after every step it lists in After.
type Step struct {
	ID     string   `json:"id"`
	Action string   `json:"action"` // create, submit, ready
	Target string   `json:"target"` // the substrate or host layer it acts on
	Count  int      `json:"count"`
	After  []string `json:"after,omitempty"`
	Stage  int      `json:"stage"`
}

// Compile turns a validated stack into a plan.
func Compile(s *stacks.Stack, kinds stacks.Kinds) *Plan {
	p := &Plan{Stack: s.Name, stack: s, kinds: kinds, Hosted: []Hosted{}, Machines: []Machine{}}
	total := 0
	for _, pool := range s.Pools {
		total += pool.Size
	}
	p.Machines = make([]Machine, 0, total)
	// Roles per pool in declaration order of layers and bring-up order of
	// roles: counted roles first, the role without a count takes the rest,
	// so growing a pool only appends machines.
	onPool := map[string][]roleRef{}
	for _, l := range s.Layers {
		pl := Layer{Kind: l.Kind, Name: l.Name, Version: l.Version}
		for _, r := range l.Roles {
			pl.Roles = append(pl.Roles, Placement{Role: r.Name, On: r.On.String(), Count: r.Count})
			if r.On.Root == "pool" {
				onPool[r.On.Name] = append(onPool[r.On.Name], roleRef{l, r})
			} else {
				p.Hosted = append(p.Hosted, Hosted{Layer: l.Key(), Role: r.Name, On: r.On.Key(), Count: r.Count})
			}
		}
		p.Layers = append(p.Layers, pl)
	}
	for _, pool := range s.Pools {
		roles := onPool[pool.Name]
		sort.SliceStable(roles, func(i, j int) bool { return roles[i].role.CountSet && !roles[j].role.CountSet })
		idx := 0
		for _, rr := range roles {
			group := ""
			if impl, ok := kinds.Layers.Get(rr.layer.Kind); ok {
				if r, ok := layers.RoleOf(impl, rr.role.Name); ok && r.Spread {
					group = s.Name + "-" + rr.layer.Key() + "-" + rr.role.Name
				}
			}
			for i := 0; i < rr.role.Count && idx < pool.Size; i++ {
				m := machine(s.Name, pool, idx, rr.layer.Key(), rr.role.Name, i)
				m.Group = group
				p.Machines = append(p.Machines, m)
				idx++
			}
		}
		for ; idx < pool.Size; idx++ {
			p.Machines = append(p.Machines, machine(s.Name, pool, idx, "", "", idx))
		}
	}
	p.Steps = steps(s, kinds)
	return p
}

type roleRef struct {
	layer *stacks.Layer
	role  *stacks.Role
}

// Name is a machine's stable name.
func Name(stack, pool string, index int) string {
	return stack + "-" + pool + "-" + strconv.Itoa(index)
}

func machine(stack string, pool *stacks.Pool, idx int, layer, role string, roleIdx int) Machine {
	tags := map[string]string{provisioners.TagStack: stack, provisioners.TagPool: pool.Name, provisioners.TagIndex: strconv.Itoa(idx),
		provisioners.TagOn: pool.Substrate.String()}
	if role != "" {
		tags[provisioners.TagLayer], tags[provisioners.TagRole] = layer, role
	}
	return Machine{
		Name: Name(stack, pool.Name, idx), Pool: pool.Name, Index: idx,
		Substrate: pool.Substrate.String(), SubstrateKind: pool.SubstrateKind,
		Layer: layer, Role: role, RoleIndex: roleIdx,
		CPUs: pool.CPUs, MemoryMB: pool.MemoryMB, DiskGB: pool.DiskGB, Tags: tags,
	}
}

// Machine finds a machine by pool and index.
func (p *Plan) Machine(pool string, index int) (Machine, bool) {
	for _, m := range p.Machines {
		if m.Pool == pool && m.Index == index {
			return m, true
		}
	}
	return Machine{}, false
}

func ready(key string) string { return "ready:layer." + key }

func roleReady(key, role string) string { return "ready:layer." + key + "/" + role }

// steps builds the bring-up graph and orders it by stage.
func steps(s *stacks.Stack, kinds stacks.Kinds) []Step {
	var out []Step
	poolAfter := map[string][]string{}
	for _, pool := range s.Pools {
		if pool.Substrate.Root == "layer" {
			poolAfter[pool.Name] = []string{ready(pool.Substrate.Key())}
		}
	}
	assigned := map[string]int{}
	for _, l := range s.Layers {
		impl, _ := kinds.Layers.Get(l.Kind)
		var roleIDs []string
		for _, r := range l.Roles {
			var after []string
			if spec, ok := layers.RoleOf(impl, r.Name); ok {
				for _, a := range spec.After {
					if l.Role(a) != nil {
						after = append(after, roleReady(l.Key(), a))
					}
				}
			}
			var id string
			if r.On.Root == "pool" {
				id = fmt.Sprintf("create:pool.%s/%s/%s", r.On.Name, l.Key(), r.Name)
				after = append(after, poolAfter[r.On.Name]...)
				out = append(out, Step{ID: id, Action: "create", Target: s.Pool(r.On.Name).Substrate.String(), Count: r.Count, After: after})
				assigned[r.On.Name] += r.Count
			} else {
				id = fmt.Sprintf("submit:layer.%s/%s", l.Key(), r.Name)
				after = append(after, ready(r.On.Key()))
				out = append(out, Step{ID: id, Action: "submit", Target: r.On.String(), Count: r.Count, After: after})
			}
			out = append(out, Step{ID: roleReady(l.Key(), r.Name), Action: "ready", Target: "layer." + l.Key(), Count: r.Count, After: []string{id}})
			roleIDs = append(roleIDs, roleReady(l.Key(), r.Name))
		}
		out = append(out, Step{ID: ready(l.Key()), Action: "ready", Target: "layer." + l.Key(), After: roleIDs})
	}
	for _, pool := range s.Pools {
		if rest := pool.Size - assigned[pool.Name]; rest > 0 {
			out = append(out, Step{ID: "create:pool." + pool.Name, Action: "create", Target: pool.Substrate.String(), Count: rest, After: poolAfter[pool.Name]})
		}
	}
	stage := map[string]int{}
	byID := map[string]*Step{}
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	// The stack has no cycles (validated), so this memoised depth terminates.
	var depth func(id string) int
	depth = func(id string) int {
		if d, ok := stage[id]; ok {
			return d
		}
		d := 0
		for _, a := range byID[id].After {
			if x := depth(a) + 1; x > d {
				d = x
			}
		}
		stage[id] = d
		return d
	}
	for i := range out {
		out[i].Stage = depth(out[i].ID) + 1
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Stage != out[j].Stage {
			return out[i].Stage < out[j].Stage
		}
		return out[i].ID < out[j].ID
	})
	return out
}

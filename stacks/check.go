package stacks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/stacks/layers"
)

// check runs the whole-stack rules once every block decoded cleanly:
// placements, role prerequisites, cycles, pool counts, outputs.
func (d *decoder) check(s *Stack) {
	for _, l := range s.Layers {
		impl, _ := d.kinds.Layers.Get(l.Kind)
		present := map[string]bool{}
		for _, r := range l.Roles {
			present[r.Name] = true
		}
		for _, r := range l.Roles {
			spec, _ := layers.RoleOf(impl, r.Name)
			d.placement(s, l, r, spec)
			for _, after := range spec.After {
				if !present[after] {
					d.errorf(r.Range, fmt.Sprintf("Role %q needs role %q", r.Name, after),
						"A %s layer's %s joins its %s: declare role %q in layer %q %q too.", l.Kind, r.Name, after, after, l.Kind, l.Name)
				}
			}
			if r.On.Root == "layer" && !r.CountSet {
				r.Count = 1
			}
		}
	}
	d.cycles(s)
	d.counts(s)
	ctx := Scope(s, nil)
	for _, o := range s.Outputs {
		if o.Expr == nil {
			continue
		}
		_, diags := o.Expr.Value(ctx)
		d.diags = append(d.diags, diags...)
	}
}

// placementName is where a ref puts a role: "pool" or the host layer kind.
func placementName(r Ref) string {
	if r.Root == "pool" {
		return layers.Pool
	}
	return r.Kind
}

func (d *decoder) placement(s *Stack, l *Layer, r *Role, spec layers.Role) {
	where := placementName(r.On)
	if spec.Allows(where) {
		return
	}
	var can []string
	for _, p := range spec.On {
		if p == layers.Pool {
			can = append(can, "a pool")
		} else {
			can = append(can, article(p, false)+" "+p+" layer")
		}
	}
	detail := fmt.Sprintf("The %s role of a %s layer can be placed on %s.", r.Name, l.Kind, strings.Join(can, " or "))
	if host, ok := d.kinds.Layers.Get(r.On.Kind); ok && r.On.Root == "layer" && host.SubstrateKind() != "" {
		detail += fmt.Sprintf(" %s %s layer is a substrate: declare a pool with substrate = %s and place the role on that pool.", article(r.On.Kind, true), r.On.Kind, r.On)
	}
	d.errorf(r.On.Range, fmt.Sprintf("%s %s role cannot be placed on %s %s layer", article(l.Kind, true), l.Kind, article(r.On.Kind, false), r.On.Kind), "%s", detail)
}

// cycles finds placement cycles: a layer on itself, layers on each other,
// or a pool on an openstack layer that sits (through anything) on that pool.
func (d *decoder) cycles(s *Stack) {
	type edge struct {
		to  string
		rng hcl.Range
	}
	graph := map[string][]edge{}
	var nodes []string
	for _, l := range s.Layers {
		from := "layer." + l.Key()
		nodes = append(nodes, from)
		for _, r := range l.Roles {
			graph[from] = append(graph[from], edge{r.On.String(), r.On.Range})
		}
	}
	for _, p := range s.Pools {
		from := "pool." + p.Name
		nodes = append(nodes, from)
		if p.Substrate.Root == "layer" {
			graph[from] = append(graph[from], edge{p.Substrate.String(), p.Substrate.Range})
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var path []string
	reported := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		path = append(path, n)
		for _, e := range graph[n] {
			switch color[e.to] {
			case white:
				visit(e.to)
			case grey:
				start := 0
				for i, p := range path {
					if p == e.to {
						start = i
					}
				}
				cycle := append(append([]string(nil), path[start:]...), e.to)
				key := append([]string(nil), path[start:]...)
				sort.Strings(key)
				if reported[strings.Join(key, " ")] {
					continue
				}
				reported[strings.Join(key, " ")] = true
				if len(cycle) == 2 {
					d.errorf(e.rng, "Placement cycle", "%s is placed on itself; place its roles on a pool or on another layer.", n)
				} else {
					d.errorf(e.rng, "Placement cycle", "%s: nothing in this loop can come up first. Place one of them on a pool that does not depend on the others.",
						strings.Join(cycle, " → "))
				}
			}
		}
		path = path[:len(path)-1]
		color[n] = black
	}
	for _, n := range nodes {
		if color[n] == white {
			visit(n)
		}
	}
}

// counts checks that the roles on each pool fit its size; at most one role
// per pool may omit count and take the machines the others leave.
func (d *decoder) counts(s *Stack) {
	for _, p := range s.Pools {
		used := 0
		var counted []string
		var rest *Role
		for _, l := range s.Layers {
			for _, r := range l.Roles {
				if r.On.Root != "pool" || r.On.Name != p.Name {
					continue
				}
				if !r.CountSet {
					if rest != nil {
						d.errorf(r.Range, fmt.Sprintf("Two roles take the rest of pool %q", p.Name),
							"Role %q at %s already takes the machines left on pool %q; give this role a count.", rest.Name, rest.Range, p.Name)
						continue
					}
					rest = r
					continue
				}
				used += r.Count
				counted = append(counted, fmt.Sprintf("%s.%s %s = %d", l.Kind, l.Name, r.Name, r.Count))
				if used > p.Size {
					d.errorf(r.CountRange, fmt.Sprintf("Roles do not fit pool %q", p.Name),
						"Pool %q has %d machines (size at %s) but its roles ask for %d (%s). Raise size or lower a count.",
						p.Name, p.Size, p.SizeRange, used, strings.Join(counted, ", "))
				}
			}
		}
		if rest != nil && used <= p.Size {
			rest.Count = p.Size - used
			if rest.Count == 0 {
				d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning,
					Summary: fmt.Sprintf("Role %q gets no machines", rest.Name),
					Detail:  fmt.Sprintf("The other roles take all %d machines of pool %q.", p.Size, p.Name),
					Subject: rest.Range.Ptr()})
			}
		}
	}
}

// Scope is the evaluation context of outputs. addresses maps a role
// ("KIND.NAME/ROLE") or a pool ("pool.NAME") to its machines' addresses;
// nil, or a missing key, leaves them unknown, as at plan time.
func Scope(s *Stack, addresses map[string][]string) *hcl.EvalContext {
	addr := func(key string) cty.Value {
		a, ok := addresses[key]
		if !ok {
			return cty.UnknownVal(cty.List(cty.String))
		}
		if len(a) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		vals := make([]cty.Value, len(a))
		for i, x := range a {
			vals[i] = cty.StringVal(x)
		}
		return cty.ListVal(vals)
	}
	vars := map[string]cty.Value{}
	for n, v := range s.Variables {
		vars[n] = v.Value
	}
	pools := map[string]cty.Value{}
	for _, p := range s.Pools {
		pools[p.Name] = cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal(p.Name), "size": cty.NumberIntVal(int64(p.Size)), "addresses": addr("pool." + p.Name),
		})
	}
	layerKinds := map[string]map[string]cty.Value{}
	for _, l := range s.Layers {
		roles := map[string]cty.Value{}
		for _, r := range l.Roles {
			roles[r.Name] = cty.ObjectVal(map[string]cty.Value{
				"count": cty.NumberIntVal(int64(r.Count)), "on": cty.StringVal(r.On.String()),
				"addresses": addr(l.Key() + "/" + r.Name),
			})
		}
		if layerKinds[l.Kind] == nil {
			layerKinds[l.Kind] = map[string]cty.Value{}
		}
		layerKinds[l.Kind][l.Name] = cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal(l.Name), "version": cty.StringVal(l.Version), "role": cty.ObjectVal(roles),
		})
	}
	subKinds := map[string]map[string]cty.Value{}
	for _, b := range s.Substrates {
		if subKinds[b.Kind] == nil {
			subKinds[b.Kind] = map[string]cty.Value{}
		}
		subKinds[b.Kind][b.Name] = cty.ObjectVal(map[string]cty.Value{"kind": cty.StringVal(b.Kind), "name": cty.StringVal(b.Name)})
	}
	nest := func(m map[string]map[string]cty.Value) cty.Value {
		out := map[string]cty.Value{}
		for k, v := range m {
			out[k] = cty.ObjectVal(v)
		}
		return cty.ObjectVal(out)
	}
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var": cty.ObjectVal(vars), "stack": cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(s.Name)}),
			"pool": cty.ObjectVal(pools), "layer": nest(layerKinds), "substrate": nest(subKinds),
		},
		Functions: functions(),
	}
}

// article is "a" or "an" for word, capitalised at the start of a sentence.
func article(word string, capital bool) string {
	a := "a"
	if strings.ContainsAny(word[:1], "aeiou") {
		a = "an"
	}
	if capital {
		return strings.ToUpper(a[:1]) + a[1:]
	}
	return a
}

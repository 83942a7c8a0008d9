package graph

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// Options change what is drawn.
type Options struct {
	// Recorded, when not nil, colours the graph by a recorded stack: the
	// state of each machine it has, by machine name (provisioners' State*
	// words). A machine of the plan that is not in it is missing.
	Recorded map[string]string
}

// status is how much of a part of the stack a record says exists.
type status int

const (
	stUnknown status = iota // not in the record (hosted roles on a layer that has machines up)
	stMissing               // nothing of it exists
	stPartial               // some of it, or all of it not running
	stUp                    // every machine running
)

// Colours of the fill per status (pale ones for a layer's cluster, so its
// roles stand out), and the styles every graph shares.
const (
	colourUp          = "#bbf7d0" // green
	colourPartial     = "#fde68a" // amber
	colourMissing     = "#e5e7eb" // grey
	colourPaleUp      = "#ecfdf5"
	colourPalePartial = "#fffbeb"
	colourPaleMissing = "#f3f4f6"
	colourRole        = "#ffffff"
	colourPool        = "#dbeafe"
	colourSubstrate   = "#f1f5f9"
	colourLayer       = "#f5f3ff"
	colourHostEdge    = "#7c3aed"
)

// Write writes stack s, compiled into p, as DOT.
func Write(w io.Writer, s *stacks.Stack, p *plan.Plan, o Options) error {
	g := &drawer{s: s, p: p, o: o, stages: map[string]int{}, w: bufio.NewWriter(w)}
	for _, st := range p.Steps {
		g.stages[st.ID] = st.Stage
	}
	if err := g.draw(); err != nil {
		return err
	}
	return g.w.Flush()
}

type drawer struct {
	s      *stacks.Stack
	p      *plan.Plan
	o      Options
	stages map[string]int
	w      *bufio.Writer
}

func (g *drawer) printf(format string, args ...any) { fmt.Fprintf(g.w, format, args...) }

// stage is the stage of one of the plan's steps, by the ID `strata plan`
// prints; a missing one means plan and graph disagree on step IDs.
func (g *drawer) stage(id string) (int, error) {
	n, ok := g.stages[id]
	if !ok {
		return 0, fmt.Errorf("graph: the plan of stack %q has no step %q", g.s.Name, id)
	}
	return n, nil
}

func (g *drawer) draw() error {
	title := fmt.Sprintf("stack %s\nread it bottom-up: stage N is the order strata up follows (strata plan lists it)", g.s.Name)
	if g.o.Recorded != nil {
		title += "\ngreen: up   amber: partly there or not running   grey: missing   white: not in the record"
	}
	g.printf("digraph %s {\n", quote(g.s.Name))
	g.printf("  graph [rankdir=BT, compound=true, newrank=true, nodesep=0.3, ranksep=0.5, fontname=\"Helvetica\", fontsize=12, labelloc=t, label=%s];\n", quote(title))
	g.printf("  node [shape=box, style=\"rounded,filled\", fillcolor=%q, fontname=\"Helvetica\", fontsize=11];\n", colourRole)
	g.printf("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#475569\"];\n")
	for _, sub := range g.s.Substrates {
		key := "substrate." + sub.Kind + "." + sub.Name
		g.printf("\n  subgraph %s {\n", quote("cluster_"+key))
		g.printf("    label=%s; labeljust=l; fontsize=13; style=\"rounded,filled\"; fillcolor=%q; color=\"#94a3b8\";\n", quote(key), colourSubstrate)
		n := 0
		for _, pool := range g.s.Pools {
			if pool.Substrate.String() == key {
				g.pool(pool, "    ")
				n++
			}
		}
		if n == 0 {
			g.printf("    %s [label=\"no pools\", shape=plaintext, style=\"\"];\n", quote(key))
		}
		g.printf("  }\n")
	}
	// Pools on a layer (an openstack layer is a substrate) sit above it.
	for _, pool := range g.s.Pools {
		if pool.Substrate.Root == "layer" {
			g.printf("\n")
			g.pool(pool, "  ")
		}
	}
	for _, l := range g.s.Layers {
		if err := g.layer(l); err != nil {
			return err
		}
	}
	g.printf("\n")
	for _, pool := range g.s.Pools {
		if pool.Substrate.Root == "layer" {
			g.printf("  %s -> %s [ltail=%s, color=%q, style=bold, label=\"substrate\"];\n",
				quote(anchor(g.s.Layer(pool.Substrate.Key()))), quote("pool."+pool.Name), quote("cluster_"+pool.Substrate.String()), colourHostEdge)
		}
	}
	for _, l := range g.s.Layers {
		for _, r := range l.Roles {
			id := quote(roleID(l, r))
			if r.On.Root == "pool" {
				g.printf("  %s -> %s;\n", quote(r.On.String()), id)
				continue
			}
			g.printf("  %s -> %s [ltail=%s, color=%q, style=dashed, label=\"hosts\"];\n",
				quote(anchor(g.s.Layer(r.On.Key()))), id, quote("cluster_"+r.On.String()), colourHostEdge)
		}
	}
	g.printf("}\n")
	return nil
}

// pool draws a pool's node: size, shape, how many machines no role takes
// and, with a record, how many are up.
func (g *drawer) pool(pool *stacks.Pool, indent string) {
	lines := []string{fmt.Sprintf("pool %s", pool.Name), fmt.Sprintf("%d × %s", pool.Size, shape(pool))}
	if pool.Substrate.Root == "layer" {
		lines = append(lines, "servers of layer "+pool.Substrate.Key())
	}
	spare := pool.Size
	for _, m := range g.p.Machines {
		if m.Pool == pool.Name && m.Role != "" {
			spare--
		}
	}
	if spare > 0 && spare < pool.Size {
		lines = append(lines, fmt.Sprintf("%d without a role", spare))
	}
	fill := colourPool
	if g.o.Recorded != nil {
		st, up, total := g.machines(func(m plan.Machine) bool { return m.Pool == pool.Name })
		lines = append(lines, fmt.Sprintf("%d/%d up", up, total))
		fill = colour(st, fill)
	}
	g.printf("%s%s [shape=box3d, style=filled, fillcolor=%q, label=%s];\n", indent, quote("pool."+pool.Name), fill, quote(strings.Join(lines, "\n")))
}

// shape is a pool's machine size in words.
func shape(pool *stacks.Pool) string {
	var parts []string
	if pool.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d CPU", pool.CPUs))
	}
	if pool.MemoryMB > 0 {
		if pool.MemoryMB%1024 == 0 {
			parts = append(parts, fmt.Sprintf("%d GB", pool.MemoryMB/1024))
		} else {
			parts = append(parts, fmt.Sprintf("%d MB", pool.MemoryMB))
		}
	}
	if pool.DiskGB > 0 {
		parts = append(parts, fmt.Sprintf("%d GB disk", pool.DiskGB))
	}
	if len(parts) == 0 {
		return "machines"
	}
	return strings.Join(parts, ", ")
}

// layer draws a layer's cluster with a node per role.
func (g *drawer) layer(l *stacks.Layer) error {
	ready, err := g.stage("ready:layer." + l.Key())
	if err != nil {
		return err
	}
	label := fmt.Sprintf("layer %s (%s %s), ready at stage %d", l.Key(), l.Kind, l.Version, ready)
	fill := colourLayer
	if g.o.Recorded != nil {
		fill = [...]string{stUnknown: fill, stMissing: colourPaleMissing, stPartial: colourPalePartial, stUp: colourPaleUp}[g.layerStatus(l)]
	}
	g.printf("\n  subgraph %s {\n", quote("cluster_layer."+l.Key()))
	g.printf("    label=%s; labeljust=l; fontsize=13; style=\"rounded,filled\"; fillcolor=%q; color=\"#8b5cf6\";\n", quote(label), fill)
	for _, r := range l.Roles {
		step := fmt.Sprintf("create:pool.%s/%s/%s", r.On.Name, l.Key(), r.Name)
		how := "machines of pool " + r.On.Name
		if r.On.Root == "layer" {
			step = "submit:layer." + l.Key() + "/" + r.Name
			how = "hosted on " + r.On.Key()
		}
		n, err := g.stage(step)
		if err != nil {
			return err
		}
		lines := []string{fmt.Sprintf("%s × %d", r.Name, r.Count), how, fmt.Sprintf("stage %d", n)}
		attrs := ""
		if g.o.Recorded != nil {
			st := g.roleStatus(l, r)
			if r.On.Root == "pool" {
				_, up, total := g.machines(roleOf(l, r))
				lines = append(lines, fmt.Sprintf("%d/%d up", up, total))
			}
			attrs = fmt.Sprintf(", fillcolor=%q", colour(st, colourRole))
			if st == stUnknown {
				attrs += `, style="rounded,filled,dashed"`
			}
		}
		g.printf("    %s [label=%s%s];\n", quote(roleID(l, r)), quote(strings.Join(lines, "\n")), attrs)
	}
	if len(l.Roles) == 0 {
		g.printf("    %s [label=\"no roles\", shape=plaintext, style=\"\"];\n", quote(anchor(l)))
	}
	g.printf("  }\n")
	return nil
}

// anchor is the node an edge from a layer's cluster starts at (dot clips
// it to the cluster's border with ltail).
func anchor(l *stacks.Layer) string {
	if len(l.Roles) == 0 {
		return "layer." + l.Key()
	}
	return roleID(l, l.Roles[0])
}

func roleID(l *stacks.Layer, r *stacks.Role) string { return "layer." + l.Key() + "/" + r.Name }

func roleOf(l *stacks.Layer, r *stacks.Role) func(plan.Machine) bool {
	return func(m plan.Machine) bool { return m.Layer == l.Key() && m.Role == r.Name }
}

// machines is the status of the planned machines that match, with how
// many of them are up.
func (g *drawer) machines(match func(plan.Machine) bool) (st status, running, total int) {
	present := 0
	for _, m := range g.p.Machines {
		if !match(m) {
			continue
		}
		total++
		switch g.o.Recorded[m.Name] {
		case provisioners.StateRunning:
			running++
			present++
		case provisioners.StatePending, provisioners.StateStopped, provisioners.StateError:
			present++
		}
	}
	switch {
	case total > 0 && running == total:
		return stUp, running, total
	case present == 0:
		return stMissing, running, total
	}
	return stPartial, running, total
}

// roleStatus is a role's status: its machines', or for a hosted role
// missing when its host layer has nothing and unknown otherwise (a record
// holds machines, not hosted objects).
func (g *drawer) roleStatus(l *stacks.Layer, r *stacks.Role) status {
	if r.On.Root == "pool" {
		st, _, _ := g.machines(roleOf(l, r))
		return st
	}
	if host := g.s.Layer(r.On.Key()); host != nil && g.layerStatus(host) == stMissing {
		return stMissing
	}
	return stUnknown
}

// layerStatus combines its roles' statuses, leaving out the unknown ones:
// up when every known role is, missing when every role is.
func (g *drawer) layerStatus(l *stacks.Layer) status {
	count := map[status]int{}
	for _, r := range l.Roles {
		count[g.roleStatus(l, r)]++
	}
	known := len(l.Roles) - count[stUnknown]
	switch {
	case known == 0:
		return stUnknown
	case count[stUp] == known:
		return stUp
	case count[stMissing] == len(l.Roles):
		return stMissing
	}
	return stPartial
}

func colour(st status, otherwise string) string {
	switch st {
	case stUp:
		return colourUp
	case stPartial:
		return colourPartial
	case stMissing:
		return colourMissing
	}
	return otherwise
}

// quote makes s a DOT string: quotes and backslashes escaped, newlines as
// dot's centred line breaks.
func quote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
	return `"` + s + `"`
}

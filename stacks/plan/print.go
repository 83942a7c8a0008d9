package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the plan as one compact JSON document (pipe it through
// jq to read it): indenting costs a third of the time on large stacks.
func (p *Plan) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(p)
}

// WriteText writes the plan for people: a table of machines per substrate,
// a table of roles per layer, and the order of the bring-up.
func (p *Plan) WriteText(w io.Writer) error {
	bySub := map[string][]Machine{}
	var subs []string
	for _, m := range p.Machines {
		if _, seen := bySub[m.Substrate]; !seen {
			subs = append(subs, m.Substrate)
		}
		bySub[m.Substrate] = append(bySub[m.Substrate], m)
	}
	sort.Strings(subs)
	fmt.Fprintf(w, "Stack %q: %d machines on %d substrates, %d layers, %d hosted roles.\n",
		p.Stack, len(p.Machines), len(subs), len(p.Layers), len(p.Hosted))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, sub := range subs {
		ms := bySub[sub]
		fmt.Fprintf(tw, "\n%s (%s): %d machines\n", sub, ms[0].SubstrateKind, len(ms))
		fmt.Fprintln(tw, "  MACHINE\tPOOL\tINDEX\tLAYER\tROLE\tCPUS\tMEMORY_MB\tDISK_GB")
		for _, m := range ms {
			layer, role := m.Layer, m.Role
			if role == "" {
				layer, role = "-", "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\n", m.Name, m.Pool, m.Index, layer, role, m.CPUs, m.MemoryMB, m.DiskGB)
		}
	}
	for _, l := range p.Layers {
		fmt.Fprintf(tw, "\nlayer.%s.%s (%s %s)\n", l.Kind, l.Name, l.Kind, l.Version)
		fmt.Fprintln(tw, "  ROLE\tON\tCOUNT")
		for _, r := range l.Roles {
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", r.Role, r.On, r.Count)
		}
	}
	fmt.Fprintf(tw, "\nOrder:\n")
	fmt.Fprintln(tw, "  STAGE\tSTEP\tCOUNT\tAFTER")
	for _, s := range p.Steps {
		count := "-"
		if s.Count > 0 {
			count = fmt.Sprint(s.Count)
		}
		after := strings.Join(s.After, ", ")
		if after == "" {
			after = "-"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", s.Stage, s.ID, count, after)
	}
	return tw.Flush()
}

package stacks

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// rootDoc says how each kind of reference is written.
var rootDoc = map[string]string{
	"var":       "var.NAME",
	"stack":     "stack.name",
	"pool":      "pool.NAME",
	"layer":     "layer.KIND.NAME",
	"substrate": "substrate.KIND.NAME",
}

// step returns the attribute name of traversal step i, if it is one.
func step(t hcl.Traversal, i int) (string, hcl.Range, bool) {
	if i >= len(t) {
		return "", t.SourceRange(), false
	}
	switch s := t[i].(type) {
	case hcl.TraverseAttr:
		return s.Name, s.SrcRange, true
	case hcl.TraverseRoot:
		return s.Name, s.SrcRange, true
	}
	return "", t[i].SourceRange(), false
}

// resolve checks that traversal t names a declared block or variable and
// returns the Ref it names (for var and stack, only Root is set).
func (d *decoder) resolve(t hcl.Traversal, allowed []string) (Ref, hcl.Diagnostics) {
	root := t.RootName()
	ok := false
	for _, a := range allowed {
		ok = ok || a == root
	}
	var forms []string
	for _, a := range allowed {
		forms = append(forms, rootDoc[a])
	}
	fail := func(rng hcl.Range, summary, detail string, args ...any) (Ref, hcl.Diagnostics) {
		return Ref{}, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: rng.Ptr()}}
	}
	if !ok {
		return fail(t.SourceRange(), fmt.Sprintf("Unknown reference %q", root),
			"Here you can refer to %s.%s", strings.Join(forms, ", "), didYouMean(root, allowed))
	}
	ref := Ref{Root: root, Range: t.SourceRange()}
	switch root {
	case "stack":
		return ref, nil
	case "var":
		name, rng, ok := step(t, 1)
		if !ok {
			return fail(rng, "Invalid variable reference", "Write var.NAME.")
		}
		if _, declared := d.vars[name]; !declared {
			return fail(rng, fmt.Sprintf("Undeclared variable %q", name),
				"Declare it with a variable %q block.%s", name, didYouMean(name, keys(d.vars)))
		}
		ref.Name = name
		return ref, nil
	case "pool":
		name, rng, ok := step(t, 1)
		if !ok {
			return fail(rng, "Invalid pool reference", "Write pool.NAME.")
		}
		if _, declared := d.pools[name]; !declared {
			return fail(rng, fmt.Sprintf("Undeclared pool %q", name),
				"No pool %q is declared.%s", name, didYouMean(name, keys(d.pools)))
		}
		ref.Name = name
		return ref, nil
	}
	// layer.KIND.NAME and substrate.KIND.NAME
	table := d.layers
	if root == "substrate" {
		table = d.substrates
	}
	kind, krng, ok1 := step(t, 1)
	name, nrng, ok2 := step(t, 2)
	if !ok1 || !ok2 {
		return fail(t.SourceRange(), fmt.Sprintf("Invalid %s reference", root), "Write %s.", rootDoc[root])
	}
	if _, declared := table[kind+"."+name]; !declared {
		rng := hcl.RangeBetween(krng, nrng)
		return fail(rng, fmt.Sprintf("Undeclared %s %s.%s", root, kind, name),
			"No %s %q %q is declared.%s", root, kind, name, didYouMean(kind+"."+name, keys(table)))
	}
	ref.Kind, ref.Name = kind, name
	return ref, nil
}

// refs vets every reference in expr.
func (d *decoder) refs(expr hcl.Expression, allowed ...string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range expr.Variables() {
		_, ds := d.resolve(t, allowed)
		diags = append(diags, ds...)
	}
	return diags
}

// ref reads an attribute that must be a bare reference, like
// `on = pool.infra`.
func (d *decoder) ref(expr hcl.Expression, attr string, allowed ...string) (Ref, bool) {
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		var forms []string
		for _, a := range allowed {
			forms = append(forms, rootDoc[a])
		}
		d.errorf(expr.Range(), fmt.Sprintf("Invalid reference in %q", attr),
			"%s takes a reference, not a value: write %s, without quotes.", attr, strings.Join(forms, " or "))
		return Ref{}, false
	}
	ref, diags := d.resolve(t, allowed)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return Ref{}, false
	}
	if (ref.Root == "pool" && len(t) != 2) || (ref.Root != "pool" && len(t) != 3) {
		d.errorf(t.SourceRange(), fmt.Sprintf("Invalid reference in %q", attr),
			"%s refers to a whole block: write %s.", attr, ref.String())
		return Ref{}, false
	}
	ref.Range = t.SourceRange()
	return ref, true
}

package raml

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// resolver turns declarations into shapes. Named types are resolved in file
// order, each after the types it inherits from. Anonymous declarations that
// add facets to a named type not yet resolved are finished afterwards
// (pending), which lets types refer to each other and to themselves.
type resolver struct {
	pending []func()
	issues  []error
}

// spec is one type declaration taken apart: what it inherits from and the
// map of facets it adds.
type spec struct {
	lib    *library
	node   *yaml.Node // the declaration's map; nil for a bare type expression
	bases  []*expr    // from the type facet, or the whole scalar declaration
	inline *yaml.Node // a type facet that is itself a declaration
	ypath  string
	where  string
}

func newSpec(lib *library, n *yaml.Node, ypath string) (*spec, error) {
	sp := &spec{lib: lib, ypath: ypath, where: at(lib, n, ypath)}
	switch {
	case isNull(n): // nothing declared: RAML's default type, string
	case n.Kind == yaml.ScalarNode:
		e, err := parseExpr(n.Value)
		if err != nil {
			return nil, err
		}
		sp.bases = []*expr{e}
	case n.Kind == yaml.MappingNode:
		sp.node = n
		t := mapGet(n, "type")
		if t == nil {
			t = mapGet(n, "schema")
		}
		return sp, sp.typeFacet(t)
	default:
		return nil, fmt.Errorf("unsupported RAML construct: a type declaration that is a YAML sequence")
	}
	return sp, nil
}

// typeFacet reads "type:": an expression, a list (multiple inheritance) or
// an inline declaration.
func (sp *spec) typeFacet(t *yaml.Node) error {
	switch {
	case t == nil || isNull(t):
	case t.Kind == yaml.ScalarNode:
		e, err := parseExpr(t.Value)
		if err != nil {
			return err
		}
		sp.bases = []*expr{e}
	case t.Kind == yaml.SequenceNode:
		for _, item := range t.Content {
			e, err := parseExpr(deref(item).Value)
			if err != nil {
				return err
			}
			sp.bases = append(sp.bases, e)
		}
	case t.Kind == yaml.MappingNode:
		sp.inline = t
	}
	return nil
}

// namedBases returns the declared types sp inherits from directly by name.
func (sp *spec) namedBases() ([]*decl, error) {
	var ds []*decl
	for _, e := range sp.bases {
		if e.name == "" || isBuiltin(e.name) {
			continue
		}
		d, err := sp.lib.lookup(e.name)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// addsFacets reports whether the declaration constrains more than its base,
// as opposed to only documenting or annotating it.
func (sp *spec) addsFacets() bool {
	if sp.node == nil {
		return false
	}
	for i := 0; i+1 < len(sp.node.Content); i += 2 {
		if !isDocFacet(sp.node.Content[i].Value) {
			return true
		}
	}
	return false
}

// named resolves a declared type into its preallocated shape.
func (r *resolver) named(d *decl) {
	if d.state != unresolved {
		return
	}
	d.state = resolving
	s := r.declaration(d.lib, d.node, "types."+d.name, true)
	*d.shape = *s
	d.shape.name = d.lib.stem + "." + d.name
	d.shape.declName = d.name
	d.state = resolved
}

// declaration resolves the declaration n. A named declaration always gets a
// shape of its own; an anonymous one that only names another type is that
// type's shape.
func (r *resolver) declaration(lib *library, n *yaml.Node, ypath string, named bool) *shape {
	n = deref(n)
	sp, err := newSpec(lib, n, ypath)
	if err != nil {
		return r.broken(at(lib, n, ypath), err)
	}
	targets, err := sp.namedBases()
	if err != nil {
		return r.broken(sp.where, err)
	}
	if named {
		for _, d := range targets {
			r.named(d)
		}
		return r.build(sp)
	}
	if len(sp.bases) == 1 && len(targets) == 1 && sp.inline == nil && !sp.addsFacets() {
		return targets[0].shape
	}
	for _, d := range targets {
		if d.state != resolved {
			p := &shape{}
			r.pending = append(r.pending, func() { *p = *r.build(sp) })
			return p
		}
	}
	return r.build(sp)
}

// ref resolves a type expression used as a reference (property type, array
// item, union member); named types come back as their shared shape.
func (r *resolver) ref(lib *library, e *expr) (*shape, error) {
	switch {
	case e.items != nil:
		it, err := r.ref(lib, e.items)
		return &shape{kind: kindArray, items: it}, err
	case len(e.members) > 0:
		u := &shape{kind: kindUnion}
		for _, m := range e.members {
			ms, err := r.ref(lib, m)
			if err != nil {
				return nil, err
			}
			u.members = append(u.members, ms)
		}
		return u, nil
	}
	if e.name == "file" {
		return nil, errFile
	}
	if b := builtin(e.name); b != nil {
		return b, nil
	}
	d, err := lib.lookup(e.name)
	if err != nil {
		return nil, err
	}
	return d.shape, nil
}

// build makes the shape for sp: a copy of its base(s) with its facets added.
func (r *resolver) build(sp *spec) *shape {
	s, err := r.base(sp)
	if err != nil {
		return r.broken(sp.where, err)
	}
	if s.kind == kindBroken || sp.node == nil {
		return s
	}
	if where, err := r.applyFacets(s, sp); err != nil {
		return r.broken(where, err)
	}
	return s
}

func (r *resolver) base(sp *spec) (*shape, error) {
	var parents []*shape
	for _, e := range sp.bases {
		p, err := r.parent(sp.lib, e)
		if err != nil {
			return nil, err
		}
		parents = append(parents, p)
	}
	if sp.inline != nil {
		parents = append(parents, r.declaration(sp.lib, sp.inline, sp.ypath+".type", true))
	}
	if len(parents) == 0 {
		if b := builtin(defaultType(sp.node)); b != nil {
			return b, nil
		}
		return nil, errFile
	}
	var s *shape
	for _, p := range parents {
		if p.kind == kindBroken {
			return &shape{kind: kindBroken, err: p.err}, nil
		}
		if s == nil {
			s = p.clone()
		} else if err := mergeBase(s, p); err != nil {
			return nil, err
		} else {
			s.ancestors = append(s.ancestors, p.ancestors...)
		}
		if p.name != "" {
			s.ancestors = append(s.ancestors, p)
		}
	}
	return s, nil
}

// parent resolves a base type; a named base must already be resolved, which
// only fails when the type (indirectly) inherits from itself.
func (r *resolver) parent(lib *library, e *expr) (*shape, error) {
	if e.name == "" || isBuiltin(e.name) {
		return r.ref(lib, e)
	}
	d, err := lib.lookup(e.name)
	if err != nil {
		return nil, err
	}
	if d.state != resolved {
		return nil, fmt.Errorf("cyclic inheritance through %s.%s", d.lib.stem, d.name)
	}
	return d.shape, nil
}

// defaultType is RAML's type for a declaration without "type:".
func defaultType(n *yaml.Node) string {
	switch {
	case mapGet(n, "properties") != nil:
		return "object"
	case mapGet(n, "items") != nil:
		return "array"
	case mapGet(n, "fileTypes") != nil:
		return "file"
	}
	return "string"
}

// broken records a declaration that cannot be used and returns a shape that
// fails validation with the reason.
func (r *resolver) broken(where string, err error) *shape {
	err = fmt.Errorf("%w at %s", err, where)
	r.issues = append(r.issues, err)
	return &shape{kind: kindBroken, err: err}
}

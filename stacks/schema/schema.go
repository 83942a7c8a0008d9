package schema

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Attr is one attribute a block accepts.
type Attr struct {
	Name     string
	Type     cty.Type
	Required bool
	Default  cty.Value // used when the attribute is absent; cty.NilVal means null
	Doc      string
	// Check, when set, vets a known, non-null value; its error becomes the
	// diagnostic's detail.
	Check func(cty.Value) error
	// Secret marks a credential that must never be written inline; the text
	// says where it comes from instead (an environment variable, a file).
	Secret string
}

// Block is one nested block type a block accepts.
type Block struct {
	Type   string
	Labels []string // label names, e.g. ["name"]
	Attrs  []Attr
	Blocks []Block
	Max    int // 0 means any number
	Doc    string
}

// Values holds a decoded body: attributes (defaults filled in) and nested
// blocks by type.
type Values struct {
	Attrs  map[string]cty.Value
	Ranges map[string]hcl.Range // where each attribute set in the file stands
	Blocks map[string][]Nested
}

// Nested is one decoded nested block.
type Nested struct {
	Labels []string
	Values
	Range hcl.Range
}

// String returns a string attribute, or "" when it is null.
func (v Values) String(name string) string {
	a, ok := v.Attrs[name]
	if !ok || a.IsNull() || !a.IsKnown() || a.Type() != cty.String {
		return ""
	}
	return a.AsString()
}

// Int returns a whole-number attribute, or 0 when it is null.
func (v Values) Int(name string) int {
	a, ok := v.Attrs[name]
	if !ok || a.IsNull() || !a.IsKnown() || a.Type() != cty.Number {
		return 0
	}
	i, _ := a.AsBigFloat().Int64()
	return int(i)
}

// Strings returns a list-of-strings attribute.
func (v Values) Strings(name string) []string {
	a, ok := v.Attrs[name]
	if !ok || a.IsNull() || !a.IsKnown() || !a.CanIterateElements() {
		return nil
	}
	var out []string
	for it := a.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() == cty.String && e.IsKnown() && !e.IsNull() {
			out = append(out, e.AsString())
		}
	}
	return out
}

// Map returns a map-of-strings attribute.
func (v Values) Map(name string) map[string]string {
	a, ok := v.Attrs[name]
	if !ok || a.IsNull() || !a.IsKnown() || !a.CanIterateElements() {
		return nil
	}
	out := map[string]string{}
	for it := a.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.Type() == cty.String && e.IsKnown() && !e.IsNull() {
			out[k.AsString()] = e.AsString()
		}
	}
	return out
}

// BodySchema is the hcl schema for these attributes and blocks, plus any
// extra attribute names the caller decodes itself.
func BodySchema(attrs []Attr, blocks []Block, extra ...string) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name})
	}
	for _, n := range extra {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	for _, b := range blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: b.Type, LabelNames: b.Labels})
	}
	return s
}

// Decoder evaluates attribute expressions in one scope.
type Decoder struct {
	Ctx *hcl.EvalContext
	// Refs, when set, vets the references in an expression before it is
	// evaluated, so an undeclared name gets a precise diagnostic.
	Refs func(hcl.Expression) hcl.Diagnostics
}

// Decode evaluates the content of a body (already split by BodySchema)
// against attrs and blocks. what names the block in messages, e.g.
// `substrate "vsphere" "dc"`.
func (dec Decoder) Decode(content *hcl.BodyContent, attrs []Attr, blocks []Block, what string) (Values, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := Values{Attrs: map[string]cty.Value{}, Ranges: map[string]hcl.Range{}, Blocks: map[string][]Nested{}}
	for _, a := range attrs {
		attr, ok := content.Attributes[a.Name]
		if !ok {
			if a.Required {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Missing required attribute %q", a.Name),
					Detail:   fmt.Sprintf("%s needs %s = <%s>. %s", what, a.Name, typeexpr.TypeString(a.Type), a.Doc),
					Subject:  content.MissingItemRange.Ptr(),
				})
			}
			if a.Default != cty.NilVal {
				out.Attrs[a.Name] = a.Default
			} else {
				out.Attrs[a.Name] = cty.NullVal(a.Type)
			}
			continue
		}
		out.Ranges[a.Name] = attr.Expr.Range()
		if a.Secret != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Secret %q written inline", a.Name),
				Detail:   fmt.Sprintf("Credentials never go in a stack file. Remove %s from %s; %s", a.Name, what, a.Secret),
				Subject:  attr.NameRange.Ptr(),
				Context:  attr.Range.Ptr(),
			})
			continue
		}
		v, d := dec.Value(attr.Expr, a.Type, a.Name)
		diags = append(diags, d...)
		if !d.HasErrors() && a.Check != nil && v.IsKnown() && !v.IsNull() {
			if err := a.Check(v); err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Invalid value for %q", a.Name),
					Detail:   err.Error(),
					Subject:  attr.Expr.Range().Ptr(),
				})
			}
		}
		out.Attrs[a.Name] = v
	}
	for _, b := range blocks {
		var found []*hcl.Block
		for _, blk := range content.Blocks {
			if blk.Type == b.Type {
				found = append(found, blk)
			}
		}
		if b.Max > 0 && len(found) > b.Max {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s block", b.Type),
				Detail:   fmt.Sprintf("%s takes at most %d %s block(s); merge them into one.", what, b.Max, b.Type),
				Subject:  found[b.Max].DefRange.Ptr(),
			})
		}
		seen := map[string]hcl.Range{}
		for _, blk := range found {
			key := fmt.Sprint(blk.Labels)
			if prev, dup := seen[key]; dup && len(blk.Labels) > 0 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Duplicate %s %q", b.Type, blk.Labels[len(blk.Labels)-1]),
					Detail:   fmt.Sprintf("A %s with this name is already declared at %s; names must be unique.", b.Type, prev),
					Subject:  blk.DefRange.Ptr(),
				})
				continue
			}
			seen[key] = blk.DefRange
			inner, d := blk.Body.Content(BodySchema(b.Attrs, b.Blocks))
			diags = append(diags, d...)
			vals, d := dec.Decode(inner, b.Attrs, b.Blocks, fmt.Sprintf("%s block", b.Type))
			diags = append(diags, d...)
			out.Blocks[b.Type] = append(out.Blocks[b.Type], Nested{Labels: blk.Labels, Values: vals, Range: blk.DefRange})
		}
	}
	return out, diags
}

// Value evaluates expr and converts it to ty, with a diagnostic naming the
// attribute and both types when it does not fit.
func (dec Decoder) Value(expr hcl.Expression, ty cty.Type, name string) (cty.Value, hcl.Diagnostics) {
	if dec.Refs != nil {
		if diags := dec.Refs(expr); diags.HasErrors() {
			return cty.UnknownVal(ty), diags
		}
	}
	ctx := dec.Ctx
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.UnknownVal(ty), diags
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		return cty.UnknownVal(ty), hcl.Diagnostics{{
			Severity:    hcl.DiagError,
			Summary:     fmt.Sprintf("Wrong type for %q", name),
			Detail:      fmt.Sprintf("%s must be %s; got %s (%s).", name, typeexpr.TypeString(ty), friendlyType(v.Type()), err),
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: ctx,
		}}
	}
	return cv, nil
}

func friendlyType(t cty.Type) string {
	switch {
	case t.IsObjectType():
		return "an object"
	case t.IsTupleType():
		return "a tuple"
	}
	return typeexpr.TypeString(t)
}

// Names lists attribute names, sorted, for "did you mean" hints.
func Names(attrs []Attr) []string {
	out := make([]string, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a.Name)
	}
	sort.Strings(out)
	return out
}

package stacks

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

type varDecl struct {
	Variable
	hasDefault bool
	set        bool
	rng        hcl.Range
}

func variableSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"},
	}}
}

// variables decodes the variable blocks and applies the values given in
// var files, -var flags and typed values, in that order.
func (d *decoder) variables(blocks []*hcl.Block, opts Options) map[string]*varDecl {
	decls := map[string]*varDecl{}
	for _, b := range blocks {
		name := b.Labels[0]
		if prev, dup := decls[name]; dup {
			d.errorf(b.DefRange, fmt.Sprintf("Duplicate variable %q", name), "A variable with this name is already declared at %s; names must be unique.", prev.rng)
			continue
		}
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(b.LabelRanges[0], "Invalid variable name", "%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", name)
		}
		v := &varDecl{Variable: Variable{Type: cty.DynamicPseudoType}, rng: b.DefRange}
		decls[name] = v
		content, diags := b.Body.Content(variableSchema())
		d.diags = append(d.diags, diags...)
		if a, ok := content.Attributes["type"]; ok {
			ty, diags := typeexpr.TypeConstraint(a.Expr)
			d.diags = append(d.diags, diags...)
			if !diags.HasErrors() {
				v.Type = ty
			}
		}
		if a, ok := content.Attributes["description"]; ok {
			if s, ok := d.constString(a); ok {
				v.Description = s
			}
		}
		if a, ok := content.Attributes["sensitive"]; ok {
			val, diags := a.Expr.Value(nil)
			d.diags = append(d.diags, diags...)
			if val.Type() == cty.Bool && val.IsKnown() && !val.IsNull() {
				v.Sensitive = val.True()
			} else if !diags.HasErrors() {
				d.errorf(a.Expr.Range(), "Wrong type for \"sensitive\"", "sensitive must be true or false.")
			}
		}
		if a, ok := content.Attributes["default"]; ok {
			val, diags := a.Expr.Value(d.functionsOnly())
			d.diags = append(d.diags, diags...)
			if !diags.HasErrors() {
				v.Value = d.convertVar(val, v.Type, name, a.Expr.Range())
				v.hasDefault = true
			}
		}
	}
	for _, f := range opts.VarFiles {
		d.varFile(f, decls)
	}
	for _, kv := range opts.Vars {
		d.varFlag(kv, decls)
	}
	names := make([]string, 0, len(opts.Values))
	for n := range opts.Values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, ok := decls[n]
		if !ok {
			d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError,
				Summary: fmt.Sprintf("Undeclared variable %q", n),
				Detail:  fmt.Sprintf("A value was given for %q, but the stack declares no such variable.%s", n, didYouMean(n, keys(decls)))})
			continue
		}
		v.Value = d.convertVar(opts.Values[n], v.Type, n, hcl.Range{})
		v.set = true
	}
	for name, v := range decls {
		if !v.hasDefault && !v.set {
			d.errorf(v.rng, fmt.Sprintf("No value for variable %q", name),
				"The variable has no default. Set it with -var %s=VALUE, a var file, or the provider's vars.", name)
			v.Value = cty.UnknownVal(v.Type)
		}
	}
	return decls
}

func (d *decoder) convertVar(val cty.Value, ty cty.Type, name string, rng hcl.Range) cty.Value {
	cv, err := convert.Convert(val, ty)
	if err != nil {
		diag := &hcl.Diagnostic{Severity: hcl.DiagError,
			Summary: fmt.Sprintf("Wrong type for variable %q", name),
			Detail:  fmt.Sprintf("The variable is %s: %s.", typeexpr.TypeString(ty), err)}
		if rng.Filename != "" {
			diag.Subject = rng.Ptr()
		}
		d.diags = append(d.diags, diag)
		return cty.UnknownVal(ty)
	}
	return cv
}

func (d *decoder) varFile(path string, decls map[string]*varDecl) {
	src, err := os.ReadFile(path)
	if err != nil {
		d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read var file", Detail: err.Error()})
		return
	}
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		f, diags = d.parser.ParseJSON(src, path)
	} else {
		f, diags = d.parser.ParseHCL(src, path)
	}
	d.diags = append(d.diags, diags...)
	if f == nil {
		return
	}
	attrs, diags := f.Body.JustAttributes()
	d.diags = append(d.diags, diags...)
	for name, a := range attrs {
		v, ok := decls[name]
		if !ok {
			d.errorf(a.NameRange, fmt.Sprintf("Undeclared variable %q", name),
				"The var file sets %q, but the stack declares no such variable.%s", name, didYouMean(name, keys(decls)))
			continue
		}
		val, diags := a.Expr.Value(d.functionsOnly())
		d.diags = append(d.diags, diags...)
		if !diags.HasErrors() {
			v.Value = d.convertVar(val, v.Type, name, a.Expr.Range())
			v.set = true
		}
	}
}

// varFlag applies one -var NAME=VALUE. Like Terraform, a string variable
// takes VALUE literally; any other type parses VALUE as an HCL expression.
func (d *decoder) varFlag(kv string, decls map[string]*varDecl) {
	name, raw, ok := strings.Cut(kv, "=")
	if !ok || name == "" {
		d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option",
			Detail: fmt.Sprintf("%q is not NAME=VALUE; write -var agents=5.", kv)})
		return
	}
	v, ok := decls[name]
	if !ok {
		d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError,
			Summary: fmt.Sprintf("Undeclared variable %q", name),
			Detail:  fmt.Sprintf("-var %s: the stack declares no such variable.%s", kv, didYouMean(name, keys(decls)))})
		return
	}
	val := cty.StringVal(raw)
	if v.Type != cty.String {
		// A value that is no expression (agents=many) stays a string, so
		// the conversion below reports the type it should have been.
		expr, diags := hclsyntax.ParseExpression([]byte(raw), "-var "+name, hcl.InitialPos)
		if !diags.HasErrors() && len(expr.Variables()) == 0 {
			ev, vd := expr.Value(d.functionsOnly())
			if !vd.HasErrors() {
				val = ev
			}
		}
	}
	v.Value = d.convertVar(val, v.Type, name, hcl.Range{})
	v.set = true
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

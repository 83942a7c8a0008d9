package stacks

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/schema"
)

// decoder carries one Parse: the kinds, the symbol table built from block
// headers, and every diagnostic found so far.
type decoder struct {
	kinds  Kinds
	parser *hclparse.Parser
	funcs  map[string]function.Function
	diags  hcl.Diagnostics

	vars       map[string]*varDecl
	substrates map[string]*hcl.Block // KIND.NAME
	pools      map[string]*hcl.Block
	layers     map[string]*hcl.Block // KIND.NAME
	scope      schema.Decoder
}

func (d *decoder) errorf(rng hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: rng.Ptr(),
	})
}

func topSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "stack"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "substrate", LabelNames: []string{"kind", "name"}},
		{Type: "pool", LabelNames: []string{"name"}},
		{Type: "layer", LabelNames: []string{"kind", "name"}},
		{Type: "output", LabelNames: []string{"name"}},
	}}
}

var (
	stackName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,38}$`)
	blockName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// maxName is the longest hostname label: machine names must fit.
const maxName = 63

func (d *decoder) stack(bodies []hcl.Body, opts Options) *Stack {
	d.funcs = functions()
	byType := map[string][]*hcl.Block{}
	for _, b := range bodies {
		content, diags := b.Content(topSchema())
		d.diags = append(d.diags, diags...)
		for _, blk := range content.Blocks {
			byType[blk.Type] = append(byType[blk.Type], blk)
		}
	}
	s := &Stack{Variables: map[string]Variable{}}
	d.vars = d.variables(byType["variable"], opts)
	varVals := map[string]cty.Value{}
	for n, v := range d.vars {
		s.Variables[n] = v.Variable
		varVals[n] = v.Value
	}
	d.scope = schema.Decoder{
		Ctx:  &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(varVals)}, Functions: d.funcs},
		Refs: func(e hcl.Expression) hcl.Diagnostics { return d.refs(e, "var") },
	}
	d.symbols(byType)

	s.Name = d.stackBlock(byType["stack"], bodies)
	for _, b := range byType["substrate"] {
		if sub := d.substrate(b); sub != nil {
			s.Substrates = append(s.Substrates, sub)
		}
	}
	for _, b := range byType["layer"] {
		if l := d.layer(b); l != nil {
			s.Layers = append(s.Layers, l)
		}
	}
	for _, b := range byType["pool"] {
		if p := d.pool(b, s); p != nil {
			s.Pools = append(s.Pools, p)
		}
	}
	for _, b := range byType["output"] {
		if o := d.output(b); o != nil {
			s.Outputs = append(s.Outputs, o)
		}
	}
	if !d.diags.HasErrors() {
		d.check(s)
	}
	return s
}

// symbols indexes block headers, so references resolve whatever the order
// of blocks and files, and reports duplicate names.
func (d *decoder) symbols(byType map[string][]*hcl.Block) {
	d.substrates, d.pools, d.layers = map[string]*hcl.Block{}, map[string]*hcl.Block{}, map[string]*hcl.Block{}
	index := func(m map[string]*hcl.Block, what string, b *hcl.Block) {
		key := strings.Join(b.Labels, ".")
		if prev, dup := m[key]; dup {
			d.errorf(b.DefRange, fmt.Sprintf("Duplicate %s %q", what, key),
				"A %s with this name is already declared at %s; names must be unique.", what, prev.DefRange)
			return
		}
		m[key] = b
		name := b.Labels[len(b.Labels)-1]
		if !blockName.MatchString(name) {
			d.errorf(b.LabelRanges[len(b.LabelRanges)-1], fmt.Sprintf("Invalid %s name %q", what, name),
				"Names go into machine names and tags: use lowercase letters, digits and dashes, starting with a letter.")
		}
	}
	for _, b := range byType["substrate"] {
		index(d.substrates, "substrate", b)
	}
	for _, b := range byType["pool"] {
		index(d.pools, "pool", b)
	}
	for _, b := range byType["layer"] {
		index(d.layers, "layer", b)
	}
	outs := map[string]*hcl.Block{}
	for _, b := range byType["output"] {
		key := b.Labels[0]
		if prev, dup := outs[key]; dup {
			d.errorf(b.DefRange, fmt.Sprintf("Duplicate output %q", key),
				"An output with this name is already declared at %s; names must be unique.", prev.DefRange)
		}
		outs[key] = b
	}
}

func (d *decoder) stackBlock(blocks []*hcl.Block, bodies []hcl.Body) string {
	if len(blocks) == 0 {
		rng := hcl.Range{}
		if len(bodies) > 0 {
			rng = bodies[0].MissingItemRange()
		}
		d.errorf(rng, "Missing stack block", "Every stack needs one stack { name = \"...\" } block; the name goes into every machine's tags.")
		return ""
	}
	for _, b := range blocks[1:] {
		d.errorf(b.DefRange, "Duplicate stack block", "A stack has one stack block; the first is at %s.", blocks[0].DefRange)
	}
	attrs := []schema.Attr{
		{Name: "name", Type: cty.String, Required: true, Doc: "lowercase letters, digits and dashes, at most 39 characters.", Check: func(v cty.Value) error {
			if !stackName.MatchString(v.AsString()) {
				return fmt.Errorf("%q is not a stack name: use [a-z][a-z0-9-]{0,38} (lowercase, starting with a letter, at most 39 characters)", v.AsString())
			}
			return nil
		}},
		{Name: "description", Type: cty.String},
	}
	content, diags := blocks[0].Body.Content(schema.BodySchema(attrs, nil))
	d.diags = append(d.diags, diags...)
	vals, diags := d.scope.Decode(content, attrs, nil, "the stack block")
	d.diags = append(d.diags, diags...)
	return vals.String("name")
}

func (d *decoder) substrate(b *hcl.Block) *Substrate {
	kind, name := b.Labels[0], b.Labels[1]
	k, ok := d.kinds.Substrates[kind]
	spec := k.Spec
	if !ok {
		d.errorf(b.LabelRanges[0], fmt.Sprintf("Unknown substrate kind %q", kind),
			"Substrate kinds are %s.%s", strings.Join(keys(d.kinds.Substrates), ", "), didYouMean(kind, keys(d.kinds.Substrates)))
		return nil
	}
	content, diags := b.Body.Content(schema.BodySchema(spec.Attrs, spec.Blocks))
	d.diags = append(d.diags, diags...)
	vals, diags := d.scope.Decode(content, spec.Attrs, spec.Blocks, fmt.Sprintf("substrate %q %q", kind, name))
	d.diags = append(d.diags, diags...)
	return &Substrate{Kind: kind, Name: name, Settings: vals, Range: b.DefRange}
}

// whole vets a count or size: a whole number from 0 to max.
func whole(max int64) func(cty.Value) error {
	return func(v cty.Value) error {
		f := v.AsBigFloat()
		if !f.IsInt() {
			return fmt.Errorf("%s is not a whole number", f.Text('f', -1))
		}
		if f.Sign() < 0 || f.Cmp(new(big.Float).SetInt64(max)) > 0 {
			return fmt.Errorf("%s is out of range: use a whole number from 0 to %d", f.Text('f', -1), max)
		}
		return nil
	}
}

func positive(v cty.Value) error {
	if err := whole(1 << 20)(v); err != nil {
		return err
	}
	if v.AsBigFloat().Sign() == 0 {
		return fmt.Errorf("must be at least 1")
	}
	return nil
}

func poolAttrs() []schema.Attr {
	return []schema.Attr{
		{Name: "size", Type: cty.Number, Required: true, Doc: "how many machines.", Check: whole(100000)},
		{Name: "cpus", Type: cty.Number, Default: cty.NumberIntVal(2), Check: positive},
		{Name: "memory_mb", Type: cty.Number, Default: cty.NumberIntVal(4096), Check: positive},
		{Name: "disk_gb", Type: cty.Number, Default: cty.NumberIntVal(20), Check: positive},
		{Name: "labels", Type: cty.Map(cty.String)},
	}
}

func (d *decoder) pool(b *hcl.Block, s *Stack) *Pool {
	name := b.Labels[0]
	p := &Pool{Name: name, Range: b.DefRange}
	head, rest, diags := b.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "substrate", Required: true}}})
	d.diags = append(d.diags, diags...)
	common := poolAttrs()
	attrs := common
	var spec *provisioners.Spec
	if a, ok := head.Attributes["substrate"]; ok {
		if ref, ok := d.ref(a.Expr, "substrate", "substrate", "layer"); ok {
			p.Substrate = ref
			spec = d.poolSpec(ref, s)
		}
	}
	var content *hcl.BodyContent
	if spec != nil {
		p.SubstrateKind = spec.Kind
		attrs = append(append([]schema.Attr(nil), common...), spec.PoolAttrs...)
		content, diags = rest.Content(schema.BodySchema(attrs, nil))
	} else {
		// The substrate is unknown, so its settings are too: check the rest.
		content, _, diags = rest.PartialContent(schema.BodySchema(attrs, nil))
	}
	d.diags = append(d.diags, diags...)
	vals, diags := d.scope.Decode(content, attrs, nil, fmt.Sprintf("pool %q", name))
	d.diags = append(d.diags, diags...)
	p.Size, p.CPUs, p.MemoryMB, p.DiskGB = vals.Int("size"), vals.Int("cpus"), vals.Int("memory_mb"), vals.Int("disk_gb")
	p.SizeRange = vals.Ranges["size"]
	p.Labels = vals.Map("labels")
	p.Settings = vals
	if s.Name != "" && p.Size > 0 {
		longest := fmt.Sprintf("%s-%s-%d", s.Name, name, p.Size-1)
		if len(longest) > maxName {
			d.errorf(b.LabelRanges[0], "Machine names too long",
				"Machines are named STACK-POOL-INDEX and %q has %d characters; hostnames allow %d. Shorten the stack or pool name.", longest, len(longest), maxName)
		}
	}
	if spec != nil && spec.CheckPool != nil && p.Substrate.Root == "substrate" {
		if sub := s.Substrate(p.Substrate.Key()); sub != nil {
			for _, pr := range spec.CheckPool(sub.Settings, vals, p.Size) {
				rng := b.DefRange
				if r, ok := vals.Ranges[pr.Attr]; ok {
					rng = r
				}
				d.errorf(rng, pr.Summary, "%s", pr.Detail)
			}
		}
	}
	return p
}

// poolSpec is the provisioner spec for pools on ref: the substrate's kind,
// or the substrate kind of a layer that is one.
func (d *decoder) poolSpec(ref Ref, s *Stack) *provisioners.Spec {
	kind := ref.Kind
	if ref.Root == "layer" {
		l, ok := d.kinds.Layers.Get(ref.Kind)
		if !ok || l.SubstrateKind() == "" {
			var subs []string
			for _, k := range d.kinds.Layers.Kinds() {
				if l, _ := d.kinds.Layers.Get(k); l.SubstrateKind() != "" {
					subs = append(subs, k)
				}
			}
			d.errorf(ref.Range, fmt.Sprintf("%s %s layer is not a substrate", article(ref.Kind, true), ref.Kind),
				"Pools can be placed on substrates and on layers of kind %s. Place the layer's roles on a pool instead.", strings.Join(subs, ", "))
			return nil
		}
		kind = l.SubstrateKind()
	}
	k, ok := d.kinds.Substrates[kind]
	if !ok {
		return nil
	}
	return &k.Spec
}

func roleSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "on", Required: true}, {Name: "count"}}}
}

func (d *decoder) layer(b *hcl.Block) *Layer {
	kind, name := b.Labels[0], b.Labels[1]
	impl, ok := d.kinds.Layers.Get(kind)
	if !ok {
		d.errorf(b.LabelRanges[0], fmt.Sprintf("Unknown layer kind %q", kind),
			"Layer kinds are %s.%s", strings.Join(d.kinds.Layers.Kinds(), ", "), didYouMean(kind, d.kinds.Layers.Kinds()))
		return nil
	}
	attrs := append([]schema.Attr{{Name: "version", Type: cty.String, Default: cty.StringVal(impl.DefaultVersion()),
		Doc: "defaults to " + impl.DefaultVersion() + "."}}, impl.Attrs()...)
	s := schema.BodySchema(attrs, nil)
	s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: "role", LabelNames: []string{"name"}})
	content, diags := b.Body.Content(s)
	d.diags = append(d.diags, diags...)
	vals, diags := d.scope.Decode(content, attrs, nil, fmt.Sprintf("layer %q %q", kind, name))
	d.diags = append(d.diags, diags...)
	l := &Layer{Kind: kind, Name: name, Version: vals.String("version"), Settings: vals, Range: b.DefRange}

	var roleNames []string
	for _, r := range impl.Roles() {
		roleNames = append(roleNames, r.Name)
	}
	declared := map[string]*Role{}
	for _, rb := range content.Blocks {
		rname := rb.Labels[0]
		if _, ok := layers.RoleOf(impl, rname); !ok {
			d.errorf(rb.LabelRanges[0], fmt.Sprintf("Unknown role %q for a %s layer", rname, kind),
				"A %s layer has the roles %s.%s", kind, strings.Join(roleNames, ", "), didYouMean(rname, roleNames))
			continue
		}
		if prev, dup := declared[rname]; dup {
			d.errorf(rb.DefRange, fmt.Sprintf("Duplicate role %q", rname),
				"The role is already declared at %s; a layer declares each role once.", prev.Range)
			continue
		}
		declared[rname] = d.role(rb)
	}
	// Keep the kind's bring-up order, whatever the file's order.
	for _, r := range impl.Roles() {
		if role, ok := declared[r.Name]; ok {
			l.Roles = append(l.Roles, role)
		}
	}
	if len(content.Blocks) == 0 {
		d.errorf(b.DefRange, fmt.Sprintf("Layer %q has no roles", name),
			"Place at least one role, e.g. role %q { on = pool.NAME }.", roleNames[0])
	}
	return l
}

func (d *decoder) role(b *hcl.Block) *Role {
	r := &Role{Name: b.Labels[0], Range: b.DefRange}
	content, diags := b.Body.Content(roleSchema())
	d.diags = append(d.diags, diags...)
	if a, ok := content.Attributes["on"]; ok {
		if ref, ok := d.ref(a.Expr, "on", "pool", "layer"); ok {
			r.On = ref
		}
	}
	if a, ok := content.Attributes["count"]; ok {
		attrs := []schema.Attr{{Name: "count", Type: cty.Number, Check: whole(100000)}}
		vals, diags := d.scope.Decode(&hcl.BodyContent{Attributes: hcl.Attributes{"count": a}}, attrs, nil, "role "+r.Name)
		d.diags = append(d.diags, diags...)
		r.Count, r.CountSet, r.CountRange = vals.Int("count"), true, a.Expr.Range()
	}
	return r
}

func (d *decoder) output(b *hcl.Block) *Output {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"},
	}})
	d.diags = append(d.diags, diags...)
	o := &Output{Name: b.Labels[0]}
	if a, ok := content.Attributes["description"]; ok {
		o.Description, _ = d.constString(a)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		v, diags := a.Expr.Value(nil)
		d.diags = append(d.diags, diags...)
		o.Sensitive = v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() && v.True()
	}
	if a, ok := content.Attributes["value"]; ok {
		o.Expr = a.Expr
		if diags := d.refs(a.Expr, "var", "stack", "substrate", "pool", "layer"); diags.HasErrors() {
			d.diags = append(d.diags, diags...)
		}
	}
	return o
}

func (d *decoder) constString(a *hcl.Attribute) (string, bool) {
	v, diags := d.scope.Value(a.Expr, cty.String, a.Name)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() {
		return "", false
	}
	return v.AsString(), true
}

package raml

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// isDocFacet reports whether a declaration key documents or annotates a
// type without constraining its values ("required" is read by the
// enclosing properties map).
func isDocFacet(key string) bool {
	switch key {
	case "type", "schema", "description", "displayName", "example", "examples",
		"default", "usage", "xml", "required":
		return true
	}
	return strings.HasPrefix(key, "(") // annotation
}

// kindSet is a set of kinds, for saying which kinds a facet applies to.
type kindSet uint32

func (ks kindSet) has(k kind) bool { return ks&(1<<k) != 0 }

const (
	stringKinds = kindSet(1 << kindString)
	numberKinds = kindSet(1<<kindNumber | 1<<kindInteger)
	scalarKinds = stringKinds | numberKinds | 1<<kindBoolean |
		1<<kindDateTime | 1<<kindDateOnly | 1<<kindTimeOnly | 1<<kindDateTimeOnly
	formatKinds = numberKinds | 1<<kindDateTime
	objectKinds = kindSet(1 << kindObject)
	arrayKinds  = kindSet(1 << kindArray)
)

// applyFacets adds sp's facets to s. On error it also says where.
func (r *resolver) applyFacets(s *shape, sp *spec) (string, error) {
	m := sp.node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		if isDocFacet(k.Value) {
			continue
		}
		if err := r.facet(s, sp, k.Value, v); err != nil {
			return at(sp.lib, k, sp.ypath+"."+k.Value), err
		}
	}
	return "", nil
}

func (r *resolver) facet(s *shape, sp *spec, key string, v *yaml.Node) error {
	var err error
	switch key {
	case "enum":
		err = need(s, key, scalarKinds, func() error { return setEnum(s, v) })
	case "pattern":
		err = need(s, key, stringKinds, func() (err error) { s.pattern, err = regexp.Compile(v.Value); return })
	case "minLength":
		err = need(s, key, stringKinds, func() (err error) { s.minLength, err = count(v); return })
	case "maxLength":
		err = need(s, key, stringKinds, func() (err error) { s.maxLength, err = count(v); return })
	case "minimum":
		err = need(s, key, numberKinds, func() (err error) { s.minimum, err = number(v); return })
	case "maximum":
		err = need(s, key, numberKinds, func() (err error) { s.maximum, err = number(v); return })
	case "multipleOf":
		err = need(s, key, numberKinds, func() (err error) { s.multipleOf, err = number(v); return })
	case "format":
		err = need(s, key, formatKinds, func() error { return setFormat(s, v.Value) })
	case "properties":
		err = need(s, key, objectKinds, func() error { return r.setProperties(s, sp, v) })
	case "additionalProperties":
		err = need(s, key, objectKinds, func() (err error) { s.additional, err = flag(v); return })
	case "minProperties":
		err = need(s, key, objectKinds, func() (err error) { s.minProps, err = count(v); return })
	case "maxProperties":
		err = need(s, key, objectKinds, func() (err error) { s.maxProps, err = count(v); return })
	case "discriminator":
		err = need(s, key, objectKinds, func() error { s.discriminator = v.Value; return nil })
	case "discriminatorValue":
		err = need(s, key, objectKinds, func() error { s.discValue = v.Value; return nil })
	case "items":
		err = need(s, key, arrayKinds, func() error {
			s.items = r.declaration(sp.lib, v, sp.ypath+".items", false)
			return nil
		})
	case "minItems":
		err = need(s, key, arrayKinds, func() (err error) { s.minItems, err = count(v); return })
	case "maxItems":
		err = need(s, key, arrayKinds, func() (err error) { s.maxItems, err = count(v); return })
	case "uniqueItems":
		err = need(s, key, arrayKinds, func() error {
			b, err := flag(v)
			s.uniqueItems = err == nil && *b
			return err
		})
	default:
		err = fmt.Errorf("unsupported RAML construct: facet %q", key)
	}
	return err
}

// need runs set if the facet applies to s's kind.
func need(s *shape, key string, kinds kindSet, set func() error) error {
	if !kinds.has(s.kind) {
		return fmt.Errorf("facet %s does not apply to type %s", key, s.kind)
	}
	if err := set(); err != nil {
		return fmt.Errorf("facet %s: %w", key, err)
	}
	return nil
}

func setEnum(s *shape, v *yaml.Node) error {
	if v.Kind != yaml.SequenceNode {
		return fmt.Errorf("want a list of values")
	}
	s.enum, s.nums = nil, nil
	for _, item := range v.Content {
		text := deref(item).Value
		switch s.kind {
		case kindNumber, kindInteger:
			n, ok := new(big.Rat).SetString(text)
			if !ok {
				return fmt.Errorf("%q is not a number", text)
			}
			s.nums = append(s.nums, n)
		case kindBoolean:
			if text != "true" && text != "false" {
				return fmt.Errorf("%q is not a boolean", text)
			}
		}
		s.enum = append(s.enum, text)
	}
	return nil
}

func setFormat(s *shape, f string) error {
	ok := false
	switch s.kind {
	case kindNumber, kindInteger:
		_, _, isInt := intRange(f)
		ok = isInt || f == "float" || f == "double"
	case kindDateTime:
		ok = f == "rfc3339" || f == "rfc2616"
	}
	if !ok {
		return fmt.Errorf("unsupported RAML construct: format %q on %s", f, s.kind)
	}
	s.format = f
	return nil
}

// setProperties reads an object's properties: "name" (required unless
// required: false), "name?" (optional) and "/regex/" (pattern properties,
// "//" matching any name).
func (r *resolver) setProperties(s *shape, sp *spec, v *yaml.Node) error {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("want a map of property declarations")
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i].Value, deref(v.Content[i+1])
		ypath := sp.ypath + ".properties." + key
		if len(key) >= 2 && key[0] == '/' && key[len(key)-1] == '/' {
			re, err := regexp.Compile(key[1 : len(key)-1])
			if err != nil {
				return fmt.Errorf("pattern property %s: %w", key, err)
			}
			s.patterns = append(s.patterns, patternProperty{re: re, shape: r.declaration(sp.lib, val, ypath, false)})
			continue
		}
		p := property{name: key, required: true}
		if n, ok := strings.CutSuffix(key, "?"); ok {
			p.name, p.required = n, false
		}
		if rn := mapGet(val, "required"); rn != nil {
			b, err := flag(rn)
			if err != nil {
				return fmt.Errorf("property %s: required: %w", p.name, err)
			}
			p.required = *b
		}
		p.shape = r.declaration(sp.lib, val, ypath, false)
		s.setProp(p)
	}
	return nil
}

func count(v *yaml.Node) (*int, error) {
	var n int
	if err := v.Decode(&n); err != nil || n < 0 {
		return nil, fmt.Errorf("want a non-negative integer, got %q", v.Value)
	}
	return &n, nil
}

func number(v *yaml.Node) (*bound, error) {
	n, ok := new(big.Rat).SetString(v.Value)
	if !ok || v.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("want a number, got %q", v.Value)
	}
	return &bound{val: n, text: v.Value}, nil
}

func flag(v *yaml.Node) (*bool, error) {
	var b bool
	if err := v.Decode(&b); err != nil {
		return nil, fmt.Errorf("want true or false, got %q", v.Value)
	}
	return &b, nil
}

package raml

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// checker walks a value and its shape together, collecting every problem.
type checker struct {
	opts     Options
	subtypes map[*shape][]*shape
	problems []Problem
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) check(s *shape, v any, path string) {
	switch s.kind {
	case kindBroken:
		c.add(path, "cannot check this value: %v", s.err)
	case kindAny:
	case kindUnion:
		c.union(s, v, path)
	case kindObject:
		c.object(s, v, path, true)
	case kindArray:
		c.array(s, v, path)
	case kindNil:
		if v != nil {
			c.add(path, "want nil, got %s", describe(v))
		}
	case kindBoolean:
		c.boolean(s, v, path)
	case kindNumber, kindInteger:
		c.number(s, v, path)
	case kindString:
		c.str(s, v, path)
	default:
		c.temporal(s, v, path)
	}
}

// union accepts v if any member does. Otherwise it reports the member v
// came closest to (fewest problems), since listing every member's problems
// buries the likely one.
func (c *checker) union(s *shape, v any, path string) {
	var best *checker
	var bestShape *shape
	for _, m := range s.members {
		sub := &checker{opts: c.opts, subtypes: c.subtypes}
		sub.check(m, v, path)
		if len(sub.problems) == 0 {
			return
		}
		if accepts(m, v) && (best == nil || len(sub.problems) < len(best.problems)) {
			best, bestShape = sub, m
		}
	}
	if best == nil {
		c.add(path, "want %s, got %s", strings.Join(memberKinds(s, nil), " or "), describe(v))
		return
	}
	c.add(path, "matches none of %s; nearest is %s:", (&shape{kind: kindUnion, members: s.members}).label(), bestShape.label())
	c.problems = append(c.problems, best.problems...)
}

func (c *checker) object(s *shape, v any, path string, dispatch bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		c.add(path, "want object, got %s", describe(v))
		return
	}
	if dispatch && s.discriminator != "" {
		if s = c.discriminate(s, obj, path); s == nil {
			return
		}
	}
	for _, p := range s.props {
		if val, ok := obj[p.name]; ok {
			c.check(p.shape, val, child(path, p.name))
		} else if p.required {
			c.add(child(path, p.name), "required")
		}
	}
	for _, k := range sortedKeys(obj) {
		if s.prop(k) != nil {
			continue
		}
		if pp := s.patternFor(k); pp != nil {
			c.check(pp, obj[k], child(path, k))
		} else if c.closed(s) {
			c.add(child(path, k), "unknown field")
		}
	}
	if s.minProps != nil && len(obj) < *s.minProps {
		c.add(path, "has %d properties, want at least %d (minProperties)", len(obj), *s.minProps)
	}
	if s.maxProps != nil && len(obj) > *s.maxProps {
		c.add(path, "has %d properties, want at most %d (maxProperties)", len(obj), *s.maxProps)
	}
}

// closed reports whether undeclared properties are errors: when the type
// says additionalProperties: false, or, under Options.Closed, when it
// declares any properties and does not say additionalProperties: true.
func (c *checker) closed(s *shape) bool {
	if s.additional != nil {
		return !*s.additional
	}
	return c.opts.Closed && (len(s.props) > 0 || len(s.patterns) > 0)
}

// patternFor returns the shape of the first pattern property matching name.
func (s *shape) patternFor(name string) *shape {
	for _, pp := range s.patterns {
		if pp.re.MatchString(name) {
			return pp.shape
		}
	}
	return nil
}

// discriminate picks, by the discriminator property's value, which of s and
// the types inheriting from it the object is.
func (c *checker) discriminate(s *shape, obj map[string]any, path string) *shape {
	root := s
	if root.name == "" && len(root.ancestors) > 0 {
		root = root.ancestors[len(root.ancestors)-1]
	}
	dpath := child(path, s.discriminator)
	raw, ok := obj[s.discriminator]
	if !ok {
		c.add(dpath, "required (discriminator)")
		return nil
	}
	var values []string
	for _, t := range append([]*shape{root}, c.subtypes[root]...) {
		if t.kind != kindObject {
			continue
		}
		dv := t.discValue
		if dv == "" {
			dv = t.declName
		}
		if raw == any(dv) {
			return t
		}
		values = append(values, dv)
	}
	c.add(dpath, "must be one of %v (discriminator), got %s", values, describe(raw))
	return nil
}

func (c *checker) array(s *shape, v any, path string) {
	arr, ok := v.([]any)
	if !ok {
		c.add(path, "want array, got %s", describe(v))
		return
	}
	if s.minItems != nil && len(arr) < *s.minItems {
		c.add(path, "has %d items, want at least %d (minItems)", len(arr), *s.minItems)
	}
	if s.maxItems != nil && len(arr) > *s.maxItems {
		c.add(path, "has %d items, want at most %d (maxItems)", len(arr), *s.maxItems)
	}
	for i, item := range arr {
		if s.items != nil {
			c.check(s.items, item, index(path, i))
		}
		if !s.uniqueItems {
			continue
		}
		for j := range i {
			if equalJSON(arr[j], item) {
				c.add(index(path, i), "equals item [%d], want unique items (uniqueItems)", j)
				break
			}
		}
	}
}

func (c *checker) str(s *shape, v any, path string) {
	str, ok := v.(string)
	if !ok {
		c.add(path, "want string, got %s", describe(v))
		return
	}
	if s.enum != nil && !slices.Contains(s.enum, str) {
		c.add(path, "must be one of %v, got %q", s.enum, str)
	}
	if s.pattern != nil && !s.pattern.MatchString(str) {
		c.add(path, "must match pattern %s, got %q", s.pattern, str)
	}
	n := utf8.RuneCountInString(str)
	if s.minLength != nil && n < *s.minLength {
		c.add(path, "length %d is less than minLength %d", n, *s.minLength)
	}
	if s.maxLength != nil && n > *s.maxLength {
		c.add(path, "length %d is more than maxLength %d", n, *s.maxLength)
	}
}

func (c *checker) boolean(s *shape, v any, path string) {
	b, ok := v.(bool)
	if !ok {
		c.add(path, "want boolean, got %s", describe(v))
		return
	}
	if s.enum != nil && !slices.Contains(s.enum, strconv.FormatBool(b)) {
		c.add(path, "must be one of %v, got %t", s.enum, b)
	}
}

func (c *checker) number(s *shape, v any, path string) {
	n, text, ok := toRat(v)
	if !ok {
		c.add(path, "want %s, got %s", s.kind, describe(v))
		return
	}
	lo, hi, intFormat := intRange(s.format)
	if (s.kind == kindInteger || intFormat) && !n.IsInt() {
		c.add(path, "want integer, got number %s", text)
		return
	}
	if intFormat && (n.Cmp(new(big.Rat).SetInt64(lo)) < 0 || n.Cmp(new(big.Rat).SetInt64(hi)) > 0) {
		c.add(path, "%s is out of range for format %s", text, s.format)
	}
	if f, _ := n.Float64(); s.format == "float" && math.Abs(f) > math.MaxFloat32 {
		c.add(path, "%s is out of range for format float", text)
	}
	if s.minimum != nil && n.Cmp(s.minimum.val) < 0 {
		c.add(path, "%s is less than minimum %s", text, s.minimum.text)
	}
	if s.maximum != nil && n.Cmp(s.maximum.val) > 0 {
		c.add(path, "%s is greater than maximum %s", text, s.maximum.text)
	}
	if m := s.multipleOf; m != nil && m.val.Sign() != 0 && !new(big.Rat).Quo(n, m.val).IsInt() {
		c.add(path, "%s is not a multiple of %s", text, m.text)
	}
	if s.nums != nil && !slices.ContainsFunc(s.nums, func(e *big.Rat) bool { return e.Cmp(n) == 0 }) {
		c.add(path, "must be one of %v, got %s", s.enum, text)
	}
}

// temporal checks the date and time built-ins, which JSON carries as strings.
func (c *checker) temporal(s *shape, v any, path string) {
	str, ok := v.(string)
	layout, name := timeLayout(s)
	if !ok {
		c.add(path, "want %s, got %s", s.kind, describe(v))
		return
	}
	if _, err := time.Parse(layout, str); err != nil {
		c.add(path, "want %s (%s), got %q", s.kind, name, str)
	}
	if s.enum != nil && !slices.Contains(s.enum, str) {
		c.add(path, "must be one of %v, got %q", s.enum, str)
	}
}

func timeLayout(s *shape) (layout, name string) {
	switch s.kind {
	case kindDateOnly:
		return time.DateOnly, "yyyy-mm-dd"
	case kindTimeOnly:
		return time.TimeOnly, "hh:mm:ss[.ff...]"
	case kindDateTimeOnly:
		return "2006-01-02T15:04:05", "yyyy-mm-ddThh:mm:ss[.ff...]"
	}
	if s.format == "rfc2616" {
		return time.RFC1123, "RFC 2616"
	}
	return time.RFC3339, "RFC 3339"
}

// intRange gives the bounds of an integer format.
func intRange(format string) (lo, hi int64, ok bool) {
	switch format {
	case "int8":
		return math.MinInt8, math.MaxInt8, true
	case "int16":
		return math.MinInt16, math.MaxInt16, true
	case "int32":
		return math.MinInt32, math.MaxInt32, true
	case "int", "int64", "long":
		return math.MinInt64, math.MaxInt64, true
	}
	return 0, 0, false
}

// accepts reports whether v is of a JSON kind s could match at all.
func accepts(s *shape, v any) bool {
	switch s.kind {
	case kindAny, kindBroken:
		return true
	case kindUnion:
		return slices.ContainsFunc(s.members, func(m *shape) bool { return accepts(m, v) })
	}
	return jsonKind(s.kind) == describeKind(v)
}

// memberKinds lists the kinds a union's members allow, without repeats.
func memberKinds(s *shape, acc []string) []string {
	for _, m := range s.members {
		if m.kind == kindUnion {
			acc = memberKinds(m, acc)
		} else if k := m.kind.String(); !slices.Contains(acc, k) {
			acc = append(acc, k)
		}
	}
	return acc
}

// jsonKind is the JSON kind that carries values of k.
func jsonKind(k kind) string {
	switch k {
	case kindNumber, kindInteger:
		return "number"
	case kindBoolean, kindObject, kindArray:
		return k.String()
	case kindNil:
		return "null"
	}
	return "string"
}

func describeKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	if _, _, ok := toRat(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// describe names v's JSON kind, with the value for scalars.
func describe(v any) string {
	k := describeKind(v)
	switch v := v.(type) {
	case string:
		return k + " " + strconv.Quote(v)
	case bool:
		return k + " " + strconv.FormatBool(v)
	}
	if _, text, ok := toRat(v); ok {
		return k + " " + text
	}
	return k
}

// toRat reads a JSON number exactly: json.Number (Decoder.UseNumber), or
// float64 and ints for values decoded or built some other way.
func toRat(v any) (*big.Rat, string, bool) {
	switch n := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(n))
		return r, string(n), ok
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, "", false
		}
		return new(big.Rat).SetFloat64(n), strconv.FormatFloat(n, 'g', -1, 64), true
	case int:
		return new(big.Rat).SetInt64(int64(n)), strconv.Itoa(n), true
	case int64:
		return new(big.Rat).SetInt64(n), strconv.FormatInt(n, 10), true
	}
	return nil, "", false
}

// equalJSON compares decoded JSON values, numbers by value (1 equals 1.0).
func equalJSON(a, b any) bool {
	if ra, _, ok := toRat(a); ok {
		rb, _, ok := toRat(b)
		return ok && ra.Cmp(rb) == 0
	}
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, equalJSON)
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, va := range a {
			if vb, ok := b[k]; !ok || !equalJSON(va, vb) {
				return false
			}
		}
		return true
	}
	switch b.(type) {
	case []any, map[string]any:
		return false
	}
	return a == b
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// child extends a JSON path by a property: $.a.b, or $.a["x-y"] for names
// that are not identifiers.
func child(path, key string) string {
	for i, r := range key {
		ident := r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9'
		if !ident {
			return path + "[" + strconv.Quote(key) + "]"
		}
	}
	if key == "" {
		return path + `[""]`
	}
	return path + "." + key
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

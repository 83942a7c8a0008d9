package raml

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// kind is the built-in type a shape is ultimately derived from.
type kind int

const (
	kindBroken kind = iota // the declaration could not be understood; see shape.err
	kindAny
	kindString
	kindNumber
	kindInteger
	kindBoolean
	kindNil
	kindObject
	kindArray
	kindUnion
	kindDateTime
	kindDateOnly
	kindTimeOnly
	kindDateTimeOnly
)

var kindNames = map[kind]string{
	kindBroken:       "broken type",
	kindAny:          "any",
	kindString:       "string",
	kindNumber:       "number",
	kindInteger:      "integer",
	kindBoolean:      "boolean",
	kindNil:          "nil",
	kindObject:       "object",
	kindArray:        "array",
	kindUnion:        "union",
	kindDateTime:     "datetime",
	kindDateOnly:     "date-only",
	kindTimeOnly:     "time-only",
	kindDateTimeOnly: "datetime-only",
}

func (k kind) String() string { return kindNames[k] }

// errFile refuses RAML's file type, which has no JSON form.
var errFile = errors.New("unsupported RAML construct: built-in type file")

// isBuiltin reports whether name is a RAML built-in type name.
func isBuiltin(name string) bool { return name == "file" || builtin(name) != nil }

// builtin returns a fresh shape for a RAML built-in type name (except
// file), or nil.
func builtin(name string) *shape {
	for k, n := range kindNames {
		if n == name && k != kindBroken && k != kindUnion {
			return &shape{kind: k}
		}
	}
	return nil
}

// bound is a numeric facet kept exact, with the text it was written as.
type bound struct {
	val  *big.Rat
	text string
}

type property struct {
	name     string
	required bool
	shape    *shape
}

type patternProperty struct {
	re    *regexp.Regexp
	shape *shape
}

// shape is a resolved type: its built-in kind plus every facet it carries,
// its own and inherited ones, so validation never walks the inheritance chain.
type shape struct {
	name     string // qualified name (library stem + "." + name) for declared types
	declName string // name as declared, the default discriminatorValue
	kind     kind
	err      error // for kindBroken

	enum []string // texts of the allowed values
	nums []*big.Rat

	pattern              *regexp.Regexp
	minLength, maxLength *int

	minimum, maximum, multipleOf *bound
	format                       string

	items              *shape
	minItems, maxItems *int
	uniqueItems        bool

	props                    []property
	patterns                 []patternProperty
	additional               *bool
	minProps, maxProps       *int
	discriminator, discValue string

	members   []*shape // for kindUnion
	ancestors []*shape // declared types this one inherits from, nearest last
}

// clone copies s for use as the base of a new type, dropping what is not
// inherited (names and discriminatorValue).
func (s *shape) clone() *shape {
	c := *s
	c.name, c.declName, c.discValue = "", "", ""
	c.props = append([]property(nil), s.props...)
	c.patterns = append([]patternProperty(nil), s.patterns...)
	c.ancestors = append([]*shape(nil), s.ancestors...)
	return &c
}

func (s *shape) setProp(p property) {
	for i := range s.props {
		if s.props[i].name == p.name {
			s.props[i] = p
			return
		}
	}
	s.props = append(s.props, p)
}

func (s *shape) prop(name string) *property {
	for i := range s.props {
		if s.props[i].name == name {
			return &s.props[i]
		}
	}
	return nil
}

// label names s in messages: its declared name, else its structure.
func (s *shape) label() string {
	switch {
	case s.name != "":
		return s.name
	case s.kind == kindArray && s.items != nil:
		l := s.items.label()
		if strings.Contains(l, "|") {
			l = "(" + l + ")"
		}
		return l + "[]"
	case s.kind == kindUnion:
		parts := make([]string, len(s.members))
		for i, m := range s.members {
			parts[i] = m.label()
		}
		return strings.Join(parts, " | ")
	}
	return s.kind.String()
}

// mergeBase folds another parent of a multiply-inherited type into s.
func mergeBase(s, b *shape) error {
	switch {
	case s.kind == b.kind:
	case s.kind == kindNumber && b.kind == kindInteger:
		s.kind = kindInteger
	case s.kind == kindInteger && b.kind == kindNumber:
	default:
		return fmt.Errorf("unsupported RAML construct: inheriting from both %s and %s", s.label(), b.label())
	}
	if s.kind == kindUnion {
		return fmt.Errorf("unsupported RAML construct: multiple inheritance from unions")
	}
	for _, p := range b.props {
		s.setProp(p)
	}
	s.patterns = append(s.patterns, b.patterns...)
	mergeFacets(s, b)
	return nil
}

// mergeFacets copies the scalar, array and object facets b sets over s's.
func mergeFacets(s, b *shape) {
	if b.enum != nil {
		s.enum, s.nums = b.enum, b.nums
	}
	if b.pattern != nil {
		s.pattern = b.pattern
	}
	pick(&s.minLength, b.minLength)
	pick(&s.maxLength, b.maxLength)
	pick(&s.minimum, b.minimum)
	pick(&s.maximum, b.maximum)
	pick(&s.multipleOf, b.multipleOf)
	if b.format != "" {
		s.format = b.format
	}
	if b.items != nil {
		s.items = b.items
	}
	pick(&s.minItems, b.minItems)
	pick(&s.maxItems, b.maxItems)
	s.uniqueItems = s.uniqueItems || b.uniqueItems
	pick(&s.additional, b.additional)
	pick(&s.minProps, b.minProps)
	pick(&s.maxProps, b.maxProps)
	if b.discriminator != "" {
		s.discriminator = b.discriminator
	}
}

func pick[T any](dst **T, src *T) {
	if src != nil {
		*dst = src
	}
}

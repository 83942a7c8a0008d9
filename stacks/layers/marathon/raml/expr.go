package raml

import (
	"fmt"
	"strings"
)

// expr is a parsed RAML type expression such as "strings.PathId", "App[]",
// "(A | B)" or "string?". Exactly one of name, items and members is set.
type expr struct {
	name    string
	items   *expr
	members []*expr
}

func (e *expr) String() string {
	switch {
	case e.items != nil:
		if len(e.items.members) > 0 {
			return "(" + e.items.String() + ")[]"
		}
		return e.items.String() + "[]"
	case len(e.members) > 0:
		parts := make([]string, len(e.members))
		for i, m := range e.members {
			parts[i] = m.String()
		}
		return strings.Join(parts, " | ")
	}
	return e.name
}

// parseExpr parses a type expression. JSON and XML schemas, which RAML also
// allows in type positions, are refused.
func parseExpr(s string) (*expr, error) {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "<") {
		return nil, fmt.Errorf("unsupported RAML construct: inline JSON or XML schema")
	}
	p := exprParser{src: s}
	e, err := p.union()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("type expression %q: unexpected %q", s, p.src[p.pos:])
	}
	return e, nil
}

type exprParser struct {
	src string
	pos int
}

func (p *exprParser) union() (*expr, error) {
	var members []*expr
	for {
		e, err := p.postfix()
		if err != nil {
			return nil, err
		}
		members = append(members, e)
		p.skipSpace()
		if !p.eat("|") {
			break
		}
	}
	if len(members) == 1 {
		return members[0], nil
	}
	return &expr{members: members}, nil
}

// postfix handles "X[]" (array of X) and "X?" (X or nil).
func (p *exprParser) postfix() (*expr, error) {
	e, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		switch {
		case p.eat("[]"):
			e = &expr{items: e}
		case p.eat("?"):
			e = &expr{members: []*expr{e, {name: "nil"}}}
		default:
			return e, nil
		}
	}
}

func (p *exprParser) primary() (*expr, error) {
	p.skipSpace()
	if p.eat("(") {
		e, err := p.union()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if !p.eat(")") {
			return nil, fmt.Errorf("type expression %q: missing )", p.src)
		}
		return e, nil
	}
	start := p.pos
	for p.pos < len(p.src) && isNameByte(p.src[p.pos]) {
		p.pos++
	}
	if start == p.pos {
		return nil, fmt.Errorf("type expression %q: want a type name at offset %d", p.src, start)
	}
	return &expr{name: p.src[start:p.pos]}, nil
}

func (p *exprParser) eat(tok string) bool {
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *exprParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// isNameByte reports whether c may appear in a type name; "." separates a
// library prefix and "-" occurs in built-ins such as datetime-only.
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.'
}

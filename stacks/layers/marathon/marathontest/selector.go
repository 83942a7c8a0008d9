package marathontest

import (
	"fmt"
	"slices"
	"strings"
)

// selector is one term of a label selector query (apps.raml's label
// parameter): existence ("k"), equality ("k==v", "k!=v") or set based
// ("k in (a,b)", "k notin (a,b)").
type selector struct {
	key, op string // op: "", "==", "!=", "in", "notin"
	values  []string
}

// matches says whether labels satisfy the term. Per apps.raml every kind
// of term needs the label to exist, != and notin included.
func (sel selector) matches(labels map[string]string) bool {
	v, ok := labels[sel.key]
	if !ok {
		return false
	}
	switch sel.op {
	case "==":
		return v == sel.values[0]
	case "!=":
		return v != sel.values[0]
	case "in":
		return slices.Contains(sel.values, v)
	case "notin":
		return !slices.Contains(sel.values, v)
	}
	return true
}

func matchAll(sels []selector, labels map[string]string) bool {
	for _, sel := range sels {
		if !sel.matches(labels) {
			return false
		}
	}
	return true
}

// parseSelector parses a label selector query: comma-separated terms, all
// of which must hold. Labels and values are runs of -A-Za-z0-9_. or
// backslash-escaped characters; any other character unescaped is an error.
func parseSelector(q string) ([]selector, error) {
	p := &selParser{in: []rune(q)}
	var out []selector
	for {
		p.space()
		key, err := p.term()
		if err != nil {
			return nil, err
		}
		if key == "" {
			return nil, p.errorf("a label")
		}
		sel := selector{key: key}
		p.space()
		switch {
		case p.eat("=="), p.eat("!="):
			sel.op = string(p.in[p.at-2 : p.at])
			p.space()
			v, err := p.term()
			if err != nil {
				return nil, err
			}
			sel.values = []string{v}
		case p.word("notin"), p.word("in"):
			sel.op = p.last
			if sel.values, err = p.set(); err != nil {
				return nil, err
			}
		}
		out = append(out, sel)
		p.space()
		if p.at == len(p.in) {
			return out, nil
		}
		if !p.eat(",") {
			return nil, p.errorf(`"," or the end`)
		}
	}
}

type selParser struct {
	in   []rune
	at   int
	last string // the word word matched
}

func (p *selParser) errorf(want string) error {
	if p.at >= len(p.in) {
		return fmt.Errorf("want %s at the end of %q", want, string(p.in))
	}
	return fmt.Errorf("want %s at %q in %q (escape other characters with a backslash)", want, string(p.in[p.at:]), string(p.in))
}

func (p *selParser) space() {
	for p.at < len(p.in) && p.in[p.at] == ' ' {
		p.at++
	}
}

func (p *selParser) eat(s string) bool {
	r := []rune(s)
	if p.at+len(r) <= len(p.in) && string(p.in[p.at:p.at+len(r)]) == s {
		p.at += len(r)
		return true
	}
	return false
}

// word eats w when a space or "(" follows it.
func (p *selParser) word(w string) bool {
	end := p.at + len(w)
	if end < len(p.in) && string(p.in[p.at:end]) == w && (p.in[end] == ' ' || p.in[end] == '(') {
		p.at, p.last = end, w
		return true
	}
	return false
}

// term reads a label or value, unescaping it.
func (p *selParser) term() (string, error) {
	var b strings.Builder
	for p.at < len(p.in) {
		r := p.in[p.at]
		switch {
		case r == '\\':
			if p.at+1 == len(p.in) {
				return "", p.errorf("a character after the backslash")
			}
			b.WriteRune(p.in[p.at+1])
			p.at += 2
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.':
			b.WriteRune(r)
			p.at++
		default:
			return b.String(), nil
		}
	}
	return b.String(), nil
}

// set reads "(v1, v2, ...)".
func (p *selParser) set() ([]string, error) {
	p.space()
	if !p.eat("(") {
		return nil, p.errorf(`"("`)
	}
	var out []string
	for {
		p.space()
		v, err := p.term()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.eat(")") {
			return out, nil
		}
		if !p.eat(",") {
			return nil, p.errorf(`"," or ")"`)
		}
	}
}

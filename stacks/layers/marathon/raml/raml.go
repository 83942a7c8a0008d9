package raml

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Schema is a set of RAML type libraries, resolved and ready to validate
// against. It is not modified after Load and is safe for concurrent use.
type Schema struct {
	libs     []*library
	subtypes map[*shape][]*shape // for discriminator dispatch
	issues   []error
}

// Options adjust validation.
type Options struct {
	// Closed treats every object type that declares properties as if it said
	// additionalProperties: false, unless it says additionalProperties: true.
	// RAML 1.0 object types are open by default; this is stricter than RAML
	// and catches misspelt or invented field names.
	Closed bool
}

// Problem is one way a value fails its type.
type Problem struct {
	Path    string // JSON path of the offending value, "$" for the root
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// Error lists every problem found in one value.
type Error struct {
	Type     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "value does not match %s (%d problem(s)):", e.Type, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// Load reads the RAML files (Library fragments or root documents) at the
// given paths in fsys, and every library they use, and resolves their types.
//
// It fails on unreadable files, bad YAML and uses: that cannot be followed.
// A type that cannot be resolved (unknown type names, unsupported
// constructs) does not fail Load: it is listed by Issues and fails every
// validation that reaches it.
func Load(fsys fs.FS, files ...string) (*Schema, error) {
	l := &loader{fsys: fsys, libs: map[string]*library{}}
	for _, f := range files {
		if _, err := l.load(path.Clean(f)); err != nil {
			return nil, fmt.Errorf("raml: %w", err)
		}
	}
	r := &resolver{}
	for _, lib := range l.order {
		for _, name := range lib.order {
			r.named(lib.decls[name])
		}
	}
	for len(r.pending) > 0 {
		f := r.pending[0]
		r.pending = r.pending[1:]
		f()
	}
	s := &Schema{libs: l.order, subtypes: map[*shape][]*shape{}, issues: r.issues}
	for _, lib := range l.order {
		for _, name := range lib.order {
			d := lib.decls[name]
			for _, a := range d.shape.ancestors {
				s.subtypes[a] = append(s.subtypes[a], d.shape)
			}
		}
	}
	return s, nil
}

// Issues returns the declarations that cannot be used, each saying what is
// wrong and where (file:line and YAML path).
func (s *Schema) Issues() []error {
	return slices.Clone(s.issues)
}

// Types returns the qualified names of all declared types, sorted. A type's
// qualifier is the name of its file without extension: "app.App" for type
// App in app.raml.
func (s *Schema) Types() []string {
	var names []string
	for _, lib := range s.libs {
		for _, n := range lib.order {
			names = append(names, lib.stem+"."+n)
		}
	}
	slices.Sort(names)
	return names
}

// Validate checks a decoded JSON value (as from encoding/json into an any,
// preferably with Decoder.UseNumber so numbers stay exact) against a type.
//
// typeExpr is a RAML type expression over the schema's types: a built-in
// ("string"), a declared type by its unique name ("App") or qualified by its
// file name ("app.App"), an array ("app.App[]") or a union ("A | B").
// A value that does not match yields an *Error listing every problem; an
// unknown or ambiguous type name yields a plain error.
func (s *Schema) Validate(typeExpr string, value any, o Options) error {
	e, err := parseExpr(typeExpr)
	if err != nil {
		return fmt.Errorf("raml: %w", err)
	}
	sh, err := s.fromExpr(e)
	if err != nil {
		return fmt.Errorf("raml: %w", err)
	}
	c := &checker{opts: o, subtypes: s.subtypes}
	c.check(sh, value, "$")
	if len(c.problems) > 0 {
		return &Error{Type: typeExpr, Problems: c.problems}
	}
	return nil
}

// ValidateJSON decodes one JSON document and validates it like Validate.
func (s *Schema) ValidateJSON(typeExpr string, body []byte, o Options) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("raml: %s: invalid JSON: %w", typeExpr, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("raml: %s: invalid JSON: data after the document", typeExpr)
	}
	return s.Validate(typeExpr, v, o)
}

func (s *Schema) fromExpr(e *expr) (*shape, error) {
	switch {
	case e.items != nil:
		it, err := s.fromExpr(e.items)
		return &shape{kind: kindArray, items: it}, err
	case len(e.members) > 0:
		u := &shape{kind: kindUnion}
		for _, m := range e.members {
			ms, err := s.fromExpr(m)
			if err != nil {
				return nil, err
			}
			u.members = append(u.members, ms)
		}
		return u, nil
	}
	if b := builtin(e.name); b != nil {
		return b, nil
	}
	return s.lookup(e.name)
}

// lookup finds a declared type by "stem.Name" or by a name only one
// library declares.
func (s *Schema) lookup(name string) (*shape, error) {
	stem, local, qualified := strings.Cut(name, ".")
	if !qualified {
		local = name
	}
	var found []*decl
	for _, lib := range s.libs {
		if qualified && lib.stem != stem {
			continue
		}
		if d := lib.decls[local]; d != nil {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 1:
		return found[0].shape, nil
	case 0:
		return nil, fmt.Errorf("no type %s%s", name, s.similar(local))
	}
	var where []string
	for _, d := range found {
		where = append(where, d.lib.path)
	}
	return nil, fmt.Errorf("type %s is ambiguous: declared in %s", name, strings.Join(where, ", "))
}

// similar suggests declared types whose names contain name.
func (s *Schema) similar(name string) string {
	var like []string
	for _, q := range s.Types() {
		_, local, _ := strings.Cut(q, ".")
		if strings.Contains(strings.ToLower(local), strings.ToLower(name)) {
			like = append(like, q)
		}
	}
	if len(like) == 0 {
		return ""
	}
	return "; similar: " + strings.Join(like, ", ")
}

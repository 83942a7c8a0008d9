package raml

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// library is one RAML file: the types it declares and the libraries it uses.
type library struct {
	path  string // in the file system it was read from
	stem  string // file name without extension; qualifies its type names
	uses  map[string]*library
	decls map[string]*decl
	order []string // declaration order, so resolution is deterministic
}

type declState int

const (
	unresolved declState = iota
	resolving
	resolved
)

// decl is a named type declaration. Its shape is allocated when the file is
// read so that references (including recursive ones) can point at it before
// it is resolved.
type decl struct {
	lib   *library
	name  string
	node  *yaml.Node
	shape *shape
	state declState
}

// loader reads RAML files and, transitively, the libraries they use.
type loader struct {
	fsys  fs.FS
	libs  map[string]*library
	order []*library
}

func (l *loader) load(p string) (*library, error) {
	if lib, ok := l.libs[p]; ok {
		return lib, nil
	}
	root, err := readRAML(l.fsys, p)
	if err != nil {
		return nil, err
	}
	lib := &library{
		path:  p,
		stem:  strings.TrimSuffix(path.Base(p), path.Ext(p)),
		uses:  map[string]*library{},
		decls: map[string]*decl{},
	}
	// Registered before its uses are followed, so libraries may use each other.
	l.libs[p] = lib
	l.order = append(l.order, lib)
	if root == nil {
		return lib, nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		switch k.Value {
		case "uses":
			err = l.uses(lib, v)
		case "types", "schemas": // schemas is RAML 1.0's deprecated name for types
			err = lib.declare(v)
		}
		if err != nil {
			return nil, err
		}
	}
	return lib, nil
}

// readRAML reads a RAML 1.0 file and returns its top-level map (nil if empty).
func readRAML(fsys fs.FS, p string) (*yaml.Node, error) {
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(data, []byte("#%RAML 1.0")) {
		return nil, fmt.Errorf("%s: not RAML 1.0: the first line must start with #%%RAML 1.0", p)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: a RAML document must be a map", p, root.Line)
	}
	return root, nil
}

func (l *loader) uses(lib *library, v *yaml.Node) error {
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: uses: must be a map of prefix to file", lib.path, v.Line)
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		prefix, file := v.Content[i].Value, deref(v.Content[i+1])
		used, err := l.load(path.Join(path.Dir(lib.path), file.Value))
		if err != nil {
			return fmt.Errorf("%s:%d: uses %s: %w", lib.path, file.Line, prefix, err)
		}
		lib.uses[prefix] = used
	}
	return nil
}

func (lib *library) declare(v *yaml.Node) error {
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: types: must be a map", lib.path, v.Line)
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		name := v.Content[i].Value
		if lib.decls[name] != nil {
			return fmt.Errorf("%s:%d: type %s declared twice", lib.path, v.Content[i].Line, name)
		}
		lib.decls[name] = &decl{lib: lib, name: name, node: v.Content[i+1], shape: &shape{}}
		lib.order = append(lib.order, name)
	}
	return nil
}

// lookup finds the declaration a type name refers to from inside lib:
// "Name" is lib's own, "prefix.Name" is in the library lib uses as prefix.
func (lib *library) lookup(name string) (*decl, error) {
	if prefix, local, ok := strings.Cut(name, "."); ok {
		used := lib.uses[prefix]
		if used == nil {
			return nil, fmt.Errorf("type %s: library prefix %q is not in uses:", name, prefix)
		}
		if d := used.decls[local]; d != nil {
			return d, nil
		}
		return nil, fmt.Errorf("type %s: %s declares no type %s", name, used.path, local)
	}
	if d := lib.decls[name]; d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("unknown type %s", name)
}

// deref follows YAML aliases (*anchor) to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapGet returns the value for key in a YAML map, or nil.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return deref(m.Content[i+1])
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// at formats a source position for messages: file:line (path in the YAML).
func at(lib *library, n *yaml.Node, ypath string) string {
	return fmt.Sprintf("%s:%d (%s)", lib.path, n.Line, ypath)
}

package cli

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/internal/state"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

const layered = "../../examples/stacks/layers-on-layers.strata.hcl"

// runGraph runs Graph and returns its exit code, stdout and stderr.
func runGraph(t *testing.T, a Stack, g GraphArgs) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Graph(t.Context(), a, g, catalog.Kinds(), IO{Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

// Every example stack renders to SVG through dot: well-formed XML that
// names each of its layers and pools.
func TestGraphSVG(t *testing.T) {
	entries, err := os.ReadDir("../../examples/stacks")
	if err != nil {
		t.Fatal(err)
	}
	kinds := catalog.Kinds()
	for _, e := range entries {
		if !e.IsDir() && !strings.HasSuffix(e.Name(), ".strata.hcl") {
			continue
		}
		path := filepath.Join("../../examples/stacks", e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			svg := filepath.Join(t.TempDir(), "stack.svg")
			if code, _, errOut := runGraph(t, Stack{Path: path}, GraphArgs{Output: svg}); code != OK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			b, err := os.ReadFile(svg)
			if err != nil || len(b) == 0 {
				t.Fatalf("no SVG: %v", err)
			}
			dec := xml.NewDecoder(bytes.NewReader(b))
			root := ""
			for {
				tok, err := dec.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("the SVG is not XML: %v", err)
				}
				if se, ok := tok.(xml.StartElement); ok && root == "" {
					root = se.Name.Local
				}
			}
			if root != "svg" {
				t.Fatalf("the document is <%s>, not <svg>", root)
			}
			s, _, _ := stacks.Load(path, kinds, stacks.Options{})
			for _, l := range s.Layers {
				if !bytes.Contains(b, []byte("layer "+l.Key()+" (")) {
					t.Errorf("the SVG does not name layer %s", l.Key())
				}
			}
			for _, p := range s.Pools {
				if !bytes.Contains(b, []byte(">pool "+p.Name+"<")) {
					t.Errorf("the SVG does not name pool %s", p.Name)
				}
			}
		})
	}
}

// The output's extension picks the format; DOT goes to stdout without
// one; variables are set as for every command.
func TestGraphOutputs(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runGraph(t, Stack{Path: layered}, GraphArgs{})
	if code != OK || !strings.HasPrefix(out, `digraph "layers" {`) {
		t.Fatalf("exit %d, stdout does not start with the digraph:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runGraph(t, Stack{Path: layered, Vars: []string{"workers=5"}}, GraphArgs{})
	if code != OK || !strings.Contains(out, `worker × 5`) {
		t.Fatalf("-var workers=5: exit %d, no worker × 5:\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		file, head string
	}{
		{"x.png", "\x89PNG\r\n\x1a\n"},
		{"x.dot", `digraph "layers" {`},
		{"x.GV", `digraph "layers" {`},
		{"x.svg", "<?xml"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			code, out, errOut := runGraph(t, Stack{Path: layered}, GraphArgs{Output: path})
			if code != OK || out != "" {
				t.Fatalf("exit %d, stdout %q: %s", code, out, errOut)
			}
			b, err := os.ReadFile(path)
			if err != nil || !bytes.HasPrefix(b, []byte(tc.head)) {
				t.Fatalf("%s does not start with %q: %v\n%.80q", tc.file, tc.head, err, b)
			}
		})
	}
}

// Mistakes end the command with what to do, before or instead of drawing.
func TestGraphErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.strata.hcl")
	src := "stack { name = \"b\" }\n\npool \"p\" {\n  substrate = substrate.vsphere.nowhere\n  size = 1\n}\n"
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		a    Stack
		g    GraphArgs
		code int
		err  []string
	}{
		{"unknown extension", Stack{Path: layered}, GraphArgs{Output: filepath.Join(dir, "x.jpg")}, Usage, []string{"x.jpg: name a .svg, .png or .dot file"}},
		{"no extension", Stack{Path: layered}, GraphArgs{Output: filepath.Join(dir, "x")}, Usage, []string{"name a .svg, .png or .dot file"}},
		{"the stack's diagnostics", Stack{Path: bad}, GraphArgs{}, Invalid, []string{"on " + bad + " line 4", "substrate.vsphere.nowhere", "1 error(s)"}},
		{"a missing variable file", Stack{Path: layered, VarFiles: []string{filepath.Join(dir, "none.tfvars")}}, GraphArgs{}, Invalid, []string{"none.tfvars"}},
		{"no dot", Stack{Path: layered}, GraphArgs{Output: filepath.Join(dir, "x.svg"), Dot: "no-such-dot-here"},
			Invalid, []string{"writing SVG needs Graphviz's dot", "install graphviz", "-o FILE.dot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runGraph(t, tc.a, tc.g)
			if code != tc.code || out != "" {
				t.Fatalf("exit %d (want %d), stdout %q, stderr:\n%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.err {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.svg")); err == nil {
		t.Error("a failed render left x.svg")
	}
}

// With a state backend the drawing is coloured by the stack's record, read
// without a lock, a seed or any other write; a stack with no record is
// drawn missing, and says so.
func TestGraphState(t *testing.T) {
	kinds := catalog.Kinds()
	s, _, diags := stacks.Load(layered, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := plan.Compile(s, kinds)
	dir := t.TempDir()
	rec := &state.Stack{Name: "layers", Path: layered, Machines: []engine.Machine{
		{Machine: p.Machines[0], State: provisioners.StateRunning},
		{Machine: p.Machines[1], State: provisioners.StatePending},
	}}
	if err := (state.Files{Dir: state.Dir(dir)}).Save(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	before := files(t, dir)
	code, out, errOut := runGraph(t, Stack{Path: layered}, GraphArgs{Colour: true, State: StateArgs{URL: dir}})
	if code != OK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{
		`fillcolor="#fde68a", label="pool mesos\n2 × 4 CPU, 8 GB, 20 GB disk\n1/2 up"`,
		`"layer.mesos.m/master" [label="master × 1\nmachines of pool mesos\nstage 1\n1/1 up", fillcolor="#bbf7d0"]`,
		`"layer.mesos.m/agent" [label="agent × 1\nmachines of pool mesos\nstage 3\n0/1 up", fillcolor="#fde68a"]`,
		`green: up`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("the drawing lacks %s\n%s", w, out)
		}
	}
	if after := files(t, dir); after != before {
		t.Errorf("graph changed the state folder: %s, then %s", before, after)
	}

	empty := t.TempDir()
	code, out, errOut = runGraph(t, Stack{Path: layered}, GraphArgs{Colour: true, State: StateArgs{URL: empty}})
	if code != OK || !strings.Contains(errOut, `no record of stack "layers"`) || !strings.Contains(out, `label="pool mesos\n2 × 4 CPU, 8 GB, 20 GB disk\n0/2 up"`) {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	if after := files(t, empty); after != "" {
		t.Errorf("graph wrote into an empty state folder: %s", after)
	}
}

// files lists a folder's files with their sizes.
func files(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d", e.Name(), info.Size()))
	}
	return strings.Join(out, " ")
}

// The README's picture of a stack is made here: STRATA_UPDATE_GOLDEN=1
// redraws docs/images/graph.png from the contract example (the 60-second
// tour's stack); otherwise the committed one must be a PNG.
func TestGraphScreenshot(t *testing.T) {
	const png = "../../docs/images/graph.png"
	if os.Getenv("STRATA_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll(filepath.Dir(png), 0o755); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := runGraph(t, Stack{Path: "../../examples/stacks/contract"}, GraphArgs{Output: png}); code != OK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	}
	b, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10000 {
		t.Fatalf("%s is not the drawing (STRATA_UPDATE_GOLDEN=1 go test ./internal/cli -run TestGraphScreenshot makes it): %v", png, err)
	}
}

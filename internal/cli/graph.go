package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stratastack/strata/internal/atomicfile"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/graph"
	"github.com/stratastack/strata/stacks/plan"
)

// GraphArgs say where a drawing of a stack goes and what colours it.
type GraphArgs struct {
	// Output is the file to write, in the format its extension names
	// (.dot or .gv, .svg, .png); empty writes DOT to IO.Out.
	Output string
	// Colour, when set, colours the drawing by State's record of the stack.
	Colour bool
	State  StateArgs
	// Dot is Graphviz's dot program, which renders SVG and PNG; empty
	// looks for "dot" on PATH.
	Dot string
}

// graphFormat is the format of an output file's name: "dot", "svg" or
// "png" ("dot" for stdout).
func graphFormat(output string) (string, error) {
	if output == "" {
		return "dot", nil
	}
	switch ext := strings.ToLower(filepath.Ext(output)); ext {
	case ".dot", ".gv":
		return "dot", nil
	case ".svg", ".png":
		return ext[1:], nil
	}
	return "", fmt.Errorf("-o %s: name a .svg, .png or .dot file (the extension picks the format)", output)
}

// Graph draws a stack: DOT, or SVG or PNG rendered by Graphviz's dot.
func Graph(ctx context.Context, a Stack, g GraphArgs, kinds stacks.Kinds, io IO) int {
	format, err := graphFormat(g.Output)
	if err != nil {
		fmt.Fprintf(io.Err, "strata graph: %v\n", err)
		return Usage
	}
	s, ok := load(a, kinds, io)
	if !ok {
		return Invalid
	}
	var o graph.Options
	if g.Colour {
		if o.Recorded, err = recordedMachines(ctx, g.State, s.Name, io); err != nil {
			fmt.Fprintf(io.Err, "Error: %v\n", err)
			return Invalid
		}
	}
	var src bytes.Buffer
	if err := graph.Write(&src, s, plan.Compile(s, kinds), o); err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	out := src.Bytes()
	if format != "dot" {
		if out, err = renderDOT(ctx, g.Dot, format, out); err != nil {
			fmt.Fprintf(io.Err, "Error: %v\n", err)
			return Invalid
		}
	}
	if g.Output == "" {
		_, err = io.Out.Write(out)
	} else {
		err = atomicfile.Write(g.Output, out, 0o644)
	}
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	return OK
}

// recordedMachines reads the state of each machine a backend's record of
// the stack holds. It reads every record (All) rather than Load, which
// makes a seed when the stack has none, and takes no lock: a drawing must
// not change state nor wait for a running up.
func recordedMachines(ctx context.Context, st StateArgs, name string, io IO) (map[string]string, error) {
	b, err := st.open(ctx)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	all, err := b.All(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, rec := range all {
		if rec.Name != name {
			continue
		}
		for _, m := range rec.Machines {
			out[m.Name] = m.State
		}
		return out, nil
	}
	fmt.Fprintf(io.Err, "strata graph: no record of stack %q in the state backend: nothing of it exists as far as strata up knows\n", name)
	return out, nil
}

// renderDOT runs dot -Tformat over src.
func renderDOT(ctx context.Context, dot, format string, src []byte) ([]byte, error) {
	if dot == "" {
		dot = "dot"
	}
	path, err := exec.LookPath(dot)
	if err != nil {
		return nil, fmt.Errorf("writing %s needs Graphviz's dot, which is not on PATH: install graphviz (apt-get install graphviz; make deps does), or write DOT (no -o, or -o FILE.dot) and render it elsewhere", strings.ToUpper(format))
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-T"+format)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(src), &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s -T%s: %w: %s", dot, format, err, strings.TrimSpace(errOut.String()))
	}
	if out.Len() == 0 {
		return nil, errors.New(dot + " -T" + format + " wrote nothing")
	}
	return out.Bytes(), nil
}

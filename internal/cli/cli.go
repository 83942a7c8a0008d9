package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/plan"
)

// Exit codes.
const (
	OK      = 0
	Invalid = 1 // the stack has errors, or the command failed
	Usage   = 2
)

// Stack names a stack and its inputs.
type Stack struct {
	Path     string
	Vars     []string
	VarFiles []string
	// Sources, when set, are the stack's files by name (a record's), read
	// instead of Path.
	Sources map[string][]byte
}

// IO is where a command writes.
type IO struct {
	In       io.Reader // nil: no input
	Out, Err io.Writer
	// Width wraps diagnostics; 0 means no wrapping.
	Width uint
}

// load validates the stack and prints its diagnostics (warnings too).
func load(a Stack, kinds stacks.Kinds, io IO) (*stacks.Stack, bool) {
	opts := stacks.Options{Vars: a.Vars, VarFiles: a.VarFiles}
	var (
		s     *stacks.Stack
		files map[string]*hcl.File
		diags hcl.Diagnostics
	)
	if a.Sources != nil {
		s, files, diags = stacks.Parse(a.Sources, kinds, opts)
	} else {
		s, files, diags = stacks.Load(a.Path, kinds, opts)
	}
	if len(diags) > 0 {
		wr := hcl.NewDiagnosticTextWriter(io.Err, files, io.Width, false)
		_ = wr.WriteDiagnostics(diags)
		if diags.HasErrors() {
			fmt.Fprintf(io.Err, "%s\n", summary(diags))
		}
	}
	return s, s != nil && !diags.HasErrors()
}

func summary(diags hcl.Diagnostics) string {
	errs := len(diags.Errs())
	warns := len(diags) - errs
	return fmt.Sprintf("%d error(s), %d warning(s).", errs, warns)
}

// Validate checks a stack.
func Validate(ctx context.Context, a Stack, kinds stacks.Kinds, io IO) int {
	s, ok := load(a, kinds, io)
	if !ok {
		return Invalid
	}
	p := plan.Compile(s, kinds)
	fmt.Fprintf(io.Out, "Stack %q is valid: %d machines, %d layers, %d hosted roles.\n", s.Name, len(p.Machines), len(s.Layers), len(p.Hosted))
	return OK
}

// Plan prints what a stack would make.
func Plan(ctx context.Context, a Stack, asJSON bool, kinds stacks.Kinds, io IO) int {
	s, ok := load(a, kinds, io)
	if !ok {
		return Invalid
	}
	p := plan.Compile(s, kinds)
	var err error
	if asJSON {
		err = p.WriteJSON(io.Out)
	} else {
		err = p.WriteText(io.Out)
	}
	if err != nil {
		fmt.Fprintln(io.Err, err)
		return Invalid
	}
	return OK
}

// RenderArgs says what to render: one machine (Node = "POOL/INDEX") or a
// hosted layer's objects (Layer = "KIND.NAME" or "KIND.NAME/ROLE").
type RenderArgs struct {
	Node  string
	Layer string
	// State keeps the stack's secret seed.
	State StateArgs
}

// Render prints one machine's bootstrap or one hosted layer's objects.
func Render(ctx context.Context, a Stack, r RenderArgs, kinds stacks.Kinds, io IO) int {
	if (r.Node == "") == (r.Layer == "") {
		fmt.Fprintln(io.Err, "render needs exactly one of -node POOL/INDEX or -layer KIND.NAME[/ROLE]")
		return Usage
	}
	s, ok := load(a, kinds, io)
	if !ok {
		return Invalid
	}
	b, err := r.State.open(ctx)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	_, seed, err := b.Load(ctx, s.Name)
	b.Close()
	if err != nil {
		fmt.Fprintf(io.Err, "cannot keep the stack's secrets: %v\n", err)
		return Invalid
	}
	p := plan.Compile(s, kinds)
	if r.Node != "" {
		return renderNode(ctx, p, seed, r.Node, io)
	}
	return renderLayer(ctx, p, s, seed, r.Layer, io)
}

func renderNode(ctx context.Context, p *plan.Plan, seed layers.Secrets, node string, io IO) int {
	pool, idx, ok := strings.Cut(node, "/")
	i, err := strconv.Atoi(idx)
	if !ok || err != nil || i < 0 {
		fmt.Fprintf(io.Err, "-node %q: write POOL/INDEX, e.g. -node infra/0\n", node)
		return Usage
	}
	b, err := p.RenderNode(ctx, seed, pool, i, nil)
	if err != nil {
		fmt.Fprintln(io.Err, err)
		return Invalid
	}
	io.Out.Write(b.UserData)
	return OK
}

func renderLayer(ctx context.Context, p *plan.Plan, s *stacks.Stack, seed layers.Secrets, arg string, io IO) int {
	key, role, _ := strings.Cut(arg, "/")
	l := s.Layer(key)
	if l == nil {
		var have []string
		for _, x := range s.Layers {
			have = append(have, x.Key())
		}
		sort.Strings(have)
		fmt.Fprintf(io.Err, "-layer %q: the stack has no such layer; it has %s\n", arg, strings.Join(have, ", "))
		return Usage
	}
	var roles []string
	for _, r := range l.Roles {
		if (role == "" && r.On.Root == "layer") || r.Name == role {
			roles = append(roles, r.Name)
		}
	}
	if len(roles) == 0 {
		fmt.Fprintf(io.Err, "layer %s has no role placed on another layer; render its machines with -node POOL/INDEX\n", key)
		return Invalid
	}
	for _, role := range roles {
		objs, err := p.RenderHosted(ctx, seed, key, role, nil)
		if err != nil {
			fmt.Fprintln(io.Err, err)
			return Invalid
		}
		for _, o := range objs {
			if o.Format == "kubernetes" {
				fmt.Fprintf(io.Out, "---\n# %s/%s: %s %s\n", key, role, o.Kind, o.Name)
			} else {
				fmt.Fprintf(io.Out, "// %s/%s: marathon %s %s\n", key, role, o.Kind, o.Name)
			}
			io.Out.Write(o.Body)
			if len(o.Body) > 0 && o.Body[len(o.Body)-1] != '\n' {
				fmt.Fprintln(io.Out)
			}
		}
	}
	return OK
}

package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/stacks"
)

// inlineName is the file name an inline `source` is parsed under; it is
// what diagnostics about it name.
func inlineName(src string) string {
	if strings.HasPrefix(strings.TrimSpace(src), "{") {
		return "source.strata.json"
	}
	return "source.strata.hcl"
}

// stackInput is where a stack comes from.
type stackInput struct {
	Path   string
	Source string
	Vars   map[string]string
}

// attr is the attribute diagnostics about the stack belong to.
func (in stackInput) attr() path.Path {
	if in.Path != "" {
		return path.Root("path")
	}
	return path.Root("source")
}

// varFlags are the vars as -var NAME=VALUE pairs, sorted by name.
func (in stackInput) varFlags() []string {
	names := make([]string, 0, len(in.Vars))
	for n := range in.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + "=" + in.Vars[n]
	}
	return out
}

// inputFrom reads path, source and vars from a configuration, plan or
// state. ok is false when one of them is not known yet.
func inputFrom(ctx context.Context, p, src types.String, vars types.Map) (stackInput, bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	if p.IsUnknown() || src.IsUnknown() || vars.IsUnknown() {
		return stackInput{}, false, nil
	}
	in := stackInput{Path: p.ValueString(), Source: src.ValueString()}
	if !vars.IsNull() {
		elems := map[string]types.String{}
		diags.Append(vars.ElementsAs(ctx, &elems, false)...)
		in.Vars = map[string]string{}
		for k, v := range elems {
			if v.IsUnknown() {
				return stackInput{}, false, diags
			}
			in.Vars[k] = v.ValueString()
		}
	}
	return in, true, diags
}

// loadStack loads the stack that path, source and vars name, adding its
// diagnostics to diags; the stack is nil when diags hold an error.
func (c *client) loadStack(ctx context.Context, p, src types.String, vars types.Map, diags *diag.Diagnostics) (stackInput, *stacks.Stack) {
	in, _, d := inputFrom(ctx, p, src, vars)
	diags.Append(d...)
	s, d := in.load(c.kinds)
	diags.Append(d...)
	if diags.HasError() {
		return in, nil
	}
	return in, s
}

// load parses and validates the stack. Its diagnostics are attached to the
// path or source attribute, each detail led by the stack file position.
func (in stackInput) load(kinds stacks.Kinds) (*stacks.Stack, diag.Diagnostics) {
	opts := stacks.Options{Vars: in.varFlags()}
	var s *stacks.Stack
	var files map[string]*hcl.File
	var hd hcl.Diagnostics
	switch {
	case in.Path != "":
		s, files, hd = stacks.Load(in.Path, kinds, opts)
	case in.Source != "":
		s, files, hd = stacks.Parse(map[string][]byte{inlineName(in.Source): []byte(in.Source)}, kinds, opts)
	default:
		var d diag.Diagnostics
		d.AddError("No stack", "Set path (a stack file or folder) or source (inline HCL).")
		return nil, d
	}
	d := stackDiagnostics(in.attr(), files, hd)
	if s == nil && !d.HasError() {
		d.AddAttributeError(in.attr(), "Invalid stack", "The stack could not be loaded.")
	}
	return s, d
}

// position is "FILE:LINE,COLUMN".
func position(r *hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// stackDiagnostics turns stack diagnostics into Terraform diagnostics on
// attr. A detail starts with the position in the stack file and ends with
// the offending source line.
func stackDiagnostics(attr path.Path, files map[string]*hcl.File, hd hcl.Diagnostics) diag.Diagnostics {
	var out diag.Diagnostics
	for _, d := range hd {
		detail := d.Detail
		if d.Subject != nil {
			detail = position(d.Subject) + ": " + detail
			if line := sourceLine(files, d.Subject); line != "" {
				detail += fmt.Sprintf("\n\n  %d | %s", d.Subject.Start.Line, line)
			}
		}
		if d.Severity == hcl.DiagWarning {
			out.AddAttributeWarning(attr, d.Summary, detail)
		} else {
			out.AddAttributeError(attr, d.Summary, detail)
		}
	}
	return out
}

func sourceLine(files map[string]*hcl.File, r *hcl.Range) string {
	f, ok := files[r.Filename]
	if !ok || f == nil {
		return ""
	}
	lines := bytes.Split(f.Bytes, []byte("\n"))
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return ""
	}
	return strings.TrimRight(string(lines[r.Start.Line-1]), "\r")
}

// snapshot is the stack as last applied, kept in private state so a later
// refresh or destroy acts on what was made even when the files changed or
// are gone.
type snapshot struct {
	Files map[string]string `json:"files"`
	Vars  []string          `json:"vars,omitempty"`
}

func takeSnapshot(s *stacks.Stack, in stackInput) snapshot {
	snap := snapshot{Files: map[string]string{}, Vars: in.varFlags()}
	for name, f := range s.Files {
		if f != nil {
			snap.Files[name] = string(f.Bytes)
		}
	}
	return snap
}

func (snap snapshot) load(kinds stacks.Kinds) (*stacks.Stack, error) {
	files := make(map[string][]byte, len(snap.Files))
	for n, src := range snap.Files {
		files[n] = []byte(src)
	}
	s, _, diags := stacks.Parse(files, kinds, stacks.Options{Vars: snap.Vars})
	if diags.HasErrors() || s == nil {
		return nil, fmt.Errorf("the stack recorded at the last apply no longer validates: %s", diags.Error())
	}
	return s, nil
}

// Private state keys.
const (
	privateSeed  = "seed"
	privateStack = "stack"
)

// privateGetter and privateSetter are what request and response private
// state offer.
type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

func getPrivate(ctx context.Context, p privateGetter, key string, v any) (bool, diag.Diagnostics) {
	if p == nil {
		return false, nil
	}
	b, diags := p.GetKey(ctx, key)
	if diags.HasError() || len(b) == 0 {
		return false, diags
	}
	if err := json.Unmarshal(b, v); err != nil {
		diags.AddError("Corrupt private state", fmt.Sprintf("The resource's private %q record does not parse: %v.", key, err))
		return false, diags
	}
	return true, diags
}

func setPrivate(ctx context.Context, p privateSetter, key string, v any) diag.Diagnostics {
	b, err := json.Marshal(v)
	if err != nil {
		var d diag.Diagnostics
		d.AddError("Cannot record private state", err.Error())
		return d
	}
	return p.SetKey(ctx, key, b)
}

// seedFiles are where the strata CLI keeps a stack's secret seed, in the
// order they are looked at: .strata/ in the working directory, then
// .strata/ beside the stack.
func seedFiles(stack, stackPath string) []string {
	out := []string{filepath.Join(".strata", stack+".seed")}
	if stackPath != "" {
		dir := stackPath
		if st, err := os.Stat(stackPath); err != nil || !st.IsDir() {
			dir = filepath.Dir(stackPath)
		}
		if p := filepath.Join(dir, ".strata", stack+".seed"); p != out[0] {
			out = append(out, p)
		}
	}
	return out
}

// cliSeed reads the CLI's seed for a stack when there is one; found is
// false when no seed file exists.
func cliSeed(stack, stackPath string) (seed *secrets.Seed, file string, err error) {
	for _, f := range seedFiles(stack, stackPath) {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, f, err
		}
		s, err := secrets.Parse(string(b))
		if err != nil {
			return nil, f, fmt.Errorf("%s: %w", f, err)
		}
		return s, f, nil
	}
	return nil, "", nil
}

package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Options are the inputs beside the stack files.
type Options struct {
	// VarFiles are .tfvars-style files (HCL, or JSON when named *.json),
	// applied in order.
	VarFiles []string
	// Vars are "NAME=VALUE" pairs from -var, applied after the files.
	Vars []string
	// Values are typed values (from the Terraform provider), applied last.
	Values map[string]cty.Value
}

// Load reads a stack from a file or a folder of *.strata.hcl and
// *.strata.json files and validates it. The returned stack is nil when
// diagnostics hold an error; its Files are always set for printing them.
func Load(path string, kinds Kinds, opts Options) (*Stack, map[string]*hcl.File, hcl.Diagnostics) {
	files, err := Sources(path)
	if err != nil {
		return nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read stack", Detail: err.Error()}}
	}
	return Parse(files, kinds, opts)
}

// Sources reads the file at path, or the stack files of a folder, by
// name: what Parse takes.
func Sources(path string) (map[string][]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	names := []string{path}
	if st.IsDir() {
		names = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".strata.hcl") || strings.HasSuffix(e.Name(), ".strata.json")) {
				names = append(names, filepath.Join(path, e.Name()))
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s holds no *.strata.hcl or *.strata.json file", path)
		}
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out[n] = b
	}
	return out, nil
}

// Parse validates a stack given as file name → source. Names ending in
// .json are read as HCL JSON.
func Parse(files map[string][]byte, kinds Kinds, opts Options) (*Stack, map[string]*hcl.File, hcl.Diagnostics) {
	p := hclparse.NewParser()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var diags hcl.Diagnostics
	var bodies []hcl.Body
	for _, n := range names {
		var f *hcl.File
		var d hcl.Diagnostics
		if strings.HasSuffix(n, ".json") {
			f, d = p.ParseJSON(files[n], n)
		} else {
			f, d = p.ParseHCL(files[n], n)
		}
		diags = append(diags, d...)
		if f != nil && f.Body != nil {
			bodies = append(bodies, f.Body)
		}
	}
	if diags.HasErrors() {
		return nil, p.Files(), diags
	}
	d := &decoder{kinds: kinds, parser: p}
	s := d.stack(bodies, opts)
	diags = append(diags, d.diags...)
	if diags.HasErrors() {
		return nil, p.Files(), diags
	}
	s.Files = p.Files()
	return s, s.Files, diags
}

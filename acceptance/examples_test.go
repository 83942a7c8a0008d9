package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratastack/strata/provisioners/aws/mototest"
	"github.com/stratastack/strata/stacks/layers/layertest"
)

// bin is the strata binary TestMain builds for this run.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-acceptance-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "strata")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/strata").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ../cmd/strata: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := mototest.Main(m) // the AWS tests' EC2 endpoint
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

type planDoc struct {
	Stack    string `json:"stack"`
	Machines []struct {
		Name      string            `json:"name"`
		Pool      string            `json:"pool"`
		Index     *int              `json:"index"`
		Substrate string            `json:"substrate"`
		Layer     string            `json:"layer"`
		Role      string            `json:"role"`
		Tags      map[string]string `json:"tags"`
	} `json:"machines"`
	Hosted []struct {
		Layer string `json:"layer"`
		Role  string `json:"role"`
		On    string `json:"on"`
		Count *int   `json:"count"`
	} `json:"hosted"`
}

// TestExamples validates, plans and renders every example stack through
// the CLI, the way the README tells users to.
func TestExamples(t *testing.T) {
	entries, err := os.ReadDir("../examples/stacks")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".strata.hcl") {
			paths = append(paths, filepath.Join("../examples/stacks", e.Name()))
		}
	}
	if len(paths) < 6 {
		t.Fatalf("want at least six example stacks, found %v", paths)
	}
	state := t.TempDir()
	for _, p := range paths {
		p := p
		t.Run(filepath.Base(p), func(t *testing.T) {
			if out, errOut, code := run(t, ".", "validate", p); code != 0 {
				t.Fatalf("validate exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code := run(t, ".", "plan", p, "-json")
			if code != 0 {
				t.Fatalf("plan exit %d\n%s", code, errOut)
			}
			var doc planDoc
			dec := json.NewDecoder(strings.NewReader(out))
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("plan -json is not JSON: %v\n%s", err, out)
			}
			if doc.Stack == "" || len(doc.Machines) == 0 {
				t.Fatalf("plan has no stack name or machines:\n%s", out)
			}
			rendered := map[string]bool{}
			for _, m := range doc.Machines {
				if m.Pool == "" || m.Index == nil || m.Substrate == "" || m.Tags["strata:stack"] != doc.Stack {
					t.Fatalf("machine %+v lacks pool/index/substrate/tags", m)
				}
				key := m.Layer + "/" + m.Role
				if m.Role == "" || rendered[key] {
					continue
				}
				rendered[key] = true
				ud, errOut, code := run(t, ".", "render", p, "-state-dir", state, "-node", fmt.Sprintf("%s/%d", m.Pool, *m.Index))
				if code != 0 {
					t.Fatalf("render %s: exit %d\n%s", m.Name, code, errOut)
				}
				layertest.CloudConfig(t, []byte(ud))
			}
			for _, h := range doc.Hosted {
				if h.Layer == "" || h.Role == "" || h.On == "" || h.Count == nil {
					t.Fatalf("hosted entry %+v lacks a field", h)
				}
				objs, errOut, code := run(t, ".", "render", p, "-state-dir", state, "-layer", h.Layer+"/"+h.Role)
				if code != 0 || strings.TrimSpace(objs) == "" {
					t.Fatalf("render -layer %s/%s: exit %d\n%s", h.Layer, h.Role, code, errOut)
				}
				checkHosted(t, objs)
			}
			if text, _, code := run(t, ".", "plan", p); code != 0 || !strings.Contains(text, "Order:") {
				t.Fatalf("plan (text) exit %d:\n%s", code, text)
			}
		})
	}
}

// TestDiagnosticsLikeACompiler checks what a user sees for a broken stack:
// every error, each with file:line:column, the source line, and a hint.
func TestDiagnosticsLikeACompiler(t *testing.T) {
	dir := t.TempDir()
	bad := `stack {
  name = "oops"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "tpl"
  password   = "hunter2"
}
pool "infra" {
  substrate = substrate.vsphere.dc
  size      = 2
}
layer "mesos" "core" {
  role "mastr" {
    on = pool.infra
  }
  role "agent" {
    on    = pool.infr
  }
}
`
	f := filepath.Join(dir, "bad.strata.hcl")
	if err := os.WriteFile(f, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, dir, "validate", f)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	for _, want := range []string{
		"bad.strata.hcl line 7", `Secret "password" written inline`, "VSPHERE_PASSWORD",
		"bad.strata.hcl line 14", `Unknown role "mastr"`, `Did you mean "master"?`,
		"bad.strata.hcl line 18", `Undeclared pool "infr"`, `Did you mean "infra"?`,
		"3 error(s)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, errOut)
		}
	}
	_, errOut, code = run(t, dir, "validate", f, "-var", "x=1")
	if code != 1 || !strings.Contains(errOut, `Undeclared variable "x"`) {
		t.Fatalf("undeclared -var: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := run(t, dir, "frobnicate", f); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command: exit %d\n%s", code, errOut)
	}
}

// checkHosted validates what render -layer printed: Kubernetes YAML
// documents strictly, Marathon definitions (each after a "// " header line)
// against Marathon's rules.
func checkHosted(t *testing.T, out string) {
	t.Helper()
	if strings.HasPrefix(out, "---") {
		layertest.Kubernetes(t, []byte(out))
		return
	}
	var chunk []string
	flush := func() {
		if len(chunk) > 0 {
			layertest.Marathon(t, []byte(strings.Join(chunk, "\n")))
		}
		chunk = nil
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "// ") {
			flush()
			continue
		}
		chunk = append(chunk, line)
	}
	flush()
}

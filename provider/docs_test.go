package provider

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// docsArgs runs tfplugindocs (terraform-plugin-docs, a `go tool` of the
// module) from the repository root: it builds cmd/terraform-provider-strata,
// reads its schema through the terraform on PATH (offline: it installs the
// build from a plugin directory), and renders examples/ into out, which is
// relative to the provider directory as tfplugindocs wants it.
func docsArgs(out string) []string {
	return []string{"tool", "tfplugindocs", "generate",
		"--provider-dir", "cmd/terraform-provider-strata",
		"--provider-name", "strata",
		"--examples-dir", "../../examples",
		"--website-source-dir", "../../templates",
		"--rendered-website-dir", out,
	}
}

// managedDocs are what tfplugindocs writes (and removes) in docs/; the
// other pages there (DESIGN.md, STACKS.md, kinds.md) are left alone.
func managedDocs(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "index.md" || strings.HasPrefix(rel, "resources/") || strings.HasPrefix(rel, "data-sources/") {
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// TestDocsCurrent regenerates the provider's documentation into a
// temporary directory and fails when the committed docs/ differ.
// STRATA_UPDATE_GOLDEN=1 regenerates docs/ in place instead.
func TestDocsCurrent(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Fatalf("tfplugindocs needs terraform on PATH: %v", err)
	}
	docs := filepath.Join(root, "docs")
	out := docs
	if os.Getenv("STRATA_UPDATE_GOLDEN") != "1" {
		out = t.TempDir()
	}
	rel, err := filepath.Rel(filepath.Join(root, "cmd", "terraform-provider-strata"), out)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", docsArgs(rel)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(docsArgs(rel), " "), err, b)
	}
	if out == docs {
		return
	}
	want, err := managedDocs(out)
	if err != nil {
		t.Fatal(err)
	}
	have, err := managedDocs(docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("tfplugindocs rendered nothing")
	}
	var stale []string
	for _, f := range want {
		a, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(docs, f))
		if err != nil || !bytes.Equal(a, b) {
			stale = append(stale, "docs/"+f)
		}
	}
	for _, f := range have {
		if !slices.Contains(want, f) {
			stale = append(stale, "docs/"+f+" (no longer generated)")
		}
	}
	if len(stale) > 0 {
		t.Fatalf("the provider documentation is out of date: %s\nregenerate it with: STRATA_UPDATE_GOLDEN=1 go test ./provider -run '^TestDocsCurrent$'", strings.Join(stale, ", "))
	}
	for _, keep := range []string{"DESIGN.md", "STACKS.md", "kinds.md"} {
		if _, err := os.Stat(filepath.Join(docs, keep)); err != nil {
			t.Errorf("docs/%s is missing: %v", keep, err)
		}
	}
}

package catalog_test

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/schema"
)

const kindsDoc = "../../docs/kinds.md"

// TestKindsDoc keeps docs/kinds.md — every substrate and layer setting —
// in step with the code. STRATA_UPDATE_GOLDEN=1 rewrites it.
func TestKindsDoc(t *testing.T) {
	got := kindsMarkdown()
	if os.Getenv("STRATA_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(kindsDoc, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(kindsDoc)
	if err != nil || !bytes.Equal(want, got) {
		t.Fatalf("%s is out of date (STRATA_UPDATE_GOLDEN=1 go test ./internal/catalog rewrites it): %v", kindsDoc, err)
	}
}

func kindsMarkdown() []byte {
	k := catalog.Kinds()
	var b bytes.Buffer
	b.WriteString("# Substrate and layer kinds\n\n<!-- Generated from the code by internal/catalog's TestKindsDoc; do not edit. -->\n\n")
	b.WriteString("Every setting a stack file may write, per kind. Secrets are listed only to say where they come from: writing one inline is an error.\n\n")
	b.WriteString("## Substrates\n")
	var subs []string
	for s := range k.Substrates {
		subs = append(subs, s)
	}
	sort.Strings(subs)
	for _, name := range subs {
		spec := k.Substrates[name].Spec
		fmt.Fprintf(&b, "\n### substrate %q\n\n", name)
		attrTable(&b, spec.Attrs)
		for _, blk := range spec.Blocks {
			labels := ""
			for _, l := range blk.Labels {
				labels += fmt.Sprintf(" %q", strings.ToUpper(l))
			}
			fmt.Fprintf(&b, "\nBlock `%s%s` — %s\n\n", blk.Type, labels, blk.Doc)
			attrTable(&b, blk.Attrs)
		}
		if len(spec.PoolAttrs) > 0 {
			fmt.Fprintf(&b, "\nPool settings on a %s substrate (beside size, cpus, memory_mb, disk_gb, labels):\n\n", name)
			attrTable(&b, spec.PoolAttrs)
		}
	}
	b.WriteString("\n## Layers\n")
	for _, kind := range k.Layers.Kinds() {
		l, _ := k.Layers.Get(kind)
		fmt.Fprintf(&b, "\n### layer %q\n\nDefault version: `%s`.", kind, l.DefaultVersion())
		if s := l.SubstrateKind(); s != "" {
			fmt.Fprintf(&b, " A layer of this kind is a substrate: pools on it take the %s pool settings.", s)
		}
		b.WriteString("\n\n| role | may be placed on | after |\n|---|---|---|\n")
		for _, r := range l.Roles() {
			var on []string
			for _, p := range r.On {
				if p == layers.Pool {
					on = append(on, "a pool")
				} else {
					on = append(on, "a "+p+" layer")
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Name, strings.Join(on, ", "), strings.Join(r.After, ", "))
		}
		b.WriteString("\n")
		attrTable(&b, append([]schema.Attr{{Name: "version", Type: cty.String, Default: cty.StringVal(l.DefaultVersion())}}, l.Attrs()...))
	}
	return b.Bytes()
}

func attrTable(b *bytes.Buffer, attrs []schema.Attr) {
	b.WriteString("| setting | type | default | |\n|---|---|---|---|\n")
	for _, a := range attrs {
		def := ""
		switch {
		case a.Secret != "":
			def = "never inline"
		case a.Required:
			def = "required"
		case a.Default != cty.NilVal && !a.Default.IsNull():
			def = "`" + show(a.Default) + "`"
		}
		doc := a.Doc
		if a.Secret != "" {
			doc = a.Secret
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", a.Name, typeexpr.TypeString(a.Type), def, strings.ReplaceAll(doc, "|", "\\|"))
	}
}

func show(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case cty.Bool:
		return fmt.Sprint(v.True())
	}
	return typeexpr.TypeString(v.Type())
}

package catalog_test

import (
	"regexp"
	"testing"

	"github.com/stratastack/strata/internal/catalog"
)

// Every registered substrate kind is described well enough for the
// provider schema and the CLI's help that are built from it.
func TestRegistry(t *testing.T) {
	k := catalog.Kinds()
	name := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for key, sub := range k.Substrates {
		if sub.Spec.Kind != key || !name.MatchString(key) {
			t.Errorf("substrate %q registered as %q", sub.Spec.Kind, key)
		}
		if sub.Doc == "" {
			t.Errorf("%s: no provider block documentation", key)
		}
		seen := map[string]bool{}
		for _, s := range sub.Settings {
			if !name.MatchString(s.Name) || seen[s.Name] || s.Doc == "" || len(s.Env) == 0 {
				t.Errorf("%s: setting %+v: want a unique snake_case name, a doc and an environment variable", key, s)
			}
			seen[s.Name] = true
		}
		if l, clash := k.Layers.Get(key); clash && l.SubstrateKind() != key {
			t.Errorf("layer kind %q shares a substrate kind's name but is not that substrate", key)
		}
	}
	for _, kind := range k.Layers.Kinds() {
		l, _ := k.Layers.Get(kind)
		if s := l.SubstrateKind(); s != "" {
			if _, ok := k.Substrates[s]; !ok {
				t.Errorf("layer %q becomes substrate kind %q, which is not registered", kind, s)
			}
		}
	}
	if got := k.Provisioned(); len(got) == 0 {
		t.Error("no substrate kind can make machines")
	}
}

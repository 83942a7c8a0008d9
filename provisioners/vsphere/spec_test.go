package vsphere

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/stacks/schema"
)

func TestCheckPoolTemplate(t *testing.T) {
	with := func(v cty.Value) schema.Values { return schema.Values{Attrs: map[string]cty.Value{"template": v}} }
	none := with(cty.NullVal(cty.String))
	for _, tc := range []struct {
		name            string
		substrate, pool schema.Values
		ok              bool
	}{
		{"the substrate's", with(cty.StringVal("ubuntu")), none, true},
		{"the pool's", none, with(cty.StringVal("ubuntu")), true},
		{"known at apply", with(cty.UnknownVal(cty.String)), none, true},
		{"none", none, none, false},
		{"empty", with(cty.StringVal("")), none, false},
		{"pool unset", none, schema.Values{Attrs: map[string]cty.Value{}}, false},
	} {
		got := checkPool(tc.substrate, tc.pool, 1)
		if (len(got) == 0) != tc.ok || !tc.ok && got[0].Attr != "template" {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
}

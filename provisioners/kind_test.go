package provisioners_test

import (
	"reflect"
	"testing"

	"github.com/stratastack/strata/provisioners"
)

func TestKindResolve(t *testing.T) {
	k := provisioners.Kind{Spec: provisioners.Spec{Kind: "demo"}, Settings: []provisioners.Setting{
		{Name: "region", Env: []string{"DEMO_REGION", "DEMO_DEFAULT_REGION"}},
		{Name: "verify", Env: []string{"DEMO_VERIFY"}, Bool: true},
	}}
	for _, c := range []struct {
		name     string
		written  map[string]string
		env      map[string]string
		want     map[string]string
		problems int
	}{
		{"nothing", nil, nil, map[string]string{"region": "", "verify": ""}, 0},
		{"first variable wins", nil, map[string]string{"DEMO_REGION": "a", "DEMO_DEFAULT_REGION": "b"}, map[string]string{"region": "a", "verify": ""}, 0},
		{"falls back along the list", nil, map[string]string{"DEMO_DEFAULT_REGION": "b"}, map[string]string{"region": "b", "verify": ""}, 0},
		{"written wins, even empty", map[string]string{"region": "", "verify": "false"}, map[string]string{"DEMO_REGION": "a", "DEMO_VERIFY": "1"}, map[string]string{"region": "", "verify": "false"}, 0},
		{"bad boolean", nil, map[string]string{"DEMO_VERIFY": "maybe"}, map[string]string{"region": "", "verify": "maybe"}, 1},
	} {
		env, problems := k.Resolve(c.written, func(v string) string { return c.env[v] })
		if !reflect.DeepEqual(env.Settings, c.want) || len(problems) != c.problems {
			t.Errorf("%s: %v %+v, want %v and %d problems", c.name, env.Settings, problems, c.want, c.problems)
		}
		if c.problems > 0 && (problems[0].Attr != "verify" || problems[0].Detail != `DEMO_VERIFY="maybe" is not a boolean: write true or false (or 1 or 0).`) {
			t.Errorf("%s: problem %+v", c.name, problems[0])
		}
	}
}

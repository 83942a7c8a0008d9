package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/stratastack/strata/stacks/layers/marathon/raml"
)

func mustLoad(t *testing.T) *Contract {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// problems returns err's problems as "path: message", failing the test if
// err is neither nil nor a validation error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var verr *raml.Error
	if !errors.As(err, &verr) {
		t.Fatalf("got %v, want a *raml.Error", err)
	}
	var out []string
	for _, p := range verr.Problems {
		out = append(out, p.String())
	}
	return out
}

// TestLoad checks every declaration in the contract was understood: none
// rests on a construct the validator does not implement.
func TestLoad(t *testing.T) {
	c := mustLoad(t)
	for _, err := range c.schema.Issues() {
		t.Errorf("unusable declaration: %v", err)
	}
	types := c.schema.Types()
	for _, want := range []string{"app.App", "group.GroupUpdate", "group.GroupInfo"} {
		if !slices.Contains(types, want) {
			t.Errorf("Types() lacks %s", want)
		}
	}
}

// exampleBody is an example that is an App or group body, its type, and
// where the RAML resources (v2/apps.raml, v2/groups.raml) say so.
type exampleBody struct{ example, typ, why string }

var bodies = []exampleBody{
	{"app.json", "App", "apps.raml: POST /v2/apps and PUT /v2/apps/{app_id} body, type app.App"},
	{"apps_create.json", "App[]", "apps.raml: PUT /v2/apps body, type app.App[]"},
	{"app_patch.json", "App", "apps.raml: PATCH /v2/apps/{app_id} body, type app.App"},
	{"apps_patch.json", "App[]", "apps.raml: PATCH /v2/apps body, type app.App[]"},
	{"group.json", "GroupUpdate", "groups.raml: POST and PUT /v2/groups body, schema group.GroupUpdate"},
	{"app-check-http-example.json", "App", "no resource includes it; it is an app definition"},
}

// otherExamples are the examples that are not App or group bodies.
var otherExamples = []string{
	"app_list.json", "app_task.json", "app_tasks.json", "deployment_steps.json",
	"deployments.json", "deployments_result.json", "info.json", "pod.json",
	"queue.json", "tasks.json",
}

func TestExamplesValidate(t *testing.T) {
	c := mustLoad(t)
	for _, b := range bodies {
		t.Run(b.example, func(t *testing.T) {
			body, err := Example(b.example)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(b.typ, body); err != nil {
				t.Errorf("%s as %s (%s): %v", b.example, b.typ, b.why, err)
			}
			if err := c.ValidateStrict(b.typ, body); err != nil {
				t.Errorf("strict: %v", err)
			}
		})
	}
}

// TestExamplesAccountedFor makes a newly copied example fail until it is
// put in bodies or otherExamples.
func TestExamplesAccountedFor(t *testing.T) {
	names, err := fs.Glob(files, "v2/examples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		n = strings.TrimPrefix(n, "v2/examples/")
		known := slices.ContainsFunc(bodies, func(b exampleBody) bool { return b.example == n })
		if !known && !slices.Contains(otherExamples, n) {
			t.Errorf("example %s is in neither bodies nor otherExamples", n)
		}
	}
}

// TestExamplesBeyondContract pins two places where Marathon's own examples
// go beyond its types, showing what the validator catches on real bodies:
// the GET /v2/apps reply has nulls for optional fields (apps.raml leaves its
// type commented out), and pod.json has a field PodScalingPolicy lacks.
func TestExamplesBeyondContract(t *testing.T) {
	c := mustLoad(t)
	list, _ := Example("app_list.json")
	want := []string{
		"$.apps[0].acceptedResourceRoles: want array, got null",
		"$.apps[0].args: want array, got null",
		"$.apps[0].container: want object, got null",
		"$.apps[0].user: want string, got null",
	}
	if got := problems(t, c.Validate("AppList", list)); !slices.Equal(got, want) {
		t.Errorf("app_list.json as AppList:\n got %q\nwant %q", got, want)
	}
	pod, _ := Example("pod.json")
	if err := c.Validate("Pod", pod); err != nil {
		t.Errorf("pod.json as Pod: %v", err)
	}
	want = []string{"$.scaling.maxInstances: unknown field"}
	if got := problems(t, c.ValidateStrict("Pod", pod)); !slices.Equal(got, want) {
		t.Errorf("pod.json strictly:\n got %q\nwant %q", got, want)
	}
}

// edit decodes an example, applies change to it and encodes it again.
func edit(t *testing.T, example string, change func(m map[string]any)) []byte {
	t.Helper()
	body, err := Example(example)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	change(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// get walks decoded JSON by object keys and array indexes.
func get(v any, steps ...any) any {
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			v = v.(map[string]any)[s]
		case int:
			v = v.([]any)[s]
		}
	}
	return v
}

func obj(v any, steps ...any) map[string]any { return get(v, steps...).(map[string]any) }

func TestAppViolations(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		name   string
		change func(app map[string]any)
		want   []string // under both Validate and ValidateStrict
	}{
		{"instances as string", func(a map[string]any) { a["instances"] = "3" },
			[]string{`$.instances: want integer, got string "3"`}},
		{"fractional instances", func(a map[string]any) { a["instances"] = 1.5 },
			[]string{"$.instances: want integer, got number 1.5"}},
		{"negative instances", func(a map[string]any) { a["instances"] = -1 },
			[]string{"$.instances: -1 is less than minimum 0"}},
		{"cpus as string", func(a map[string]any) { a["cpus"] = "0.1" },
			[]string{`$.cpus: want number, got string "0.1"`}},
		{"container type", func(a map[string]any) { obj(a, "container")["type"] = "DOCKR" },
			[]string{`$.container.type: must be one of [MESOS DOCKER], got "DOCKR"`}},
		{"docker image missing", func(a map[string]any) { delete(obj(a, "container", "docker"), "image") },
			[]string{"$.container.docker.image: required"}},
		{"docker image empty", func(a map[string]any) { obj(a, "container", "docker")["image"] = "" },
			[]string{"$.container.docker.image: length 0 is less than minLength 1"}},
		{"minimumHealthCapacity above 1", func(a map[string]any) { obj(a, "upgradeStrategy")["minimumHealthCapacity"] = 1.5 },
			[]string{"$.upgradeStrategy.minimumHealthCapacity: 1.5 is greater than maximum 1.0"}},
		{"maximumOverCapacity below 0", func(a map[string]any) { obj(a, "upgradeStrategy")["maximumOverCapacity"] = -0.5 },
			[]string{"$.upgradeStrategy.maximumOverCapacity: -0.5 is less than minimum 0.0"}},
		{"id missing", func(a map[string]any) { delete(a, "id") },
			[]string{"$.id: required"}},
		{"id not a path", func(a map[string]any) { a["id"] = "/Bad_Id" },
			[]string{`$.id: must match pattern ` + pathIDPattern + `, got "/Bad_Id"`}},
		{"constraint too short", func(a map[string]any) { a["constraints"] = [][]string{{"hostname"}} },
			[]string{"$.constraints[0]: has 1 items, want at least 2 (minItems)"}},
		{"constraints repeated", func(a map[string]any) { a["constraints"] = [][]string{{"hostname", "UNIQUE"}, {"hostname", "UNIQUE"}} },
			[]string{"$.constraints[1]: equals item [0], want unique items (uniqueItems)"}},
		{"env value a number", func(a map[string]any) { obj(a, "env")["XPS1"] = 1 },
			[]string{"$.env.XPS1: want string or object, got number 1"}},
		{"env secret not a string", func(a map[string]any) { obj(a, "env")["PASSWORD"] = map[string]any{"secret": 1} },
			[]string{
				"$.env.PASSWORD: matches none of environmentVariable.EnvVarValue | environmentVariable.EnvVarSecret; nearest is environmentVariable.EnvVarSecret:",
				"$.env.PASSWORD.secret: want string, got number 1"}},
		{"label not a string", func(a map[string]any) { obj(a, "labels")["owner"] = true },
			[]string{"$.labels.owner: want string, got boolean true"}},
		{"health check protocol", func(a map[string]any) { obj(a, "healthChecks", 0)["protocol"] = "HTTP2" },
			[]string{`$.healthChecks[0].protocol: must be one of [HTTP HTTPS TCP COMMAND MESOS_TCP MESOS_HTTP MESOS_HTTPS], got "HTTP2"`}},
		{"port out of range", func(a map[string]any) { obj(a, "portDefinitions", 0)["port"] = 70000 },
			[]string{"$.portDefinitions[0].port: 70000 is greater than maximum 65535"}},
		{"unreachableStrategy", func(a map[string]any) { a["unreachableStrategy"] = "enabled" },
			[]string{
				"$.unreachableStrategy: matches none of unreachableStrategy.UnreachableDisabled | unreachableStrategy.UnreachableEnabled; nearest is unreachableStrategy.UnreachableDisabled:",
				`$.unreachableStrategy: must be one of [disabled], got "enabled"`}},
		{"killSelection", func(a map[string]any) { a["killSelection"] = "RANDOM" },
			[]string{`$.killSelection: must be one of [YOUNGEST_FIRST OLDEST_FIRST], got "RANDOM"`}},
		{"backoffSeconds fractional", func(a map[string]any) { a["backoffSeconds"] = 1.5 },
			[]string{"$.backoffSeconds: want integer, got number 1.5"}},
		{"every problem listed", func(a map[string]any) {
			delete(a, "id")
			a["instances"] = "3"
			obj(a, "container")["type"] = "DOCKR"
		}, []string{
			"$.id: required",
			`$.container.type: must be one of [MESOS DOCKER], got "DOCKR"`,
			`$.instances: want integer, got string "3"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := edit(t, "app.json", tc.change)
			if got := problems(t, c.Validate("App", body)); !slices.Equal(got, tc.want) {
				t.Errorf("Validate:\n got %q\nwant %q", got, tc.want)
			}
			if got := problems(t, c.ValidateStrict("App", body)); !slices.Equal(got, tc.want) {
				t.Errorf("ValidateStrict:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// pathIDPattern is strings.PathId's pattern in stringTypes.raml.
const pathIDPattern = `^(\/?((\.\.)|(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9]))?($|\/))+$`

// TestUnknownFields shows the contract's objects are open: an undeclared
// field passes Validate and only ValidateStrict rejects it.
func TestUnknownFields(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		name, example, typ string
		change             func(m map[string]any)
		want               string
	}{
		{"App top level", "app.json", "App", func(a map[string]any) { a["instnaces"] = 2 }, "$.instnaces: unknown field"},
		{"App nested", "app.json", "App", func(a map[string]any) { obj(a, "container", "docker")["imag"] = "x" }, "$.container.docker.imag: unknown field"},
		{"GroupUpdate", "group.json", "GroupUpdate", func(g map[string]any) { g["app"] = []any{} }, "$.app: unknown field"},
		{"App inside a group", "group.json", "GroupUpdate", func(g map[string]any) { obj(g, "groups", 0, "apps", 0)["memory"] = 1 }, "$.groups[0].apps[0].memory: unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := edit(t, tc.example, tc.change)
			if err := c.Validate(tc.typ, body); err != nil {
				t.Errorf("Validate: %v, want nil (RAML objects are open)", err)
			}
			if got := problems(t, c.ValidateStrict(tc.typ, body)); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("ValidateStrict: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGroupViolations(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		name   string
		change func(g map[string]any)
		want   []string
	}{
		{"id missing", func(g map[string]any) { delete(g, "id") }, []string{"$.id: required"}},
		{"id not a path", func(g map[string]any) { g["id"] = "My Group" },
			[]string{`$.id: must match pattern ` + pathIDPattern + `, got "My Group"`}},
		{"scaleBy negative", func(g map[string]any) { g["scaleBy"] = -1 }, []string{"$.scaleBy: -1 is less than minimum 0"}},
		{"apps not a list", func(g map[string]any) { g["apps"] = map[string]any{} }, []string{"$.apps: want array, got object"}},
		{"nested app instances", func(g map[string]any) { obj(g, "groups", 0, "apps", 0)["instances"] = "2" },
			[]string{`$.groups[0].apps[0].instances: want integer, got string "2"`}},
		{"nested app container type", func(g map[string]any) { obj(g, "groups", 0, "apps", 0, "container")["type"] = "RKT" },
			[]string{`$.groups[0].apps[0].container.type: must be one of [MESOS DOCKER], got "RKT"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := edit(t, "group.json", tc.change)
			if got := problems(t, c.Validate("GroupUpdate", body)); !slices.Equal(got, tc.want) {
				t.Errorf("Validate:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestTypeNames(t *testing.T) {
	c := mustLoad(t)
	app, _ := Example("app_patch.json")
	for _, name := range []string{"App", "app.App"} {
		if err := c.Validate(name, app); err != nil {
			t.Errorf("Validate(%s): %v", name, err)
		}
	}
	group, _ := Example("group.json")
	if err := c.Validate("group.GroupUpdate", group); err != nil {
		t.Errorf("Validate(group.GroupUpdate): %v", err)
	}
	err := c.Validate("Group", group)
	if err == nil || !strings.Contains(err.Error(), "no type Group; similar: group.GroupInfo, group.GroupPartialUpdate, group.GroupUpdate") {
		t.Errorf("Validate(Group) = %v, want no-such-type naming the group types", err)
	}
}

func TestValidateFunc(t *testing.T) {
	if err := Validate("App", []byte(`{"id": "/a", "cmd": "sleep 1"}`)); err != nil {
		t.Errorf("Validate: %v", err)
	}
	err := Validate("App", []byte(`{"cmd": 1}`))
	if got, want := problems(t, err), []string{"$.id: required", "$.cmd: want string, got number 1"}; !slices.Equal(got, want) {
		t.Errorf("Validate = %q, want %q", got, want)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "marathon contract: value does not match App (2 problem(s)):\n\t$.id: required") {
		t.Errorf("Error() = %q", err)
	}
}

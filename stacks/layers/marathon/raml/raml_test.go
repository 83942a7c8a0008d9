package raml

import (
	"cmp"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// ramlLib builds a RAML library whose types: block is types (indented by two).
func ramlLib(types string) string {
	return "#%RAML 1.0 Library\ntypes:\n" + types
}

func mustLoad(t *testing.T, files map[string]string, roots ...string) *Schema {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	s, err := Load(fsys, roots...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

// problems runs ValidateJSON and returns the problems as "path: message".
func problems(t *testing.T, s *Schema, typ, body string, o Options) []string {
	t.Helper()
	err := s.ValidateJSON(typ, []byte(body), o)
	if err == nil {
		return nil
	}
	var verr *Error
	if !errors.As(err, &verr) {
		t.Fatalf("ValidateJSON(%s, %s): %v, want nil or *Error", typ, body, err)
	}
	var out []string
	for _, p := range verr.Problems {
		out = append(out, p.String())
	}
	return out
}

func sameList(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

const typesLib = `
  Str: string
  Int: integer
  Num: number
  Bool: boolean
  Nil: nil
  Any: any
  Obj: object
  Arr: array
  When: datetime
  Day: date-only
  Clock: time-only
  Local: datetime-only
  HTTPWhen:
    type: datetime
    format: rfc2616
  Engine:
    type: string
    enum: [MESOS, DOCKER]
  Code:
    type: integer
    enum: [200, 404]
  Name:
    type: string
    pattern: ^[a-z]+$
    minLength: 2
    maxLength: 5
  Short:
    type: Name
    maxLength: 3
  Ratio:
    type: number
    minimum: 0
    maximum: 1
  Port:
    type: integer
    format: int32
    minimum: 1
  Big:
    type: integer
    format: int64
  Tiny:
    type: number
    format: int8
  Even:
    type: integer
    multipleOf: 2
  Docker:
    type: object
    properties:
      image:
        type: string
        minLength: 1
      privileged?: boolean
  Container:
    properties:
      type: Engine
      docker?: Docker
  App:
    type: object
    properties:
      id: Name
      cmd?: string
      note:
        type: string
        required: false
      must?:
        type: string
        required: true
      instances?: Int
      container?: Container
  Closed:
    type: object
    additionalProperties: false
    properties:
      a?: string
  Open:
    type: object
    additionalProperties: true
    properties:
      a?: string
  Base:
    properties:
      id: string
  Derived:
    type: Base
    properties:
      size: integer
  Left:
    properties:
      l: string
  Right:
    properties:
      r: integer
  Both:
    type: [Left, Right]
  StrOrInt: string | integer
  MaybeStr: string?
  Disabled:
    type: string
    enum: [disabled]
  Enabled:
    properties:
      after?:
        type: integer
        minimum: 0
  Strategy: (Disabled | Enabled)
  Host:
    properties:
      hostPath: string
      mode: Engine
  Secret:
    properties:
      secret: string
  Volume: Host | Secret
  Item:
    properties:
      x: integer
  Items: Item[]
  Positives:
    type: array
    items:
      type: integer
      minimum: 1
    minItems: 1
    maxItems: 3
    uniqueItems: true
  Anything:
    type: array
    items:
  Labels:
    properties:
      /^x-/: integer
      name?: string
  Env:
    properties:
      //: string
  Shell:
    properties:
      shell: string
      /^argv$/: nil
  Policy:
    discriminator: kind
    properties:
      kind: string
  Fixed:
    type: Policy
    discriminatorValue: fixed
    properties:
      instances: integer
  Tree:
    properties:
      name: string
      children?: Tree[]
  Later:
    properties:
      b:
        type: Defined
        minLength: 2
  Defined: string
  Pairs:
    type: array
    items: string[]
    uniqueItems: true
  Objs:
    type: array
    items: object
    uniqueItems: true
  Narrowed:
    type: Base
    properties:
      id:
        type: string
        enum: [a]
`

func TestValidate(t *testing.T) {
	s := mustLoad(t, map[string]string{"lib.raml": ramlLib(typesLib)}, "lib.raml")
	if is := s.Issues(); len(is) > 0 {
		t.Fatalf("Issues: %v", is)
	}
	tests := []struct {
		name   string
		typ    string
		body   string
		closed bool
		want   []string // problems; nil means valid
	}{
		// value types
		{"string", "Str", `"a"`, false, nil},
		{"string got number", "Str", `3`, false, []string{"$: want string, got number 3"}},
		{"integer", "Int", `3`, false, nil},
		{"integer written 3.0", "Int", `3.0`, false, nil},
		{"integer got fraction", "Int", `3.5`, false, []string{"$: want integer, got number 3.5"}},
		{"integer got string", "Int", `"3"`, false, []string{`$: want integer, got string "3"`}},
		{"number", "Num", `-1.5e3`, false, nil},
		{"number got boolean", "Num", `true`, false, []string{"$: want number, got boolean true"}},
		{"boolean", "Bool", `false`, false, nil},
		{"boolean got null", "Bool", `null`, false, []string{"$: want boolean, got null"}},
		{"nil", "Nil", `null`, false, nil},
		{"nil got string", "Nil", `"x"`, false, []string{`$: want nil, got string "x"`}},
		{"any", "Any", `[1, {"a": null}]`, false, nil},
		{"object got array", "Obj", `[]`, false, []string{"$: want object, got array"}},
		{"bare object is open even closed", "Obj", `{"z": 1}`, true, nil},
		{"array got object", "Arr", `{}`, false, []string{"$: want array, got object"}},
		{"datetime", "When", `"2015-09-28T19:47:37.681Z"`, false, nil},
		{"datetime bad", "When", `"yesterday"`, false, []string{`$: want datetime (RFC 3339), got "yesterday"`}},
		{"datetime rfc2616", "HTTPWhen", `"Sun, 06 Nov 1994 08:49:37 GMT"`, false, nil},
		{"date-only", "Day", `"2021-07-01"`, false, nil},
		{"date-only bad", "Day", `"2021-07-01T00:00:00Z"`, false, []string{`$: want date-only (yyyy-mm-dd), got "2021-07-01T00:00:00Z"`}},
		{"time-only", "Clock", `"12:30:05.5"`, false, nil},
		{"datetime-only", "Local", `"2021-07-01T12:30:05"`, false, nil},
		{"built-in by name", "integer[]", `[1, 2]`, false, nil},

		// enum
		{"enum", "Engine", `"DOCKER"`, false, nil},
		{"enum bad", "Engine", `"DOCKR"`, false, []string{`$: must be one of [MESOS DOCKER], got "DOCKR"`}},
		{"enum number", "Code", `404`, false, nil},
		{"enum number bad", "Code", `500`, false, []string{"$: must be one of [200 404], got 500"}},

		// string facets
		{"pattern etc ok", "Name", `"abc"`, false, nil},
		{"pattern", "Name", `"Ab"`, false, []string{`$: must match pattern ^[a-z]+$, got "Ab"`}},
		{"minLength", "Name", `"a"`, false, []string{"$: length 1 is less than minLength 2"}},
		{"maxLength", "Name", `"abcdef"`, false, []string{"$: length 6 is more than maxLength 5"}},
		{"subtype narrows", "Short", `"abcd"`, false, []string{"$: length 4 is more than maxLength 3"}},
		{"subtype keeps parent facets", "Short", `"A"`, false, []string{
			`$: must match pattern ^[a-z]+$, got "A"`, "$: length 1 is less than minLength 2"}},

		// numeric facets
		{"range ok", "Ratio", `0.5`, false, nil},
		{"maximum", "Ratio", `1.5`, false, []string{"$: 1.5 is greater than maximum 1"}},
		{"minimum", "Ratio", `-0.1`, false, []string{"$: -0.1 is less than minimum 0"}},
		{"int32", "Port", `2147483647`, false, nil},
		{"int32 overflow", "Port", `2147483648`, false, []string{"$: 2147483648 is out of range for format int32"}},
		{"int32 minimum", "Port", `0`, false, []string{"$: 0 is less than minimum 1"}},
		{"int64", "Big", `9223372036854775807`, false, nil},
		{"int64 overflow", "Big", `9223372036854775808`, false, []string{"$: 9223372036854775808 is out of range for format int64"}},
		{"number format int8 wants integer", "Tiny", `1.5`, false, []string{"$: want integer, got number 1.5"}},
		{"number format int8 range", "Tiny", `128`, false, []string{"$: 128 is out of range for format int8"}},
		{"multipleOf", "Even", `3`, false, []string{"$: 3 is not a multiple of 2"}},

		// objects: required, optional, open and closed
		{"object ok", "App", `{"id": "ab", "must": "x"}`, false, nil},
		{"required", "App", `{"must": "x"}`, false, []string{"$.id: required"}},
		{"name? with required: true", "App", `{"id": "ab"}`, false, []string{"$.must: required"}},
		{"open by default", "App", `{"id": "ab", "must": "x", "extra": 1}`, false, nil},
		{"Options.Closed", "App", `{"id": "ab", "must": "x", "extra": 1}`, true, []string{"$.extra: unknown field"}},
		{"additionalProperties: false", "Closed", `{"a": "x", "b": 1}`, false, []string{"$.b: unknown field"}},
		{"additionalProperties: true wins over Closed", "Open", `{"b": 1}`, true, nil},
		{"odd names are quoted", "Closed", `{"x-y": 1}`, false, []string{`$["x-y"]: unknown field`}},
		{"nested path", "App", `{"id": "ab", "must": "x", "container": {"type": "DOCKER", "docker": {"image": 7}}}`, false,
			[]string{"$.container.docker.image: want string, got number 7"}},
		{"nested required", "App", `{"id": "ab", "must": "x", "container": {"type": "MESOS", "docker": {}}}`, false,
			[]string{"$.container.docker.image: required"}},
		{"every problem listed", "App", `{"instances": "3", "container": {"type": "DOCKR", "docker": {"image": ""}}, "oops": 1}`, true,
			[]string{
				"$.id: required",
				"$.must: required",
				`$.instances: want integer, got string "3"`,
				`$.container.type: must be one of [MESOS DOCKER], got "DOCKR"`,
				"$.container.docker.image: length 0 is less than minLength 1",
				"$.oops: unknown field",
			}},

		// inheritance
		{"inherits properties", "Derived", `{"id": "a", "size": 1}`, false, nil},
		{"inherited required", "Derived", `{"size": "x"}`, false, []string{"$.id: required", `$.size: want integer, got string "x"`}},
		{"inherited fields are known when closed", "Derived", `{"id": "a", "size": 1, "z": 0}`, true, []string{"$.z: unknown field"}},
		{"subtype redeclares property", "Narrowed", `{"id": "b"}`, false, []string{`$.id: must be one of [a], got "b"`}},
		{"multiple inheritance", "Both", `{"l": "a", "r": 1}`, false, nil},
		{"multiple inheritance both checked", "Both", `{"l": 1}`, false, []string{"$.l: want string, got number 1", "$.r: required"}},

		// unions
		{"union first", "StrOrInt", `"a"`, false, nil},
		{"union second", "StrOrInt", `1`, false, nil},
		{"union no kind fits", "StrOrInt", `true`, false, []string{"$: want string or integer, got boolean true"}},
		{"string? null", "MaybeStr", `null`, false, nil},
		{"string? number", "MaybeStr", `1`, false, []string{"$: want string or nil, got number 1"}},
		{"parenthesised union", "Strategy", `"disabled"`, false, nil},
		{"union object member", "Strategy", `{"after": 5}`, false, nil},
		{"union nearest member", "Strategy", `{"after": -1}`, false, []string{
			"$: matches none of lib.Disabled | lib.Enabled; nearest is lib.Enabled:",
			"$.after: -1 is less than minimum 0"}},
		{"union of objects nearest", "Volume", `{"hostPath": "/x", "mode": "RW"}`, false, []string{
			"$: matches none of lib.Host | lib.Secret; nearest is lib.Host:",
			`$.mode: must be one of [MESOS DOCKER], got "RW"`}},
		{"union expression", "Str | Int", `2`, false, nil},

		// arrays
		{"Type[]", "Items", `[{"x": 1}, {"x": "2"}]`, false, []string{`$[1].x: want integer, got string "2"`}},
		{"Type[] from Validate", "Item[]", `[{}]`, false, []string{"$[0].x: required"}},
		{"items facets", "Positives", `[1, 2]`, false, nil},
		{"items checked", "Positives", `[0]`, false, []string{"$[0]: 0 is less than minimum 1"}},
		{"minItems", "Positives", `[]`, false, []string{"$: has 0 items, want at least 1 (minItems)"}},
		{"maxItems", "Positives", `[1, 2, 3, 4]`, false, []string{"$: has 4 items, want at most 3 (maxItems)"}},
		{"uniqueItems", "Positives", `[1, 1.0]`, false, []string{"$[1]: equals item [0], want unique items (uniqueItems)"}},
		{"unique arrays", "Pairs", `[["a", "b"], ["a", "c"], ["a"]]`, false, nil},
		{"unique arrays dup", "Pairs", `[["a", "b"], ["a", "b"]]`, false, []string{"$[1]: equals item [0], want unique items (uniqueItems)"}},
		{"unique objects", "Objs", `[{"a": 1}, {"a": 2}, {"b": 1}, {"a": 1, "b": 1}]`, false, nil},
		{"unique objects dup", "Objs", `[{"a": 1, "b": [1]}, {"b": [1.0], "a": 1}]`, false, []string{"$[1]: equals item [0], want unique items (uniqueItems)"}},
		{"empty items is string", "Anything", `["a", 1]`, false, []string{"$[1]: want string, got number 1"}},

		// pattern properties
		{"pattern property", "Labels", `{"x-a": 1, "name": "n"}`, false, nil},
		{"pattern property checked", "Labels", `{"x-a": "1"}`, false, []string{`$["x-a"]: want integer, got string "1"`}},
		{"declared beats pattern", "Labels", `{"name": "n"}`, false, nil},
		{"non-matching key open", "Labels", `{"y": true}`, false, nil},
		{"non-matching key closed", "Labels", `{"y": true}`, true, []string{"$.y: unknown field"}},
		{"// matches any name", "Env", `{"A": "1", "b c": "2"}`, true, nil},
		{"// checks values", "Env", `{"A": 1}`, false, []string{"$.A: want string, got number 1"}},
		{"nil pattern excludes", "Shell", `{"shell": "ls", "argv": ["ls"]}`, false, []string{"$.argv: want nil, got array"}},

		// discriminator
		{"discriminator picks subtype", "Policy", `{"kind": "fixed", "instances": 2}`, false, nil},
		{"discriminator subtype checked", "Policy", `{"kind": "fixed", "instances": "2"}`, false, []string{`$.instances: want integer, got string "2"`}},
		{"discriminator unknown", "Policy", `{"kind": "auto"}`, false, []string{`$.kind: must be one of [Policy fixed] (discriminator), got string "auto"`}},
		{"discriminator missing", "Policy", `{}`, false, []string{"$.kind: required (discriminator)"}},

		// references
		{"recursive type", "Tree", `{"name": "r", "children": [{"name": "c", "children": [{"name": 1}]}]}`, false,
			[]string{"$.children[0].children[0].name: want string, got number 1"}},
		{"facets on a type declared later", "Later", `{"b": "x"}`, false, []string{"$.b: length 1 is less than minLength 2"}},
		{"qualified name", "lib.Int", `1`, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, s, tc.typ, tc.body, Options{Closed: tc.closed})
			if !sameList(got, tc.want) {
				t.Errorf("%s %s:\n got %q\nwant %q", tc.typ, tc.body, got, tc.want)
			}
		})
	}
}

func TestUses(t *testing.T) {
	s := mustLoad(t, map[string]string{
		"api/app.raml": `#%RAML 1.0 Library
uses:
  str: common/strings.raml
  num: ../numbers.raml
types:
  App:
    properties:
      id: str.PathId
      port?: num.Port
      tags?: str.PathId[]
`,
		"api/common/strings.raml": ramlLib(`
  PathId:
    type: string
    pattern: ^/
`),
		"numbers.raml": `#%RAML 1.0 Library
uses:
  app: api/app.raml
types:
  Port:
    type: integer
    maximum: 65535
  Ports: app.App[]
`,
	}, "api/app.raml")
	if is := s.Issues(); len(is) > 0 {
		t.Fatalf("Issues: %v", is)
	}
	tests := []struct {
		typ, body string
		want      []string
	}{
		{"App", `{"id": "/a", "port": 80, "tags": ["/t"]}`, nil},
		{"app.App", `{"id": "a", "port": 65536, "tags": ["t"]}`, []string{
			`$.id: must match pattern ^/, got "a"`,
			"$.port: 65536 is greater than maximum 65535",
			`$.tags[0]: must match pattern ^/, got "t"`,
		}},
		{"numbers.Ports", `[{"id": 1}]`, []string{"$[0].id: want string, got number 1"}},
		{"strings.PathId", `"/x"`, nil},
	}
	for _, tc := range tests {
		if got := problems(t, s, tc.typ, tc.body, Options{}); !sameList(got, tc.want) {
			t.Errorf("%s %s:\n got %q\nwant %q", tc.typ, tc.body, got, tc.want)
		}
	}
	if want := []string{"app.App", "numbers.Port", "numbers.Ports", "strings.PathId"}; !sameList(s.Types(), want) {
		t.Errorf("Types() = %q, want %q", s.Types(), want)
	}
}

// TestIssues checks that declarations the package cannot honour are named,
// with file, line and YAML path, and fail validation instead of passing it.
func TestIssues(t *testing.T) {
	tests := []struct {
		name, types string
		issue       string // substring of the one issue
		body, path  string // a value reaching the broken type, and its path; "x" and $ if empty
	}{
		{"user-defined facets", `
  T:
    type: string
    facets:
      noHolidays: boolean
`, `unsupported RAML construct: facet "facets" at lib.raml:6 (types.T.facets)`, "", ""},
		{"file type", `
  T: file
`, "unsupported RAML construct: built-in type file at lib.raml:4 (types.T)", "", ""},
		{"JSON schema", `
  T: '{"type": "string"}'
`, "unsupported RAML construct: inline JSON or XML schema at lib.raml:4 (types.T)", "", ""},
		{"unknown format", `
  T:
    type: integer
    format: int128
`, `unsupported RAML construct: format "int128" on integer at lib.raml:6 (types.T.format)`, "", ""},
		{"facet of another kind", `
  T:
    type: string
    minimum: 1
`, "facet minimum does not apply to type string at lib.raml:6 (types.T.minimum)", "", ""},
		{"unknown type", `
  T:
    properties:
      a: Missing
`, "unknown type Missing at lib.raml:6 (types.T.properties.a)", `{"a": 1}`, "$.a"},
		{"unknown prefix", `
  T: other.Thing
`, `type other.Thing: library prefix "other" is not in uses: at lib.raml:4 (types.T)`, "", ""},
		{"cyclic inheritance", `
  T:
    type: U
  U:
    type: T
`, "cyclic inheritance through lib.T at lib.raml:7 (types.U)", "", ""},
		{"bad pattern", `
  T:
    type: string
    pattern: "("
`, "facet pattern: error parsing regexp", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustLoad(t, map[string]string{"lib.raml": ramlLib(tc.types)}, "lib.raml")
			is := s.Issues()
			if len(is) != 1 || !strings.Contains(is[0].Error(), tc.issue) {
				t.Fatalf("Issues() = %v, want one containing %q", is, tc.issue)
			}
			body, path := cmp.Or(tc.body, `"x"`), cmp.Or(tc.path, "$")
			got := problems(t, s, "T", body, Options{})
			if len(got) != 1 || !strings.HasPrefix(got[0], path+": cannot check this value: ") || !strings.Contains(got[0], tc.issue) {
				t.Errorf("validating T: %q, want one problem naming %q", got, tc.issue)
			}
		})
	}
}

func TestLookupErrors(t *testing.T) {
	s := mustLoad(t, map[string]string{
		"a.raml": "#%RAML 1.0 Library\nuses:\n  b: b.raml\ntypes:\n  Same: string\n  GroupInfo: string\n  GroupUpdate: string\n",
		"b.raml": ramlLib("  Same: integer\n"),
	}, "a.raml")
	tests := []struct{ typ, want string }{
		{"Group", "raml: no type Group; similar: a.GroupInfo, a.GroupUpdate"},
		{"Same", "raml: type Same is ambiguous: declared in a.raml, b.raml"},
		{"c.Same", "raml: no type c.Same; similar: a.Same, b.Same"},
		{"Same[", `raml: type expression "Same[": unexpected "["`},
	}
	for _, tc := range tests {
		err := s.ValidateJSON(tc.typ, []byte(`1`), Options{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("ValidateJSON(%q) = %v, want %q", tc.typ, err, tc.want)
		}
	}
	if err := s.ValidateJSON("b.Same", []byte(`1`), Options{}); err != nil {
		t.Errorf("qualified b.Same: %v", err)
	}
}

func TestValidateJSONInvalid(t *testing.T) {
	s := mustLoad(t, map[string]string{"lib.raml": ramlLib("  T: object\n")}, "lib.raml")
	for _, body := range []string{`{`, `{} {}`, ``} {
		err := s.ValidateJSON("T", []byte(body), Options{})
		if err == nil || !strings.Contains(err.Error(), "invalid JSON") {
			t.Errorf("ValidateJSON(%q) = %v, want invalid JSON", body, err)
		}
	}
}

// TestValidateGoValues checks values decoded without UseNumber (float64).
func TestValidateGoValues(t *testing.T) {
	s := mustLoad(t, map[string]string{"lib.raml": ramlLib(typesLib)}, "lib.raml")
	if err := s.Validate("Port", float64(80), Options{}); err != nil {
		t.Errorf("Port 80.0: %v", err)
	}
	if err := s.Validate("Port", 80.5, Options{}); err == nil {
		t.Error("Port 80.5: no error")
	}
	if err := s.Validate("Str", struct{}{}, Options{}); err == nil || !strings.Contains(err.Error(), "want string, got struct {}") {
		t.Errorf("struct value: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"not RAML", "types:\n  T: string\n", "not RAML 1.0"},
		{"bad YAML", "#%RAML 1.0 Library\ntypes: [\n", "lib.raml: yaml:"},
		{"missing library", "#%RAML 1.0 Library\nuses:\n  x: gone.raml\n", "lib.raml:3: uses x: open gone.raml"},
		{"duplicate type", "#%RAML 1.0 Library\ntypes:\n  T: string\n  T: integer\n", "lib.raml:4: type T declared twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(fstest.MapFS{"lib.raml": {Data: []byte(tc.text)}}, "lib.raml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseExpr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"string", "string"},
		{" a.B ", "a.B"},
		{"A[]", "A[]"},
		{"(A | B)[]", "(A | B)[]"},
		{"A | B[] | C", "A | B[] | C"},
		{"string?", "string | nil"},
		{"(A|B)", "A | B"},
		{"datetime-only", "datetime-only"},
	}
	for _, tc := range tests {
		e, err := parseExpr(tc.in)
		if err != nil || e.String() != tc.want {
			t.Errorf("parseExpr(%q) = %v, %v; want %s", tc.in, e, err, tc.want)
		}
	}
	for _, bad := range []string{"", "A |", "(A", "A B", "A[", "{}"} {
		if _, err := parseExpr(bad); err == nil {
			t.Errorf("parseExpr(%q): no error", bad)
		}
	}
}

func TestErrorString(t *testing.T) {
	err := &Error{Type: "App", Problems: []Problem{{"$.id", "required"}, {"$.cpus", "want number, got string \"1\""}}}
	want := "value does not match App (2 problem(s)):\n\t$.id: required\n\t$.cpus: want number, got string \"1\""
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

package marathontest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratastack/strata/stacks/layers/marathon/contract"
)

// answer is one response, its JSON body decoded.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   any
}

func (a answer) obj(t *testing.T) map[string]any {
	t.Helper()
	m, ok := a.body.(map[string]any)
	if !ok {
		t.Fatalf("answer %d %s is not an object", a.status, a.raw)
	}
	return m
}

func call(t *testing.T, s *Server, method, path, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return a
}

// want fails unless a has status.
func (a answer) want(t *testing.T, status int) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.raw)
	}
	return a
}

// settle reads the deployments until none is listed.
func settle(t *testing.T, s *Server) {
	t.Helper()
	for range 100 {
		if len(call(t, s, "GET", "/v2/deployments", "").want(t, 200).body.([]any)) == 0 {
			return
		}
	}
	t.Fatalf("deployments %v never end", s.DeploymentIDs())
}

// app returns one app of GET /v2/apps with its counts and failure.
func getApp(t *testing.T, s *Server, id string) map[string]any {
	t.Helper()
	apps := call(t, s, "GET", "/v2/apps?embed=apps.counts&embed=apps.lastTaskFailure&embed=apps.deployments&id="+id, "").want(t, 200).obj(t)["apps"].([]any)
	for _, a := range apps {
		if a := a.(map[string]any); a["id"] == id {
			return a
		}
	}
	t.Fatalf("no app %s", id)
	return nil
}

func count(a map[string]any, field string) int {
	n, _ := a[field].(float64)
	return int(n)
}

const web = `{"id": "/s/web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 2,
  "labels": {"stratastack.io/stack": "s", "stratastack.io/role": "web"},
  "healthChecks": [{"protocol": "MESOS_TCP", "port": 8080}]}`

func TestRefusals(t *testing.T) {
	s := Start(t)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		wantPath, wantErr        string
	}{
		{"unknown field", "PUT", "/v2/apps/a", `{"id": "/a", "cmd": "x", "instnaces": 2}`, 422, "/instnaces", "unknown field"},
		{"instances a string", "PUT", "/v2/apps/a", `{"id": "/a", "cmd": "x", "instances": "2"}`, 422, "/instances", "want integer"},
		{"no id", "PUT", "/v2/apps/a", `{"cmd": "x"}`, 422, "/id", "required"},
		{"cmd and args", "PUT", "/v2/apps/a", `{"id": "/a", "cmd": "x", "args": ["y"]}`, 422, "/cmd", "both cmd and args"},
		{"id not the path", "PUT", "/v2/apps/a", `{"id": "/b", "cmd": "x"}`, 422, "/id", "does not match"},
		{"not JSON", "PUT", "/v2/apps/a", `{"id": `, 400, "/", ""},
		{"nested unknown field", "PUT", "/v2/groups/g", `{"id": "/g", "groups": [{"id": "/g/h", "apps": [{"id": "/g/h/a", "cmd": "x", "memory": 1}]}]}`, 422, "/groups(0)/apps(0)/memory", "unknown field"},
		{"app not a child", "PUT", "/v2/groups/g", `{"id": "/g", "apps": [{"id": "/app", "cmd": "x"}]}`, 422, "/apps(0)/id", "is not child of /g"},
		{"same app twice", "PUT", "/v2/groups/g", `{"id": "/g", "apps": [{"id": "a", "cmd": "x"}, {"id": "/g/a", "cmd": "y"}]}`, 422, "/apps(1)/id", "also given"},
		{"group id not the path", "PUT", "/v2/groups/g", `{"id": "/h"}`, 422, "/id", "does not match"},
		{"bad path id", "PUT", "/v2/apps/Bad_Id", `{"id": "/Bad_Id", "cmd": "x"}`, 400, "", ""},
		{"scaleBy", "PUT", "/v2/groups/g", `{"id": "/g", "scaleBy": 2}`, 501, "", ""},
		{"unknown embed", "GET", "/v2/apps?embed=apps.everything", "", 400, "", ""},
		{"unescaped label", "GET", "/v2/apps?label=stratastack.io/stack==s", "", 400, "", ""},
		{"no such app", "DELETE", "/v2/apps/nothing", "", 404, "", ""},
		{"no such group", "GET", "/v2/groups/nothing", "", 404, "", ""},
		{"app by id", "GET", "/v2/apps/a", "", 501, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, s, tc.method, tc.path, tc.body).want(t, tc.status)
			var e struct {
				Message string   `json:"message"`
				Details []detail `json:"details"`
			}
			if err := json.Unmarshal(a.raw, &e); err != nil || e.Message == "" {
				t.Fatalf("not Marathon's error shape: %s", a.raw)
			}
			if tc.wantPath == "" {
				return
			}
			i := slices.IndexFunc(e.Details, func(d detail) bool { return d.Path == tc.wantPath })
			if i < 0 || !strings.Contains(strings.Join(e.Details[i].Errors, "; "), tc.wantErr) {
				t.Errorf("details %+v, want %s: %s", e.Details, tc.wantPath, tc.wantErr)
			}
		})
	}
	if got := s.AppIDs(); len(got) != 0 {
		t.Errorf("refused bodies left apps %v", got)
	}
	if got := s.GroupIDs(); len(got) != 0 {
		t.Errorf("refused bodies left groups %v", got)
	}
}

func TestAppLifecycle(t *testing.T) {
	s := Start(t)
	a := call(t, s, "PUT", "/v2/apps/s/web?partialUpdate=false", web).want(t, 201)
	dep := a.obj(t)["deploymentId"].(string)
	if a.header.Get("Marathon-Deployment-Id") != dep || !slices.Contains(s.DeploymentIDs(), dep) {
		t.Fatalf("deployment %s, header %q, listed %v", dep, a.header.Get("Marathon-Deployment-Id"), s.DeploymentIDs())
	}
	if got := s.GroupIDs(); !slices.Equal(got, []string{"/s"}) {
		t.Errorf("groups %v, want the parent made", got)
	}
	first := getApp(t, s, "/s/web")
	if count(first, "tasksRunning") == 2 {
		t.Errorf("tasks run at once: %v", first)
	}
	settle(t, s)
	got := getApp(t, s, "/s/web")
	if count(got, "tasksRunning") != 2 || count(got, "tasksHealthy") != 2 || count(got, "tasksStaged") != 0 {
		t.Errorf("after the deployment: %v", got)
	}

	// The same definition again changes nothing and deploys nothing.
	a = call(t, s, "PUT", "/v2/apps/s/web?partialUpdate=false", web).want(t, 200)
	if id := a.obj(t)["deploymentId"].(string); id == "" || slices.Contains(s.DeploymentIDs(), id) || s.Launched("/s/web") != 2 {
		t.Errorf("resubmit: deployment %s listed %v, launched %d", id, s.DeploymentIDs(), s.Launched("/s/web"))
	}
	// A new count only scales.
	call(t, s, "PUT", "/v2/apps/s/web?partialUpdate=false", strings.Replace(web, `"instances": 2`, `"instances": 3`, 1)).want(t, 200)
	settle(t, s)
	if got := getApp(t, s, "/s/web"); count(got, "tasksHealthy") != 3 || s.Launched("/s/web") != 3 || s.Instances("/s/web") != 3 {
		t.Errorf("scaled: %v, launched %d", got, s.Launched("/s/web"))
	}
	// Anything else replaces the tasks.
	call(t, s, "PUT", "/v2/apps/s/web?partialUpdate=false", strings.Replace(web, "sleep 1000", "sleep 2000", 1)).want(t, 200)
	settle(t, s)
	if got := getApp(t, s, "/s/web"); count(got, "tasksHealthy") != 2 || s.Launched("/s/web") != 5 {
		t.Errorf("restarted: %v, launched %d", got, s.Launched("/s/web"))
	}

	call(t, s, "DELETE", "/v2/apps/s/web", "").want(t, 200)
	if got := s.AppIDs(); len(got) != 0 {
		t.Errorf("apps after delete: %v", got)
	}
	settle(t, s)
}

func TestPartialUpdate(t *testing.T) {
	s := Start(t)
	call(t, s, "PUT", "/v2/apps/a", `{"id": "/a", "cmd": "x", "labels": {"k": "v"}}`).want(t, 201)
	call(t, s, "PUT", "/v2/apps/a", `{"id": "/a", "cmd": "x"}`).want(t, 200)
	if l := getApp(t, s, "/a")["labels"]; l == nil {
		t.Error("the default partialUpdate=true dropped a field the body left out")
	}
	settle(t, s)
	call(t, s, "PUT", "/v2/apps/a?partialUpdate=false", `{"id": "/a", "cmd": "x"}`).want(t, 200)
	if l := getApp(t, s, "/a")["labels"]; l != nil {
		t.Errorf("partialUpdate=false kept labels %v", l)
	}
}

func TestGroups(t *testing.T) {
	s := Start(t)
	body := `{"id": "/s/k/cp", "apps": [
	  {"id": "init", "cmd": "x", "instances": 1},
	  {"id": "/s/k/cp/join", "cmd": "y", "instances": 2, "dependencies": ["/s/k/cp/init"]}],
	  "groups": [{"id": "extra", "apps": [{"id": "a", "cmd": "z"}]}]}`
	call(t, s, "PUT", "/v2/groups/s/k/cp", body).want(t, 200)
	if got, want := s.AppIDs(), []string{"/s/k/cp/extra/a", "/s/k/cp/init", "/s/k/cp/join"}; !slices.Equal(got, want) {
		t.Fatalf("apps %v, want %v", got, want)
	}
	if got, want := s.GroupIDs(), []string{"/s", "/s/k", "/s/k/cp", "/s/k/cp/extra"}; !slices.Equal(got, want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	// join waits for init: it has no task until init runs.
	s.Tick(1)
	if s.Launched("/s/k/cp/init") != 1 || s.Launched("/s/k/cp/join") != 0 {
		t.Errorf("launched init %d join %d: join must wait for init", s.Launched("/s/k/cp/init"), s.Launched("/s/k/cp/join"))
	}
	settle(t, s)
	g := call(t, s, "GET", "/v2/groups/s/k/cp?embed=group.apps.counts&embed=group.groups", "").want(t, 200).obj(t)
	if n := len(g["apps"].([]any)); n != 2 {
		t.Errorf("group apps %d, want 2: %v", n, g)
	}
	join := g["apps"].([]any)[1].(map[string]any)
	if join["id"] != "/s/k/cp/join" || count(join, "tasksRunning") != 2 {
		t.Errorf("join %v", join)
	}
	// An app no longer listed is stopped; groups not listed at all stay.
	call(t, s, "PUT", "/v2/groups/s/k/cp", `{"id": "/s/k/cp", "apps": [{"id": "init", "cmd": "x", "instances": 1}]}`).want(t, 200)
	if got, want := s.AppIDs(), []string{"/s/k/cp/extra/a", "/s/k/cp/init"}; !slices.Equal(got, want) {
		t.Errorf("apps %v, want %v", got, want)
	}
	if s.Launched("/s/k/cp/init") != 1 {
		t.Error("an unchanged app in the group was restarted")
	}
	// An empty groups list drops the subgroups.
	call(t, s, "PUT", "/v2/groups/s/k/cp", `{"id": "/s/k/cp", "groups": []}`).want(t, 200)
	if got, want := s.GroupIDs(), []string{"/s", "/s/k", "/s/k/cp"}; !slices.Equal(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	settle(t, s)
	call(t, s, "DELETE", "/v2/groups/s", "").want(t, 200)
	if len(s.AppIDs())+len(s.GroupIDs()) != 0 {
		t.Errorf("left %v %v", s.AppIDs(), s.GroupIDs())
	}
	root := call(t, s, "GET", "/v2/groups", "").want(t, 200).obj(t)
	if root["id"] != "/" || len(root["apps"].([]any))+len(root["groups"].([]any)) != 0 {
		t.Errorf("root %v", root)
	}
}

func TestLocks(t *testing.T) {
	s := Start(t)
	first := call(t, s, "PUT", "/v2/apps/s/web", web).want(t, 201).obj(t)["deploymentId"].(string)
	scaled := strings.Replace(web, `"instances": 2`, `"instances": 4`, 1)
	a := call(t, s, "PUT", "/v2/apps/s/web", scaled).want(t, 409)
	var e struct {
		Message     string
		Deployments []struct{ ID string }
	}
	if err := json.Unmarshal(a.raw, &e); err != nil || len(e.Deployments) != 1 || e.Deployments[0].ID != first || !strings.Contains(e.Message, "locked") {
		t.Fatalf("409 body %s", a.raw)
	}
	// Another app is not locked; a group holding the app is.
	call(t, s, "PUT", "/v2/apps/s/other", `{"id": "/s/other", "cmd": "x"}`).want(t, 201)
	call(t, s, "DELETE", "/v2/groups/s", "").want(t, 409)
	call(t, s, "DELETE", "/v2/apps/s/web", "").want(t, 409)

	forced := call(t, s, "PUT", "/v2/apps/s/web?force=true", scaled).want(t, 200).obj(t)["deploymentId"].(string)
	if ids := s.DeploymentIDs(); slices.Contains(ids, first) || !slices.Contains(ids, forced) {
		t.Errorf("deployments %v: force must cancel %s and run %s", ids, first, forced)
	}
	settle(t, s)
	if got := getApp(t, s, "/s/web"); count(got, "tasksHealthy") != 4 {
		t.Errorf("after the forced scale: %v", got)
	}
}

func TestNoLeader(t *testing.T) {
	s := Start(t)
	s.SetLeader(false)
	if info := call(t, s, "GET", "/v2/info", "").want(t, 200).obj(t); info["elected"] != false || info["leader"] != nil {
		t.Errorf("info without a leader: %v", info)
	}
	call(t, s, "GET", "/v2/leader", "").want(t, 404)
	call(t, s, "GET", "/v2/apps", "").want(t, 503)
	call(t, s, "PUT", "/v2/apps/a", `{"id": "/a", "cmd": "x"}`).want(t, 503)
	call(t, s, "GET", "/ping", "").want(t, 200)
	s.SetLeader(true)
	if l := call(t, s, "GET", "/v2/leader", "").want(t, 200).obj(t)["leader"]; !strings.HasPrefix(s.URL, "http://"+l.(string)) {
		t.Errorf("leader %v, server %s", l, s.URL)
	}
	s.NoLeaderFor(2)
	call(t, s, "GET", "/v2/deployments", "").want(t, 503)
	call(t, s, "GET", "/v2/leader", "").want(t, 404)
	call(t, s, "GET", "/v2/deployments", "").want(t, 200)
}

func TestFailTasks(t *testing.T) {
	s := Start(t)
	s.FailTasks("/s/web", "Failed to pull the image")
	dep := call(t, s, "PUT", "/v2/apps/s/web", web).want(t, 201).obj(t)["deploymentId"].(string)
	var a map[string]any
	for range 20 {
		a = getApp(t, s, "/s/web")
	}
	f, _ := a["lastTaskFailure"].(map[string]any)
	if count(a, "tasksRunning") != 0 || f == nil || f["message"] != "Failed to pull the image" || f["appId"] != "/s/web" || f["version"] != a["version"] {
		t.Fatalf("failing app: %v", a)
	}
	if !slices.Contains(s.DeploymentIDs(), dep) {
		t.Error("the deployment of a failing app ended")
	}
	s.FailTasks("/s/web", "")
	settle(t, s)
	if a := getApp(t, s, "/s/web"); count(a, "tasksHealthy") != 2 || a["lastTaskFailure"] == nil {
		t.Errorf("recovered app (keeps its last failure): %v", a)
	}
}

func TestLabelQuery(t *testing.T) {
	s := Start(t)
	call(t, s, "PUT", "/v2/apps/s/web", web).want(t, 201)
	call(t, s, "PUT", "/v2/apps/s/db", `{"id": "/s/db", "cmd": "x", "labels": {"stratastack.io/stack": "s", "stratastack.io/role": "db", "tier": "a b"}}`).want(t, 201)
	call(t, s, "PUT", "/v2/apps/t/web", `{"id": "/t/web", "cmd": "x", "labels": {"stratastack.io/stack": "t"}}`).want(t, 201)
	for _, tc := range []struct{ query, want string }{
		{`stratastack.io\/stack==s`, "/s/db /s/web"},
		{`stratastack.io\/stack==s,stratastack.io\/role==web`, "/s/web"},
		{`stratastack.io\/stack!=s`, "/t/web"},
		{`stratastack.io\/role`, "/s/db /s/web"},
		{`stratastack.io\/role in (db, web), stratastack.io\/stack notin (t)`, "/s/db /s/web"},
		{`tier==a\ b`, "/s/db"},
		{`nothing`, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			a := call(t, s, "GET", "/v2/apps?label="+urlQuery(tc.query), "").want(t, 200).obj(t)
			var ids []string
			for _, x := range a["apps"].([]any) {
				ids = append(ids, x.(map[string]any)["id"].(string))
			}
			if got := strings.Join(ids, " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer(`\`, "%5C", " ", "%20", ",", "%2C", "(", "%28", ")", "%29", "=", "%3D", "!", "%21", "/", "%2F")
	return r.Replace(s)
}

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []selector
		err  bool
	}{
		{in: "a", want: []selector{{key: "a"}}},
		{in: "a==b, c!=d", want: []selector{{"a", "==", []string{"b"}}, {"c", "!=", []string{"d"}}}},
		{in: `k\/x in (a,b\,c)`, want: []selector{{"k/x", "in", []string{"a", "b,c"}}}},
		{in: "in notin (x)", want: []selector{{"in", "notin", []string{"x"}}}},
		{in: "a/b==c", err: true},
		{in: "a==", want: []selector{{"a", "==", []string{""}}}},
		{in: "a in b", err: true},
		{in: "a in (b", err: true},
		{in: `a\`, err: true},
		{in: "", err: true},
		{in: "a,,b", err: true},
	} {
		got, err := parseSelector(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if !tc.err && !slices.EqualFunc(got, tc.want, func(a, b selector) bool {
			return a.key == b.key && a.op == b.op && slices.Equal(a.values, b.values)
		}) {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestAnswersMatchContract holds the server's own answers to the
// contract's types, strictly where Marathon's types are complete.
func TestAnswersMatchContract(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := Start(t)
	s.FailTasks("/g/bad", "boom")
	put := call(t, s, "PUT", "/v2/groups/g", `{"id": "/g", "apps": [{"id": "bad", "cmd": "x"}, `+strings.Replace(web, "/s/web", "web", 1)+`]}`).want(t, 200)
	for range 3 {
		call(t, s, "GET", "/v2/deployments", "")
	}
	conflict := call(t, s, "DELETE", "/v2/apps/g/bad", "").want(t, 409)
	s.SetLeader(false)
	noLeader := call(t, s, "GET", "/v2/info", "").want(t, 200)
	s.SetLeader(true)
	for _, tc := range []struct {
		typ    string
		raw    []byte
		strict bool
	}{
		{"DeploymentResult", put.raw, true},
		{"AppList", call(t, s, "GET", "/v2/apps?embed=apps.failures", "").want(t, 200).raw, true},
		{"GroupInfo", call(t, s, "GET", "/v2/groups?embed=group.groups&embed=group.apps.failures", "").want(t, 200).raw, true},
		{"DeploymentStepInfo[]", call(t, s, "GET", "/v2/deployments", "").want(t, 200).raw, true},
		{"MarathonInfo", call(t, s, "GET", "/v2/info", "").want(t, 200).raw, true},
		{"MarathonInfo", noLeader.raw, true},
		{"LeaderInfo", call(t, s, "GET", "/v2/leader", "").want(t, 200).raw, true},
		// The deployable trait's 409 adds "deployments" to Error.
		{"Error", conflict.raw, false},
		{"Error", call(t, s, "GET", "/v2/groups/none", "").want(t, 404).raw, true},
	} {
		validate := c.Validate
		if tc.strict {
			validate = c.ValidateStrict
		}
		if err := validate(tc.typ, tc.raw); err != nil {
			t.Errorf("%s: %v\n%s", tc.typ, err, tc.raw)
		}
	}
	if !strings.Contains(string(call(t, s, "GET", "/v2/apps?embed=apps.failures", "").raw), `"lastTaskFailure"`) {
		t.Error("no lastTaskFailure checked")
	}
}

func TestTickEvery(t *testing.T) {
	s := StartWith(t, Options{TickEvery: 2 * time.Millisecond})
	call(t, s, "PUT", "/v2/apps/s/web", web).want(t, 201)
	deadline := time.Now().Add(5 * time.Second)
	for len(s.DeploymentIDs()) > 0 || count(getApp(t, s, "/s/web"), "tasksHealthy") != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the wall clock never converged the app")
		}
		time.Sleep(5 * time.Millisecond)
		call(t, s, "GET", "/v2/deployments", "")
	}
}

func TestEmbedsNamed(t *testing.T) {
	s := Start(t)
	call(t, s, "PUT", "/v2/apps/s/web", web).want(t, 201)
	a := call(t, s, "GET", "/v2/apps", "").want(t, 200).obj(t)["apps"].([]any)[0].(map[string]any)
	for _, f := range []string{"tasksRunning", "deployments", "lastTaskFailure"} {
		if _, ok := a[f]; ok {
			t.Errorf("%s without asking for it", f)
		}
	}
	for _, e := range []string{"apps.counts", "apps.count"} {
		a := call(t, s, "GET", "/v2/apps?embed="+e, "").want(t, 200).obj(t)["apps"].([]any)[0].(map[string]any)
		if _, ok := a["tasksRunning"]; !ok {
			t.Errorf("embed=%s: no counts", e)
		}
	}
}

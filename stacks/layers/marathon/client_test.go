package marathon_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/layers/marathon"
	"github.com/stratastack/strata/stacks/layers/marathon/marathontest"
)

// client is a client of s that backs off briefly, so tests run fast.
func client(t *testing.T, s *marathontest.Server) *marathon.Client {
	t.Helper()
	c, err := marathon.NewClient(s.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Backoff, c.MaxBackoff, c.LockWait = time.Millisecond, 5*time.Millisecond, 10*time.Second
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const web = `{"id": "/s/web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 2,
  "labels": {"stratastack.io/stack": "s", "stratastack.io/role": "web"},
  "healthChecks": [{"protocol": "MESOS_TCP", "port": 8080}]}`

func TestNewClient(t *testing.T) {
	for _, tc := range []struct{ in, base, err string }{
		{in: "http://10.0.0.1:8080", base: "http://10.0.0.1:8080"},
		{in: "https://marathon.example/prefix/", base: "https://marathon.example/prefix"},
		{in: "http://user:secret@10.0.0.1:8080", base: "http://10.0.0.1:8080"},
		{in: "10.0.0.1:8080", err: "API URL"},
		{in: "http://user:secret@host:80:80", err: "API URL does not parse"},
		{in: "ftp://host", err: "must be http(s)"},
		{in: "http://host?x=1", err: "must be http(s)"},
		{in: "http://user:secret@host?x=1", err: "must be http(s)"},
	} {
		c, err := marathon.NewClient(tc.in, nil)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: %v, want %q without the password", tc.in, err, tc.err)
			}
		case err != nil || c.URL() != tc.base:
			t.Errorf("%s: %v, base %q want %q", tc.in, err, c.URL(), tc.base)
		}
	}
}

func TestBasicAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "strata" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message": "Invalid username or password."}`))
			return
		}
		w.Write([]byte(`{"leader": "m:8080"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := marathon.NewClient(strings.Replace(srv.URL, "http://", "http://strata:secret@", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := c.Leader(ctxT(t)); err != nil || l != "m:8080" {
		t.Errorf("Leader = %q, %v", l, err)
	}
	bad, _ := marathon.NewClient(strings.Replace(srv.URL, "http://", "http://strata:wrong@", 1), nil)
	_, err = bad.Leader(ctxT(t))
	var e *marathon.Error
	if !errors.As(err, &e) || e.Status != 401 || e.Message != "Invalid username or password." || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestInfoAndLeader(t *testing.T) {
	s := marathontest.Start(t)
	c := client(t, s)
	ctx := ctxT(t)
	info, err := c.Info(ctx)
	if err != nil || !info.Elected || info.Leader == "" || info.Version == "" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if l, err := c.Leader(ctx); err != nil || l != info.Leader {
		t.Errorf("Leader = %q, %v, want %q", l, err, info.Leader)
	}
	s.SetLeader(false)
	if info, err := c.Info(ctx); err != nil || info.Elected || info.Leader != "" {
		t.Errorf("Info without a leader = %+v, %v", info, err)
	}
	if _, err := c.Leader(ctx); !errors.Is(err, marathon.ErrNoLeader) || !marathon.IsNotFound(err) {
		t.Errorf("Leader without one: %v", err)
	}
}

func TestRetriesWithoutLeader(t *testing.T) {
	s := marathontest.Start(t)
	c := client(t, s)
	s.NoLeaderFor(3)
	if _, err := c.Apps(ctxT(t), nil); err != nil {
		t.Errorf("Apps after 3 answers of 503: %v", err)
	}
	c.Attempts = 2
	s.NoLeaderFor(3)
	_, err := c.Deployments(ctxT(t))
	var e *marathon.Error
	if !provisioners.IsTransient(err) || !errors.As(err, &e) || e.Status != 503 {
		t.Errorf("Deployments after 2 tries: %v, want a transient 503", err)
	}
	if n := strings.Count(strings.Join(s.Requests(), "\n"), "GET /v2/deployments"); n != 2 {
		t.Errorf("%d tries, want 2", n)
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := marathon.NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(ctxT(t)); !provisioners.IsTransient(err) || !strings.Contains(err.Error(), url) {
		t.Errorf("Info of a closed port: %v, want transient naming %s", err, url)
	}
}

func TestAppsAndGroups(t *testing.T) {
	s := marathontest.Start(t)
	c := client(t, s)
	ctx := ctxT(t)
	d1, err := c.PutApp(ctx, []byte(web), "/s/web")
	if err != nil || d1 == "" {
		t.Fatalf("PutApp = %q, %v", d1, err)
	}
	d2, err := c.PutGroup(ctx, []byte(`{"id": "/s/web2", "apps": [{"id": "a", "cmd": "x", "labels": {"stratastack.io/stack": "s"}}]}`), "/s/web2")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitDeployments(ctx, d1, d2); err != nil {
		t.Fatal(err)
	}
	if ds, err := c.Deployments(ctx); err != nil || len(ds) != 0 {
		t.Errorf("Deployments after the wait = %v, %v", ds, err)
	}
	a, err := c.App(ctx, "s/web")
	if err != nil || a.ID != "/s/web" || a.Instances != 2 || a.TasksRunning != 2 || a.TasksHealthy != 2 || len(a.HealthChecks) != 1 || a.Labels["stratastack.io/role"] != "web" {
		t.Errorf("App = %+v, %v", a, err)
	}
	if _, err := c.App(ctx, "/s/we"); !marathon.IsNotFound(err) {
		t.Errorf("App of a prefix: %v, want not found", err)
	}
	list, err := c.Apps(ctx, map[string]string{"stratastack.io/stack": "s", "stratastack.io/role": "web"})
	if err != nil || len(list) != 1 || list[0].ID != "/s/web" {
		t.Errorf("Apps by labels = %+v, %v", list, err)
	}
	if list, err := c.Apps(ctx, map[string]string{"stratastack.io/stack": "s"}); err != nil || len(list) != 2 {
		t.Errorf("Apps of the stack = %+v, %v", list, err)
	}
	g, err := c.Group(ctx, "/s")
	if err != nil || len(g.Groups) != 1 || len(g.AllApps()) != 2 || g.AllApps()[1].ID != "/s/web2/a" || g.AllApps()[1].TasksRunning != 1 {
		t.Errorf("Group = %+v, %v", g, err)
	}
	d, err := c.DeleteGroup(ctx, "/s/web2")
	if err != nil {
		t.Fatal(err)
	}
	if d, err = c.DeleteApp(ctx, "/s/web"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitDeployments(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteApp(ctx, "/s/web"); !marathon.IsNotFound(err) {
		t.Errorf("DeleteApp of a deleted app: %v", err)
	}
	if _, err := c.Group(ctx, "/s/web2"); !marathon.IsNotFound(err) {
		t.Errorf("Group of a deleted group: %v", err)
	}
}

func TestInvalidBody(t *testing.T) {
	s := marathontest.Start(t)
	_, err := client(t, s).PutApp(ctxT(t), []byte(`{"id": "/a", "cmd": "x", "instances": "3"}`), "/a")
	var e *marathon.Error
	if !errors.As(err, &e) || e.Status != 422 || len(e.Details) != 1 || e.Details[0].Path != "/instances" || provisioners.IsTransient(err) {
		t.Fatalf("PutApp of a bad body: %#v", err)
	}
	if !strings.Contains(err.Error(), "/instances: want integer") {
		t.Errorf("Error() = %q", err)
	}
}

// TestLockedWrite: a write that a running deployment locks waits for it
// and is sent again, without force.
func TestLockedWrite(t *testing.T) {
	s := marathontest.StartWith(t, marathontest.Options{DeployTicks: 4})
	c := client(t, s)
	ctx := ctxT(t)
	if _, err := c.PutApp(ctx, []byte(web), "/s/web"); err != nil {
		t.Fatal(err)
	}
	d, err := c.PutApp(ctx, []byte(strings.Replace(web, `"instances": 2`, `"instances": 3`, 1)), "/s/web")
	if err != nil {
		t.Fatal(err)
	}
	reqs := strings.Join(s.Requests(), "\n")
	if err := c.WaitDeployments(ctx, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reqs, "PUT /v2/apps/s/web?partialUpdate=false 201\nPUT /v2/apps/s/web?partialUpdate=false 409\nGET /v2/deployments 200") ||
		!strings.HasSuffix(reqs, "PUT /v2/apps/s/web?partialUpdate=false 200") || strings.Contains(reqs, "force=true") {
		t.Errorf("requests:\n%s\nwant the second PUT refused, a wait, and it again without force", reqs)
	}
	if a, _ := c.App(ctx, "/s/web"); a.TasksRunning != 3 {
		t.Errorf("app %+v", a)
	}
}

func TestForceIf(t *testing.T) {
	s := marathontest.Start(t)
	c := client(t, s)
	ctx := ctxT(t)
	s.FailTasks("/s/web", "no such image")
	if _, err := c.PutApp(ctx, []byte(web), "/s/web"); err != nil {
		t.Fatal(err)
	}
	fixed := []byte(strings.Replace(web, "sleep 1000", "sleep 2000", 1))

	// Refused: the write waits, and gives up after LockWait with the 409.
	c.LockWait = 50 * time.Millisecond
	var shown []marathon.Deployment
	_, err := c.PutApp(ctx, fixed, "/s/web", marathon.ForceIf(func(_ context.Context, ds []marathon.Deployment) (bool, error) {
		shown = ds
		return false, nil
	}))
	var e *marathon.Error
	if !errors.As(err, &e) || e.Status != 409 || len(e.Deployments) != 1 || !strings.Contains(err.Error(), "still locked") {
		t.Fatalf("PutApp refused to force: %v", err)
	}
	if len(shown) != 1 || shown[0].ID != e.Deployments[0] || !slices.Contains(shown[0].AffectedApps, "/s/web") {
		t.Errorf("ForceIf was shown %+v", shown)
	}
	if strings.Contains(strings.Join(s.Requests(), "\n"), "force=true") {
		t.Error("forced without being allowed to")
	}

	// Allowed: the write cancels the failing deployment.
	s.FailTasks("/s/web", "")
	d, err := c.PutApp(ctx, fixed, "/s/web", marathon.ForceIf(func(context.Context, []marathon.Deployment) (bool, error) { return true, nil }))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(s.Requests(), "\n"), "PUT /v2/apps/s/web?force=true&partialUpdate=false 200") {
		t.Errorf("requests %v lack the forced PUT", s.Requests())
	}
	if err := c.WaitDeployments(ctx, d); err != nil {
		t.Fatal(err)
	}
}

func TestWaitDeploymentsBounded(t *testing.T) {
	s := marathontest.Start(t)
	c := client(t, s)
	s.FailTasks("/s/web", "no such image")
	d, err := c.PutApp(ctxT(t), []byte(web), "/s/web")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = c.WaitDeployments(ctx, d)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), d) {
		t.Errorf("WaitDeployments of a deployment that never ends: %v", err)
	}
	if err := c.WaitDeployments(ctx); err != nil {
		t.Errorf("WaitDeployments of nothing: %v", err)
	}
}

func TestLabelSelector(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{map[string]string{"stratastack.io/stack": "edge-1", "stratastack.io/layer": "kubernetes.apps"},
			`stratastack.io\/layer==kubernetes.apps,stratastack.io\/stack==edge-1`},
		{map[string]string{"a b": "c,d", "x": ""}, `a\ b==c\,d,x==`},
		{map[string]string{"k": "ü=(1)"}, `k==\ü\=\(1\)`},
	} {
		if got := marathon.LabelSelector(tc.in); got != tc.want {
			t.Errorf("LabelSelector(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

package mesos

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/kubernetes"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/layers/marathon/marathontest"
	"github.com/stratastack/strata/stacks/schema"
)

// fast is the timing tests use: quick polls, failures reported at once.
func fast() timing {
	return timing{probe: 2 * time.Second, poll: time.Millisecond, maxPoll: 5 * time.Millisecond, clientLockWait: 10 * time.Second}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// hostOn reaches the mesos layer whose Marathon is s.
func hostOn(t *testing.T, s *marathontest.Server, tm timing) *host {
	t.Helper()
	c := cluster(layertest.Secrets(t), layers.Pool, map[string]cty.Value{"marathon_endpoint": cty.StringVal(s.URL)})
	h, err := reach(testCtx(t), c, tm)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// kubeOnMesos is a kubernetes layer whose roles are placed on mesos.core,
// with settings over its defaults.
func kubeOnMesos(t *testing.T, cp, workers int, over map[string]string) layers.Cluster {
	k := kubernetes.New()
	v := schema.Values{Attrs: map[string]cty.Value{}}
	for _, a := range k.Attrs() {
		v.Attrs[a.Name] = cty.NullVal(a.Type)
		if a.Default != cty.NilVal {
			v.Attrs[a.Name] = a.Default
		}
	}
	for name, s := range over {
		v.Attrs[name] = cty.StringVal(s)
	}
	c := layers.Cluster{
		Stack: "edge-1", Kind: kubernetes.Kind, Name: "apps", Version: k.DefaultVersion(), Settings: v,
		Members:    map[string][]layers.Member{},
		Placements: map[string]string{kubernetes.ControlPlane: Kind, kubernetes.Worker: Kind},
		Secrets:    layertest.Secrets(t),
	}
	for role, n := range map[string]int{kubernetes.ControlPlane: cp, kubernetes.Worker: workers} {
		for i := range n {
			c.Members[role] = append(c.Members[role], layers.Member{Name: "edge-1-apps-" + role + "-" + strconv.Itoa(i), Index: i})
		}
	}
	return c
}

// render renders a role of c for mesos.core, labelled as the plan does.
func render(t *testing.T, c layers.Cluster, role string) []layers.Object {
	t.Helper()
	objs, err := kubernetes.New().RenderHosted(context.Background(), layers.Hosted{
		Cluster: c, Role: role, Count: len(c.Members[role]), HostKind: Kind, HostName: "core"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range objs {
		objs[i].Labels = c.Labels(role)
	}
	return objs
}

func TestMarathonEndpoint(t *testing.T) {
	sec := layertest.Secrets(t)
	with := func(placement, endpoint string) layers.Cluster {
		over := map[string]cty.Value{}
		if endpoint != "" {
			over["marathon_endpoint"] = cty.StringVal(endpoint)
		}
		return cluster(sec, placement, over)
	}
	noAddress := with(layers.Pool, "")
	noAddress.Members[RoleMaster] = []layers.Member{{Name: "edge-1-infra-0"}}
	noMasters := with(layers.Pool, "")
	delete(noMasters.Members, RoleMaster)
	for _, tc := range []struct {
		name  string
		c     layers.Cluster
		want  string
		err   string
		notUp bool
	}{
		{"first master by index", with(layers.Pool, ""), "http://10.0.0.10:8080", "", false},
		{"host", with(layers.Pool, "marathon.example"), "http://marathon.example:8080", "", false},
		{"host and port", with(layers.Pool, "10.1.0.5:9090"), "http://10.1.0.5:9090", "", false},
		{"IPv6", with(layers.Pool, "fd00::5"), "http://[fd00::5]:8080", "", false},
		{"IPv6 and port", with(layers.Pool, "[fd00::5]:9090"), "http://[fd00::5]:9090", "", false},
		{"URL", with(layers.Pool, "https://m.example/marathon"), "https://m.example/marathon", "", false},
		{"masters hosted, endpoint set", with("kubernetes", "m.example"), "http://m.example:8080", "", false},
		{"masters hosted, no endpoint", with("kubernetes", ""), "", "set marathon_endpoint", false},
		{"master without an address", noAddress, "", "edge-1-infra-0 has no address yet", true},
		{"no masters", noMasters, "", "has no master", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := marathonEndpoint(tc.c)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Errorf("= %q, %v, want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, layers.ErrNotUp) != tc.notUp {
				t.Errorf("= %q, %v, want an error with %q (ErrNotUp %v)", got, err, tc.err, tc.notUp)
			}
		})
	}
}

func TestReadiness(t *testing.T) {
	s := marathontest.Start(t)
	s.SetLeader(false)
	c := cluster(layertest.Secrets(t), layers.Pool, map[string]cty.Value{"marathon_endpoint": cty.StringVal(s.URL)})
	_, err := New().Host(testCtx(t), c)
	if !provisioners.IsTransient(err) || !strings.Contains(err.Error(), s.URL) || !strings.Contains(err.Error(), "There is no leader") {
		t.Fatalf("Host without a leader: %v, want transient naming %s and the answer", err, s.URL)
	}
	s.SetLeader(true)
	if _, err := New().Host(testCtx(t), c); err != nil {
		t.Fatalf("Host with a leader: %v", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	c.Settings.Attrs["marathon_endpoint"] = cty.StringVal(closed.URL)
	if _, err := New().Host(testCtx(t), c); !provisioners.IsTransient(err) || !strings.Contains(err.Error(), closed.URL) {
		t.Errorf("Host of a closed port: %v", err)
	}

	locked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"message": "Invalid username or password."}`))
	}))
	t.Cleanup(locked.Close)
	c.Settings.Attrs["marathon_endpoint"] = cty.StringVal(locked.URL)
	if _, err := New().Host(testCtx(t), c); err == nil || provisioners.IsTransient(err) || !strings.Contains(err.Error(), "Invalid username") {
		t.Errorf("Host of a Marathon refusing us: %v, want a lasting error", err)
	}
}

// TestHostedRoles is the engine's path for a kubernetes layer on mesos:
// submit each role, wait, list; re-submit; scale; remove everything.
func TestHostedRoles(t *testing.T) {
	s := marathontest.Start(t)
	h := hostOn(t, s, fast())
	ctx := testCtx(t)
	kc := kubeOnMesos(t, 3, 2, nil)
	cp, workers := render(t, kc, kubernetes.ControlPlane), render(t, kc, kubernetes.Worker)
	for _, tc := range []struct {
		role string
		objs []layers.Object
		apps []string
	}{
		{kubernetes.ControlPlane, cp, []string{"/edge-1/apps/control-plane/init", "/edge-1/apps/control-plane/join"}},
		{kubernetes.Worker, workers, []string{"/edge-1/apps/worker"}},
	} {
		if err := h.Submit(ctx, tc.objs); err != nil {
			t.Fatalf("Submit %s: %v", tc.role, err)
		}
		if err := h.Wait(ctx, tc.objs); err != nil {
			t.Fatalf("Wait %s: %v", tc.role, err)
		}
		placed, err := h.List(ctx, tc.objs[0].Labels)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range placed {
			ids = append(ids, p.ID)
			if p.Kind != "app" || p.State != provisioners.StateRunning || p.Labels[layers.LabelRole] != tc.role || p.Labels[layers.LabelLayer] != "kubernetes.apps" {
				t.Errorf("%s: placed %+v", tc.role, p)
			}
		}
		if !slices.Equal(ids, tc.apps) {
			t.Errorf("%s: listed %v, want %v", tc.role, ids, tc.apps)
		}
	}
	launched := func() [3]int {
		return [3]int{s.Launched("/edge-1/apps/control-plane/init"), s.Launched("/edge-1/apps/control-plane/join"), s.Launched("/edge-1/apps/worker")}
	}
	if got := launched(); got != [3]int{1, 2, 2} {
		t.Fatalf("launched %v", got)
	}

	// The same objects again (a re-run): nothing changes.
	if err := h.Submit(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if err := h.Submit(ctx, workers); err != nil {
		t.Fatal(err)
	}
	if got := launched(); got != [3]int{1, 2, 2} || len(s.DeploymentIDs()) != 0 {
		t.Errorf("re-submit: launched %v, deployments %v", got, s.DeploymentIDs())
	}
	// More workers and control planes: only the difference starts.
	kc = kubeOnMesos(t, 5, 4, nil)
	cp, workers = render(t, kc, kubernetes.ControlPlane), render(t, kc, kubernetes.Worker)
	for _, objs := range [][]layers.Object{cp, workers} {
		if err := h.Submit(ctx, objs); err != nil {
			t.Fatal(err)
		}
		if err := h.Wait(ctx, objs); err != nil {
			t.Fatal(err)
		}
	}
	if got := launched(); got != [3]int{1, 4, 4} {
		t.Errorf("scaled: launched %v, want [1 4 4]", got)
	}

	all, err := h.List(ctx, map[string]string{layers.LabelStack: "edge-1"})
	if err != nil || len(all) != 3 {
		t.Fatalf("List of the stack = %v, %v", all, err)
	}
	for _, p := range all {
		if err := h.Remove(ctx, p); err != nil {
			t.Fatalf("Remove %s: %v", p.ID, err)
		}
	}
	if apps, groups := s.AppIDs(), s.GroupIDs(); len(apps)+len(groups) != 0 {
		t.Errorf("left in Marathon: apps %v groups %v", apps, groups)
	}
	if err := h.Remove(ctx, all[0]); err != nil {
		t.Errorf("Remove of what is gone: %v", err)
	}
	if strings.Contains(strings.Join(s.Requests(), "\n"), "force=true") {
		t.Error("forced without a failing deployment")
	}
}

// TestLockedAndLeaderless: a submit that a running deployment locks (409)
// waits for it; answers without a leader (503) are retried.
func TestLockedAndLeaderless(t *testing.T) {
	s := marathontest.StartWith(t, marathontest.Options{DeployTicks: 5})
	h := hostOn(t, s, fast())
	ctx := testCtx(t)
	two, four := render(t, kubeOnMesos(t, 1, 2, nil), kubernetes.Worker), render(t, kubeOnMesos(t, 1, 4, nil), kubernetes.Worker)
	if err := h.Submit(ctx, two); err != nil {
		t.Fatal(err)
	}
	s.NoLeaderFor(2)
	if err := h.Submit(ctx, four); err != nil {
		t.Fatalf("Submit while locked and leaderless: %v", err)
	}
	if err := h.Wait(ctx, four); err != nil {
		t.Fatal(err)
	}
	var puts []string
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, "PUT ") {
			puts = append(puts, r[strings.LastIndexByte(r, ' ')+1:])
		}
	}
	if got := strings.Join(puts, " "); got != "201 503 503 409 200" {
		t.Errorf("PUTs answered %s, want 201 503 503 409 200: leaderless twice, locked, then through", got)
	}
	if strings.Contains(strings.Join(s.Requests(), "\n"), "force=true") {
		t.Error("forced past a deployment that was not failing")
	}
	if s.Launched("/edge-1/apps/worker") != 4 {
		t.Errorf("launched %d, want 4", s.Launched("/edge-1/apps/worker"))
	}
}

// TestFailingApps: an app whose tasks fail is reported with its reason
// and listed in error; a fixed definition replaces the failing deployment
// (force), and a failing app is removed (force).
func TestFailingApps(t *testing.T) {
	s := marathontest.Start(t)
	h := hostOn(t, s, fast())
	ctx := testCtx(t)
	const reason = "Failed to launch container: no such image"
	for _, tc := range []struct {
		name, role, failing string
		fix                 bool
	}{
		{"worker, then fixed", kubernetes.Worker, "/edge-1/apps/worker", true},
		{"control plane init, then removed", kubernetes.ControlPlane, "/edge-1/apps/control-plane/init", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := kubeOnMesos(t, 2, 2, nil)
			objs := render(t, kc, tc.role)
			s.FailTasks(tc.failing, reason)
			if err := h.Submit(ctx, objs); err != nil {
				t.Fatal(err)
			}
			err := h.Wait(ctx, objs)
			if err == nil || !strings.Contains(err.Error(), tc.failing) || !strings.Contains(err.Error(), reason) {
				t.Fatalf("Wait = %v, want the app and the reason", err)
			}
			placed, err := h.List(ctx, kc.Labels(tc.role))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range placed {
				if want := map[bool]string{true: provisioners.StateError, false: provisioners.StatePending}[p.ID == tc.failing]; p.State != want {
					t.Errorf("%s is %s, want %s", p.ID, p.State, want)
				}
			}
			if tc.fix {
				fixed := render(t, kubeOnMesos(t, 2, 2, map[string]string{"node_image": "registry.example/kind-node:v1.37.2"}), tc.role)
				if err := h.Submit(ctx, fixed); err != nil {
					t.Fatal(err)
				}
				s.FailTasks(tc.failing, "") // the new image starts
				if err := h.Wait(ctx, fixed); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(strings.Join(s.Requests(), "\n"), "PUT /v2/apps/edge-1/apps/worker?force=true&partialUpdate=false 200") {
					t.Error("the fix did not replace the failing deployment")
				}
			}
			for _, p := range placed {
				if err := h.Remove(ctx, p); err != nil {
					t.Fatalf("Remove %s: %v", p.ID, err)
				}
			}
			if apps, groups := s.AppIDs(), s.GroupIDs(); len(apps)+len(groups) != 0 {
				t.Errorf("left: apps %v groups %v", apps, groups)
			}
			s.FailTasks(tc.failing, "")
		})
	}
}

func TestWaitBounded(t *testing.T) {
	s := marathontest.Start(t)
	tm := fast()
	tm.failGrace = time.Hour
	h := hostOn(t, s, tm)
	objs := render(t, kubeOnMesos(t, 1, 1, nil), kubernetes.Worker)
	s.FailTasks("/edge-1/apps/worker", "boom")
	if err := h.Submit(testCtx(t), objs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := h.Wait(ctx, objs)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "app /edge-1/apps/worker failing: boom") {
		t.Errorf("Wait past its deadline: %v", err)
	}
}

func TestRefusedObjects(t *testing.T) {
	s := marathontest.Start(t)
	h := hostOn(t, s, fast())
	ctx := testCtx(t)
	bad := []layers.Object{{Format: "kubernetes", Kind: "StatefulSet", Name: "x", Body: []byte("{}")}}
	if err := h.Submit(ctx, bad); err == nil {
		t.Error("Submit took a Kubernetes object")
	}
	if err := h.Wait(ctx, render(t, kubeOnMesos(t, 1, 1, nil), kubernetes.Worker)); err == nil || !strings.Contains(err.Error(), "never submitted") {
		t.Errorf("Wait for what was never submitted: %v", err)
	}
	invalid := []layers.Object{{Format: "marathon", Kind: "app", Name: "/x", Body: []byte(`{"id": "/x", "cmd": "y", "instances": "2"}`)}}
	if err := h.Submit(ctx, invalid); err == nil || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "/instances") {
		t.Errorf("Submit of a body Marathon refuses: %v", err)
	}
	if err := h.Remove(ctx, layers.Placed{ID: "/x", Kind: "pod"}); err == nil {
		t.Error("Remove took a pod")
	}
}

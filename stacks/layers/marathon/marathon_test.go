package marathon

import (
	"strings"
	"testing"
)

func TestAppCheck(t *testing.T) {
	ok := App{ID: "/s/l/app", CPUs: 1, Mem: 128, Instances: 1, Cmd: "sleep 1"}
	cases := []struct {
		name string
		edit func(*App)
		want string
	}{
		{"valid", func(*App) {}, ""},
		{"no id", func(a *App) { a.ID = "" }, "no id"},
		{"bad id", func(a *App) { a.ID = "/s/Upper" }, "not a valid Marathon path id"},
		{"cmd and args", func(a *App) { a.Args = []string{"x"} }, "mutually exclusive"},
		{"nothing to run", func(a *App) { a.Cmd = "" }, "needs cmd, args, or a container image"},
		{"zero mem", func(a *App) { a.Mem = 0 }, "must be positive"},
		{"bad container", func(a *App) { a.Container = &Container{Type: "RKT"} }, "neither MESOS nor DOCKER"},
		{"empty image", func(a *App) { a.Container = &Container{Type: "DOCKER", Docker: &Docker{}} }, "image is empty"},
		{"bad volume", func(a *App) {
			a.Container = &Container{Type: "DOCKER", Docker: &Docker{Image: "x"}, Volumes: []Volume{{ContainerPath: "/x", Mode: "rw"}}}
		}, "mode RO|RW"},
		{"bad health", func(a *App) { a.HealthChecks = []HealthCheck{{Protocol: "PING"}} }, "unknown health check protocol"},
		{"command health without command", func(a *App) { a.HealthChecks = []HealthCheck{{Protocol: "COMMAND"}} }, "without a command"},
		{"bad network", func(a *App) { a.Networks = []Network{{Mode: "bridge"}} }, "unknown network mode"},
		{"secret without source", func(a *App) { a.Secrets = map[string]Secret{"x": {}} }, "has no source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := ok
			tc.edit(&a)
			err := a.Check()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Check() = %v, want %q", err, tc.want)
			}
		})
	}
	g := Group{ID: "/s/l", Apps: []App{ok, {ID: "/other/app", CPUs: 1, Mem: 1, Cmd: "x"}}}
	if err := g.Check(); err == nil || !strings.Contains(err.Error(), "not under group") {
		t.Fatalf("group with a foreign app: %v", err)
	}
}

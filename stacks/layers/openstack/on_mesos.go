package openstack

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/marathon"
)

// doneFile marks a one-time step as finished; its COMMAND health check
// reads it, so apps that depend on the step deploy only after it.
const doneFile = "/tmp/strata-done"

// fileEnv is the environment variable a config file travels in.
func fileEnv(p string) string {
	return "STRATA_FILE_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(configKey(p)))
}

// mib converts a kubernetes size (Gi) to MiB.
func mib(size string) int {
	n, err := strconv.Atoi(strings.TrimSuffix(size, "Gi"))
	if err != nil {
		return 1024
	}
	return n * 1024
}

// renderOnMesos renders a role as one Marathon group,
// /<stack>/<layer>/<role>, of one app per process. Marathon has no
// ConfigMaps or Secrets: files and secrets travel in each app's
// environment, so the group is sensitive.
func (p *plan) renderOnMesos(role string, ws []workload) ([]layers.Object, error) {
	files := p.roleFiles(role)
	names := roleSecrets(role, true)
	vals := p.secrets(names)
	group := "/" + p.c.Stack + "/" + p.c.Name + "/" + role

	// What "depends on workload W" waits for: its one-time steps when it
	// has any (the bootstrap), else its apps.
	ready := map[string][]string{}
	for _, w := range ws {
		for _, pr := range w.init {
			ready[w.name] = []string{group + "/" + pr.name}
		}
		if len(w.init) == 0 {
			for _, pr := range w.procs {
				ready[w.name] = append(ready[w.name], group+"/"+pr.name)
			}
		}
	}
	g := marathon.Group{ID: group}
	for _, w := range ws {
		var deps []string
		for _, d := range w.deps {
			deps = append(deps, ready[d]...)
		}
		prev := deps
		for _, pr := range w.init {
			g.Apps = append(g.Apps, p.app(group, w, pr, 1, prev, files, names, vals))
			prev = []string{group + "/" + pr.name}
		}
		for _, pr := range w.procs {
			n := w.replicas
			if w.kind == "Job" {
				n = 1
			}
			g.Apps = append(g.Apps, p.app(group, w, pr, n, prev, files, names, vals))
		}
	}
	if err := g.Check(); err != nil {
		return nil, fmt.Errorf("openstack: %w", err)
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, err
	}
	return []layers.Object{{Format: "marathon", Kind: "group", Name: group, Body: append(b, '\n'), Sensitive: true}}, nil
}

// appLabels are a Marathon app's labels: the stack's, and its workload.
func (p *plan) appLabels(role, workload string) map[string]string {
	l := p.c.Labels(role)
	l["stratastack.io/workload"] = workload
	return l
}

func (p *plan) app(group string, w workload, pr proc, instances int, deps []string, files map[string]file, roleNames []string, vals map[string]string) marathon.App {
	a := marathon.App{
		ID:           group + "/" + pr.name,
		CPUs:         pr.cpus,
		Mem:          pr.mem,
		Instances:    instances,
		Networks:     []marathon.Network{{Mode: "host"}},
		Constraints:  [][]string{{"hostname", "UNIQUE"}},
		Labels:       p.appLabels(strings.TrimPrefix(path.Base(group), "/"), w.name),
		Dependencies: deps,
		Env:          map[string]any{},
	}
	dk := &marathon.Docker{Image: pr.image, Privileged: pr.privileged}
	kolla := strings.HasPrefix(pr.image, KollaRegistry)
	if kolla {
		// The command writes the config files into /etc before it starts
		// the service, which the Kolla images' service users may not.
		dk.Parameters = append(dk.Parameters, marathon.Parameter{Key: "user", Value: "root"})
	}
	if w.host {
		dk.Parameters = append(dk.Parameters, marathon.Parameter{Key: "pid", Value: "host"})
	}
	c := &marathon.Container{Type: "DOCKER", Docker: dk}

	var pre []string
	if pr.hostIP {
		pre = append(pre, `export HOST_IP="$(hostname -I | awk '{print $1}')"`)
	}
	made := map[string]bool{}
	mkdir := func(dir string) {
		if !made[dir] {
			made[dir] = true
			pre = append(pre, "mkdir -p "+dir)
		}
	}
	for _, f := range pr.files {
		env := fileEnv(f)
		a.Env[env] = files[f].content
		mkdir(path.Dir(f))
		pre = append(pre, fmt.Sprintf(`printf '%%s' "$%s" > %s`, env, f))
	}
	for _, d := range pr.secretDirs {
		mkdir(d.dir)
		for _, f := range d.files {
			a.Env[f[1]] = vals[f[1]]
			pre = append(pre, fmt.Sprintf(`printf '%%s' "$%s" > %s/%s`, f[1], d.dir, f[0]))
		}
		pre = append(pre, "chmod 0700 "+d.dir)
	}
	for _, s := range pr.scratch {
		mkdir(s)
	}
	for _, s := range pr.secretEnv {
		a.Env[s] = vals[s]
	}
	if pr.allSecrets {
		for _, s := range roleNames {
			a.Env[s] = vals[s]
		}
	}
	for _, e := range procEnv(pr, files) {
		a.Env[e.Name] = expand(e.Value, vals)
	}
	if pr.script != "" {
		script := pr.script
		if pr.done {
			script = "{ " + script + "; } && touch " + doneFile + " && exec sleep infinity"
		}
		a.Cmd = strings.Join(append(pre, script), " && ")
	} else {
		a.Args = pr.args
	}
	if len(a.Env) == 0 {
		a.Env = nil
	}

	if pr.data != "" {
		// A local persistent volume, mapped into the Docker container.
		c.Volumes = append(c.Volumes,
			marathon.Volume{ContainerPath: "data", Mode: "RW", Persistent: &marathon.Persistent{Size: mib(w.dataSize)}},
			marathon.Volume{ContainerPath: pr.data, HostPath: "data", Mode: "RW"})
		a.UpgradeStrategy = &marathon.UpgradeStrategy{MinimumHealthCapacity: 0, MaximumOverCapacity: 0}
		a.UnreachableStrategy = "disabled"
	}
	for _, h := range pr.hostPaths {
		if h.bidirection {
			// Marathon volumes have no propagation setting; docker's has.
			dk.Parameters = append(dk.Parameters, marathon.Parameter{Key: "volume", Value: h.path + ":" + h.path + ":shared"})
			continue
		}
		c.Volumes = append(c.Volumes, marathon.Volume{ContainerPath: h.path, HostPath: h.path, Mode: "RW"})
	}
	a.Container = c

	switch {
	case pr.done:
		a.HealthChecks = []marathon.HealthCheck{{Protocol: "COMMAND", Command: &marathon.Cmd{Value: "test -f " + doneFile},
			GracePeriodSeconds: 3600, IntervalSeconds: 30, TimeoutSeconds: 10, MaxConsecutiveFailures: 0}}
	case pr.port != 0:
		a.HealthChecks = []marathon.HealthCheck{{Protocol: "MESOS_TCP", Port: pr.port,
			GracePeriodSeconds: 600, IntervalSeconds: 30, TimeoutSeconds: 10, MaxConsecutiveFailures: 3}}
	}
	return a
}

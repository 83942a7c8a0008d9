package marathontest

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// change is what one write asks for, applied as one deployment.
type change struct {
	puts   []put
	stops  []string          // apps to remove
	groups map[string][]any  // groups to make (when missing) -> dependencies
	deps   map[string]bool   // groups whose dependencies the write sets
	drops  []string          // groups to remove
	seen   map[string]string // ids the write names -> JSON path, for duplicates
}

type put struct {
	id     string
	def    map[string]any
	action string // StartApplication, ScaleApplication, RestartApplication, "" for no change
}

func newChange() *change {
	return &change{groups: map[string][]any{}, deps: map[string]bool{}, seen: map[string]string{}}
}

// ancestors adds the groups above id, which Marathon makes as needed.
func (ch *change) ancestors(id string) {
	for g := parent(id); g != "/"; g = parent(g) {
		if _, ok := ch.groups[g]; !ok {
			ch.groups[g] = nil
		}
	}
}

// normalize drops what a definition may carry but Marathon sets itself,
// and fills in the instance count's default (app.raml: 1).
func normalize(def map[string]any) {
	delete(def, "version")
	delete(def, "versionInfo")
	if _, ok := def["instances"]; !ok {
		def["instances"] = json.Number("1")
	}
}

func instancesOf(def map[string]any) int {
	n, _ := def["instances"].(json.Number).Int64()
	return int(n)
}

// action says what putting def as app id does: start it, scale it (only
// the count changed), restart it (anything else changed) or nothing.
func (s *Server) action(id string, def map[string]any) string {
	old := s.apps[id]
	switch {
	case old == nil:
		return "StartApplication"
	case !sameBut(old.def, def, "instances"):
		return "RestartApplication"
	case instancesOf(def) != old.instances:
		return "ScaleApplication"
	}
	return ""
}

// sameBut compares two definitions but for one field; encoding/json
// writes map keys sorted, so equal maps encode alike.
func sameBut(a, b map[string]any, field string) bool {
	a, b = maps.Clone(a), maps.Clone(b)
	delete(a, field)
	delete(b, field)
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// newApp makes app id of its definition, as of version v.
func newApp(id string, def map[string]any, v string) *app {
	a := &app{id: id, version: v, configAt: v}
	a.define(def)
	return a
}

func (a *app) define(def map[string]any) {
	a.def = def
	a.instances = instancesOf(def)
	hc, _ := def["healthChecks"].([]any)
	a.health = len(hc) > 0
	a.deps = nil
	deps, _ := def["dependencies"].([]any)
	for _, d := range deps {
		if d, ok := d.(string); ok {
			a.deps = append(a.deps, resolve(parent(a.id), d))
		}
	}
	a.labels = map[string]string{}
	labels, _ := def["labels"].(map[string]any)
	for k, v := range labels {
		if v, ok := v.(string); ok {
			a.labels[k] = v
		}
	}
}

// commit applies ch unless running deployments touch an app it changes:
// then it returns their ids, or with force cancels them first. It returns
// the id and version of the deployment, which is listed only when ch
// changes something.
func (s *Server) commit(ch *change, force bool) (id, version string, blocking []string) {
	var actions []action
	for _, p := range ch.puts {
		if p.action != "" {
			actions = append(actions, action{p.action, p.id})
		}
	}
	for _, id := range ch.stops {
		actions = append(actions, action{"StopApplication", id})
	}
	slices.SortFunc(actions, func(x, y action) int { return strings.Compare(x.app, y.app) })
	touched := map[string]bool{}
	for _, a := range actions {
		touched[a.app] = true
	}
	for _, d := range s.deployments {
		if slices.ContainsFunc(d.apps(), func(app string) bool { return touched[app] }) {
			blocking = append(blocking, d.id)
		}
	}
	if len(blocking) > 0 && !force {
		return "", "", blocking
	}
	s.deployments = slices.DeleteFunc(s.deployments, func(d *deployment) bool { return slices.Contains(blocking, d.id) })

	version = s.stamp()
	for _, gid := range slices.Sorted(maps.Keys(ch.groups)) {
		g := s.groups[gid]
		if g == nil {
			g = &group{id: gid}
			s.groups[gid] = g
		}
		if ch.deps[gid] {
			g.deps = ch.groups[gid]
		}
		g.version = version
	}
	for _, p := range ch.puts {
		s.put(p, version)
	}
	for _, id := range ch.stops {
		delete(s.apps, id)
	}
	for _, gid := range ch.drops {
		delete(s.groups, gid)
	}
	id = s.newID()
	if len(actions) > 0 {
		s.deployments = append(s.deployments, &deployment{id: id, version: version, started: s.tick, actions: actions})
	}
	return id, version, nil
}

func (s *Server) put(p put, version string) {
	old := s.apps[p.id]
	switch p.action {
	case "StartApplication":
		s.apps[p.id] = newApp(p.id, p.def, version)
	case "RestartApplication":
		old.define(p.def)
		old.version, old.configAt = version, version
		old.tasks = nil // every task is replaced (no upgrade strategy here)
	case "ScaleApplication":
		old.define(p.def)
		old.version = version
		// killSelection's default, YOUNGEST_FIRST.
		if len(old.tasks) > old.instances {
			old.tasks = old.tasks[:old.instances]
		}
	}
}

// removeUnder adds to ch the removal of everything under group gid, and
// of gid itself unless it is the root.
func (s *Server) removeUnder(ch *change, gid string) {
	for _, id := range slices.Sorted(maps.Keys(s.apps)) {
		if under(id, gid) {
			ch.stops = append(ch.stops, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.groups)) {
		if id != "/" && under(id, gid) {
			ch.drops = append(ch.drops, id)
		}
	}
}

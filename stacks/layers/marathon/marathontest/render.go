package marathontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/stratastack/strata/stacks/layers/marathon/contract"
)

// embeds are the parts of an app an answer carries beside its definition.
type embeds struct {
	apps, groups                  bool // groups only
	counts, deployments, failures bool
}

// appEmbeds reads GET /v2/apps's embed values. apps.raml says counts are
// embedded by default "but this will change" and asks clients to name
// every embed: this server embeds only what is named, so a client that
// forgets is caught. Its enum spells "apps.count", its description
// "apps.counts": both are taken. Values outside both are refused.
func appEmbeds(values []string) (embeds, error) {
	var e embeds
	for _, v := range values {
		switch v {
		case "apps.counts", "apps.count":
			e.counts = true
		case "apps.deployments", "apps.tasks": // apps.tasks "automatically sets apps.deployments"
			e.deployments = true
		case "apps.lastTaskFailure":
			e.failures = true
		case "apps.failures":
			e.counts, e.deployments, e.failures = true, true, true
		case "apps.readiness", "apps.taskStats": // accepted, not modelled
		default:
			return e, fmt.Errorf("unknown embed parameter %q", v)
		}
	}
	return e, nil
}

// groupEmbeds reads GET /v2/groups's embed values: none means
// group.groups and group.apps; unknown ones are ignored (groups.raml).
func groupEmbeds(values []string) embeds {
	if len(values) == 0 {
		return embeds{apps: true, groups: true}
	}
	var e embeds
	for _, v := range values {
		switch v {
		case "group.groups":
			e.groups = true
		case "group.apps":
			e.apps = true
		case "group.apps.counts", "group.apps.count":
			e.apps, e.counts = true, true
		case "group.apps.deployments", "group.apps.tasks":
			e.apps, e.deployments = true, true
		case "group.apps.lastTaskFailure":
			e.apps, e.failures = true, true
		case "group.apps.failures":
			e.apps, e.counts, e.deployments, e.failures = true, true, true, true
		}
	}
	return e
}

// appJSON is an app as AppInfo: its definition, version and what e asks.
func (s *Server) appJSON(a *app, e embeds) map[string]any {
	out := maps.Clone(a.def)
	out["id"] = a.id
	out["version"] = a.version
	out["versionInfo"] = map[string]any{"lastScalingAt": a.version, "lastConfigChangeAt": a.configAt}
	if e.counts {
		staged, running, healthy := a.counts()
		out["tasksStaged"], out["tasksRunning"], out["tasksHealthy"], out["tasksUnhealthy"] = staged, running, healthy, 0
	}
	if e.deployments {
		ids := []map[string]string{}
		for _, d := range s.deployments {
			if slices.Contains(d.apps(), a.id) {
				ids = append(ids, map[string]string{"id": d.id})
			}
		}
		out["deployments"] = ids
	}
	if e.failures && a.failure != nil {
		out["lastTaskFailure"] = a.failure
	}
	return out
}

// groupJSON is group id as GroupInfo, its groups as deep as e asks.
func (s *Server) groupJSON(id string, e embeds) map[string]any {
	g := s.groups[id]
	out := map[string]any{"id": id, "version": g.version}
	if g.deps != nil {
		out["dependencies"] = g.deps
	}
	if e.apps {
		apps := []any{}
		for _, aid := range children(s.apps, id) {
			apps = append(apps, s.appJSON(s.apps[aid], e))
		}
		out["apps"] = apps
	}
	if e.groups {
		groups := []any{}
		for _, gid := range children(s.groups, id) {
			groups = append(groups, s.groupJSON(gid, e))
		}
		out["groups"] = groups
	}
	return out
}

// json is the deployment as DeploymentStepInfo: one step of all actions.
func (d *deployment) json() map[string]any {
	actions := make([]any, len(d.actions))
	current := make([]any, len(d.actions))
	for i, a := range d.actions {
		actions[i] = map[string]any{"action": a.name, "app": a.app}
		current[i] = map[string]any{"action": a.name, "app": a.app, "readinessCheckResults": []any{}}
	}
	return map[string]any{
		"id": d.id, "version": d.version,
		"affectedApps": d.apps(), "affectedPods": []string{},
		"steps":          []any{map[string]any{"actions": actions}},
		"currentActions": current, "currentStep": 1, "totalSteps": 1,
	}
}

// info answers GET /v2/info: the contract's example, saying this is
// marathontest and who leads (the address asked, when elected).
func (s *Server) info(w http.ResponseWriter, r *http.Request, elected bool) {
	raw, err := contract.Example("info.json")
	var m map[string]any
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		err = dec.Decode(&m)
	}
	if err != nil {
		refuse(w, http.StatusInternalServerError, err.Error())
		return
	}
	m["version"] = "1.11.24"
	m["buildref"] = "marathontest: a test server, not Marathon"
	m["elected"] = elected
	delete(m, "leader")
	delete(m, "frameworkId")
	if elected {
		m["leader"] = r.Host
		m["frameworkId"] = "marathontest-framework-0000"
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		if n, err := strconv.Atoi(port); err == nil {
			m["http_config"].(map[string]any)["http_port"] = n
		}
	}
	reply(w, http.StatusOK, m)
}

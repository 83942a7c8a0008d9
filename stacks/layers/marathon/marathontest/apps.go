package marathontest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("pong\n"))
	})
	m.HandleFunc("GET /v2/info", func(w http.ResponseWriter, r *http.Request) { s.info(w, r, true) })
	m.HandleFunc("GET /v2/leader", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]string{"leader": r.Host})
	})
	m.HandleFunc("GET /v2/apps", s.listApps)
	m.HandleFunc("GET /v2/apps/{id...}", func(w http.ResponseWriter, r *http.Request) {
		refuse(w, http.StatusNotImplemented, "marathontest does not serve GET /v2/apps/{id}: apps.raml types its answer as the app list; use GET /v2/apps?id=")
	})
	m.HandleFunc("PUT /v2/apps/{id...}", s.putApp)
	m.HandleFunc("DELETE /v2/apps/{id...}", s.deleteApp)
	m.HandleFunc("GET /v2/groups", s.getGroup)
	m.HandleFunc("GET /v2/groups/{id...}", s.getGroup)
	m.HandleFunc("PUT /v2/groups", s.putGroup)
	m.HandleFunc("PUT /v2/groups/{id...}", s.putGroup)
	m.HandleFunc("DELETE /v2/groups/{id...}", s.deleteGroup)
	m.HandleFunc("GET /v2/deployments", s.listDeployments)
	s.mux = m
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e, err := appEmbeds(q["embed"])
	if err != nil {
		refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	var sels []selector
	if q.Has("label") {
		if sels, err = parseSelector(q.Get("label")); err != nil {
			refuse(w, http.StatusBadRequest, "Invalid label selector: "+err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	apps := []any{}
	for _, id := range slices.Sorted(maps.Keys(s.apps)) {
		a := s.apps[id]
		cmd, _ := a.def["cmd"].(string)
		if !strings.Contains(id, q.Get("id")) || !strings.Contains(cmd, q.Get("cmd")) || !matchAll(sels, a.labels) {
			continue
		}
		apps = append(apps, s.appJSON(a, e))
	}
	reply(w, http.StatusOK, map[string]any{"apps": apps})
}

func (s *Server) putApp(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	body, ok := s.readBody(w, r, "App")
	if !ok {
		return
	}
	if bid, _ := body["id"].(string); resolve(parent(id), bid) != id {
		unprocessable(w, "/id", fmt.Sprintf("the app id %s does not match the path's %s", bid, id))
		return
	}
	if d := appProblems(body, ""); d != nil {
		refuse(w, http.StatusUnprocessableEntity, "Object is not valid", d...)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[id] != nil {
		refuse(w, http.StatusConflict, fmt.Sprintf("A group with id [%s] already exists.", id))
		return
	}
	old := s.apps[id]
	def := body
	// apps.raml: partialUpdate defaults to true, "a patch like semantic".
	if old != nil && q.Get("partialUpdate") != "false" {
		def = maps.Clone(old.def)
		maps.Copy(def, body)
	}
	def["id"] = id
	normalize(def)
	ch := newChange()
	ch.ancestors(id)
	ch.puts = []put{{id, def, s.action(id, def)}}
	status := http.StatusOK
	if old == nil {
		status = http.StatusCreated
	}
	s.commitReply(w, ch, q.Get("force") == "true", status)
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[id] == nil {
		refuse(w, http.StatusNotFound, fmt.Sprintf("App '%s' does not exist", id))
		return
	}
	ch := newChange()
	ch.stops = []string{id}
	s.commitReply(w, ch, r.URL.Query().Get("force") == "true", http.StatusOK)
}

// commitReply commits ch and answers as the deployable trait says: the
// DeploymentResult and Marathon-Deployment-Id, or 409 naming the
// deployments that lock what ch changes.
func (s *Server) commitReply(w http.ResponseWriter, ch *change, force bool, status int) {
	id, version, blocking := s.commit(ch, force)
	if len(blocking) > 0 {
		ids := make([]map[string]string, len(blocking))
		for i, b := range blocking {
			ids[i] = map[string]string{"id": b}
		}
		reply(w, http.StatusConflict, map[string]any{
			"message":     "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
			"deployments": ids,
		})
		return
	}
	w.Header().Set("Marathon-Deployment-Id", id)
	reply(w, status, map[string]string{"deploymentId": id, "version": version})
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	out := make([]any, len(s.deployments))
	for i, d := range s.deployments {
		out[i] = d.json()
	}
	reply(w, http.StatusOK, out)
}

package marathontest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
)

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	e := groupEmbeds(r.URL.Query()["embed"])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	if s.groups[id] == nil {
		refuse(w, http.StatusNotFound, fmt.Sprintf("Group '%s' does not exist", id))
		return
	}
	reply(w, http.StatusOK, s.groupJSON(id, e))
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("dryRun") == "true" {
		refuse(w, http.StatusNotImplemented, "marathontest does not implement dryRun")
		return
	}
	body, ok := s.readBody(w, r, "GroupUpdate")
	if !ok {
		return
	}
	if _, ok := body["scaleBy"]; ok {
		refuse(w, http.StatusNotImplemented, "marathontest does not implement scaleBy")
		return
	}
	if _, ok := body["version"]; ok {
		refuse(w, http.StatusNotImplemented, "marathontest does not implement version rollbacks")
		return
	}
	bid, _ := body["id"].(string)
	id := resolve("/", bid)
	if r.PathValue("id") != "" {
		var ok bool
		if id, ok = s.pathID(w, r); !ok {
			return
		}
		if resolve(parent(id), bid) != id {
			unprocessable(w, "/id", fmt.Sprintf("the group id %s does not match the path's %s", bid, id))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[id] != nil {
		refuse(w, http.StatusConflict, fmt.Sprintf("An app with id [%s] already exists.", id))
		return
	}
	ch := newChange()
	ch.ancestors(id)
	if problems := s.planGroup(ch, id, body, ""); len(problems) > 0 {
		refuse(w, http.StatusUnprocessableEntity, "Object is not valid", problems...)
		return
	}
	s.commitReply(w, ch, q.Get("force") == "true", http.StatusOK)
}

// planGroup adds group id as body (a GroupUpdate) describes it to ch:
// apps and groups it lists replace the group's own, and those it no
// longer lists go; a list it leaves out leaves them alone.
func (s *Server) planGroup(ch *change, id string, body map[string]any, at string) []detail {
	var problems []detail
	if id != "/" {
		ch.groups[id] = nil
	}
	if deps, ok := body["dependencies"].([]any); ok {
		ch.groups[id], ch.deps[id] = deps, true
	}
	// child resolves a listed app or group id and checks it is a direct
	// child, as Marathon's objectValidator example asks.
	child := func(raw any, where string) (string, bool) {
		cid := resolve(id, raw.(string))
		if parent(cid) != id || cid == "/" {
			problems = append(problems, detail{where + "/id", []string{fmt.Sprintf("identifier %s is not child of %s. Hint: use relative paths.", cid, id)}})
			return "", false
		}
		if prev, dup := ch.seen[cid]; dup {
			problems = append(problems, detail{where + "/id", []string{fmt.Sprintf("%s is also given at %s", cid, prev)}})
			return "", false
		}
		ch.seen[cid] = where
		return cid, true
	}
	if apps, ok := body["apps"].([]any); ok {
		listed := map[string]bool{}
		for i, raw := range apps {
			a := raw.(map[string]any)
			where := fmt.Sprintf("%s/apps(%d)", at, i)
			aid, ok := child(a["id"], where)
			if !ok {
				continue
			}
			if s.groups[aid] != nil {
				problems = append(problems, detail{where + "/id", []string{fmt.Sprintf("a group with id %s exists", aid)}})
				continue
			}
			problems = append(problems, appProblems(a, where)...)
			def := maps.Clone(a)
			def["id"] = aid
			normalize(def)
			ch.puts = append(ch.puts, put{aid, def, s.action(aid, def)})
			listed[aid] = true
		}
		for _, aid := range slices.Sorted(maps.Keys(s.apps)) {
			if parent(aid) == id && !listed[aid] {
				ch.stops = append(ch.stops, aid)
			}
		}
	}
	if groups, ok := body["groups"].([]any); ok {
		listed := map[string]bool{}
		for i, raw := range groups {
			g := raw.(map[string]any)
			where := fmt.Sprintf("%s/groups(%d)", at, i)
			gid, ok := child(g["id"], where)
			if !ok {
				continue
			}
			if s.apps[gid] != nil {
				problems = append(problems, detail{where + "/id", []string{fmt.Sprintf("an app with id %s exists", gid)}})
				continue
			}
			listed[gid] = true
			problems = append(problems, s.planGroup(ch, gid, g, where)...)
		}
		for _, gid := range slices.Sorted(maps.Keys(s.groups)) {
			if gid != "/" && parent(gid) == id && !listed[gid] {
				s.removeUnder(ch, gid)
			}
		}
	}
	return problems
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[id] == nil {
		refuse(w, http.StatusNotFound, fmt.Sprintf("Group '%s' does not exist", id))
		return
	}
	ch := newChange()
	s.removeUnder(ch, id)
	s.commitReply(w, ch, r.URL.Query().Get("force") == "true", http.StatusOK)
}

// children lists the apps or groups directly in group id, sorted.
func children[T any](m map[string]T, id string) []string {
	var out []string
	for _, c := range slices.Sorted(maps.Keys(m)) {
		if c != "/" && parent(c) == id {
			out = append(out, c)
		}
	}
	return out
}

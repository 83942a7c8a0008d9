package marathontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/stratastack/strata/stacks/layers/marathon/raml"
)

// maxBody bounds a request body.
const maxBody = 8 << 20

// readBody reads a JSON object held to the contract's type typ (strictly:
// undeclared fields are refused). It answers 400 for what is not JSON and
// 422 for what does not match, as Marathon's jsonValidator and
// objectValidator traits say, and returns ok false then.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, typ string) (map[string]any, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(raw) > maxBody {
		refuse(w, http.StatusBadRequest, "Invalid JSON", detail{"/", []string{"the body is unreadable or over 8 MiB"}})
		return nil, false
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || dec.More() {
		msg := "error.expected.jsobject"
		if err != nil {
			msg = err.Error()
		}
		refuse(w, http.StatusBadRequest, "Invalid JSON", detail{"/", []string{msg}})
		return nil, false
	}
	if err := s.contract.ValidateStrict(typ, raw); err != nil {
		var rerr *raml.Error
		if !errors.As(err, &rerr) {
			refuse(w, http.StatusInternalServerError, err.Error())
			return nil, false
		}
		refuse(w, http.StatusUnprocessableEntity, "Object is not valid", problemDetails(rerr)...)
		return nil, false
	}
	return m, true
}

var indexRe = regexp.MustCompile(`\[(\d+)\]`)

// problemDetails turns the validator's problems into Marathon's details:
// JSON paths as Marathon writes them ("/apps(0)/id"), one per path.
func problemDetails(e *raml.Error) []detail {
	var out []detail
	at := map[string]int{}
	for _, p := range e.Problems {
		path := strings.TrimPrefix(p.Path, "$")
		path = indexRe.ReplaceAllString(path, "($1)")
		path = "/" + strings.TrimPrefix(strings.ReplaceAll(path, ".", "/"), "/")
		if i, ok := at[path]; ok {
			out[i].Errors = append(out[i].Errors, p.Message)
			continue
		}
		at[path] = len(out)
		out = append(out, detail{path, []string{p.Message}})
	}
	return out
}

// appProblems are what Marathon refuses in an app beyond its types: what
// app.raml's descriptions forbid.
func appProblems(app map[string]any, at string) []detail {
	_, cmd := app["cmd"]
	_, args := app["args"]
	if cmd && args {
		return []detail{{at + "/cmd", []string{"it is invalid to supply both cmd and args in the same app"}}}
	}
	return nil
}

// pathID reads the {id...} of a request path as an absolute id, or
// answers 400 when it is no path id.
func (s *Server) pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := "/" + strings.Trim(r.PathValue("id"), "/")
	quoted, _ := json.Marshal(id)
	if err := s.contract.Validate("PathId", quoted); err != nil {
		refuse(w, http.StatusBadRequest, fmt.Sprintf("%q is not a valid path id", id))
		return "", false
	}
	return id, true
}

// unprocessable answers 422 with one detail.
func unprocessable(w http.ResponseWriter, path, problem string) {
	refuse(w, http.StatusUnprocessableEntity, "Object is not valid", detail{path, []string{problem}})
}

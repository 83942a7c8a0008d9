package power

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRedfish is a Redfish service for tests, because none can be
// installed on the build machines (see doc.go). It speaks the Redfish wire
// protocol (DSP0266) for the resources the controller uses: the service
// root, the Systems collection, ComputerSystem with PowerState, Boot and
// the #ComputerSystem.Reset action, PATCH of Boot with If-Match against
// @odata.etag, sessions (POST/DELETE with X-Auth-Token and Location) and
// HTTP Basic, and Redfish error bodies with @Message.ExtendedInfo. It is as
// strict as the strictest BMCs it imitates: a reset to the state the
// machine is already in is 409 Conflict (as on iDRAC), an unknown property
// or value is 400.
type fakeRedfish struct {
	t    *testing.T
	user string
	pass string

	mu       sync.Mutex
	systems  []*fakeSystem
	sessions map[string]string // X-Auth-Token -> session path
	nextID   int
	allowed  []string // ResetType@Redfish.AllowableValues; nil: not announced
	log      []string // "METHOD path" of every request
	// inject: "METHOD path" -> faults to apply to the next such requests,
	// in order: "503" answers Service Unavailable, "drop" closes the
	// connection without an answer, "hang" waits until the client gives up.
	inject map[string][]string
}

type fakeSystem struct {
	id      string
	power   string // On, Off
	target  string // BootSourceOverrideTarget
	enabled string // BootSourceOverrideEnabled
	etag    int
	resets  []string // ResetType of every accepted reset
	boots   []string // what each power-on booted from
}

const rfRoot = "/redfish/v1"

func newFakeRedfish(t *testing.T, user, pass string, systemIDs ...string) *fakeRedfish {
	if len(systemIDs) == 0 {
		systemIDs = []string{"1"}
	}
	f := &fakeRedfish{t: t, user: user, pass: pass, sessions: map[string]string{}, inject: map[string][]string{}}
	for _, id := range systemIDs {
		f.systems = append(f.systems, &fakeSystem{id: id, power: "Off", target: "None", enabled: "Disabled", etag: 1})
	}
	return f
}

// start serves f over HTTPS (httptest's own certificate) or HTTP.
func (f *fakeRedfish) start(tls bool) *httptest.Server {
	srv := httptest.NewUnstartedServer(f)
	// The untrusted-certificate case makes the server log a failed
	// handshake; that is the expected outcome, not noise for the test log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	f.t.Cleanup(srv.Close)
	return srv
}

func (f *fakeRedfish) system(id string) *fakeSystem {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.systems {
		if s.id == id {
			cp := *s
			cp.resets = slices.Clone(s.resets)
			cp.boots = slices.Clone(s.boots)
			return &cp
		}
	}
	f.t.Fatalf("no system %q", id)
	return nil
}

func (f *fakeRedfish) injectFault(method, path string, faults ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := method + " " + path
	f.inject[key] = append(f.inject[key], faults...)
}

func (f *fakeRedfish) count(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, l := range f.log {
		if l == method+" "+path {
			n++
		}
	}
	return n
}

func (f *fakeRedfish) openSessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

func (f *fakeRedfish) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	f.mu.Lock()
	f.log = append(f.log, r.Method+" "+path)
	var fault string
	if q := f.inject[r.Method+" "+path]; len(q) > 0 {
		fault, f.inject[r.Method+" "+path] = q[0], q[1:]
	}
	f.mu.Unlock()

	w.Header().Set("OData-Version", "4.0")
	switch fault {
	case "503":
		w.Header().Set("Retry-After", "1")
		rfError(w, http.StatusServiceUnavailable, "ServiceTemporarilyUnavailable",
			"The service is temporarily unavailable.")
		return
	case "drop":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case "hang":
		// Read the body first: only then does net/http watch the
		// connection and cancel r.Context() when the client gives up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second): // bound, whatever the client does
		}
		return
	}

	// The service root and session login need no authentication (DSP0266).
	switch {
	case path == rfRoot && r.Method == http.MethodGet:
		f.json(w, http.StatusOK, map[string]any{
			"@odata.type":    "#ServiceRoot.v1_15_0.ServiceRoot",
			"@odata.id":      rfRoot + "/",
			"Id":             "RootService",
			"Name":           "Root Service",
			"RedfishVersion": "1.17.0",
			"UUID":           "92384634-2938-2342-8820-489239905423",
			"Systems":        odata(rfRoot + "/Systems"),
			"SessionService": odata(rfRoot + "/SessionService"),
			"Links":          map[string]any{"Sessions": odata(rfRoot + "/SessionService/Sessions")},
		})
		return
	case path == rfRoot+"/SessionService/Sessions" && r.Method == http.MethodPost:
		f.login(w, r)
		return
	}
	if !f.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Redfish"`)
		rfError(w, http.StatusUnauthorized, "NoValidSession",
			"There is no valid session established with the implementation.")
		return
	}

	switch {
	case strings.HasPrefix(path, rfRoot+"/SessionService/Sessions/") && r.Method == http.MethodDelete:
		f.mu.Lock()
		defer f.mu.Unlock()
		for tok, p := range f.sessions {
			if p == path {
				delete(f.sessions, tok)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		rfError(w, http.StatusNotFound, "ResourceMissingAtURI", "The resource at the URI "+path+" was not found.")
	case path == rfRoot+"/Systems" && r.Method == http.MethodGet:
		f.mu.Lock()
		var members []any
		for _, s := range f.systems {
			members = append(members, odata(rfRoot+"/Systems/"+s.id))
		}
		f.mu.Unlock()
		f.json(w, http.StatusOK, map[string]any{
			"@odata.type":         "#ComputerSystemCollection.ComputerSystemCollection",
			"@odata.id":           rfRoot + "/Systems",
			"Name":                "Computer System Collection",
			"Members@odata.count": len(members),
			"Members":             members,
		})
	case strings.HasPrefix(path, rfRoot+"/Systems/"):
		rest := strings.TrimPrefix(path, rfRoot+"/Systems/")
		id, action, _ := strings.Cut(rest, "/")
		f.mu.Lock()
		defer f.mu.Unlock()
		i := slices.IndexFunc(f.systems, func(s *fakeSystem) bool { return s.id == id })
		if i < 0 {
			rfError(w, http.StatusNotFound, "ResourceMissingAtURI", "The resource at the URI "+path+" was not found.")
			return
		}
		s := f.systems[i]
		switch {
		case action == "" && r.Method == http.MethodGet:
			f.writeSystem(w, s)
		case action == "" && r.Method == http.MethodPatch:
			f.patchSystem(w, r, s)
		case action == "Actions/ComputerSystem.Reset" && r.Method == http.MethodPost:
			f.reset(w, r, s)
		case action == "" || action == "Actions/ComputerSystem.Reset":
			w.Header().Set("Allow", "GET, PATCH")
			rfError(w, http.StatusMethodNotAllowed, "OperationNotAllowed", "The HTTP method is not allowed.")
		default:
			rfError(w, http.StatusNotFound, "ResourceMissingAtURI", "The resource at the URI "+path+" was not found.")
		}
	default:
		rfError(w, http.StatusNotFound, "ResourceMissingAtURI", "The resource at the URI "+path+" was not found.")
	}
}

func (f *fakeRedfish) login(w http.ResponseWriter, r *http.Request) {
	var body struct{ UserName, Password string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		rfError(w, http.StatusBadRequest, "MalformedJSON", "The request body submitted was malformed JSON.")
		return
	}
	if !f.credsOK(body.UserName, body.Password) {
		rfError(w, http.StatusUnauthorized, "ResourceAtURIUnauthorized",
			"While accessing the resource at "+r.URL.Path+", the service received an authorization error.")
		return
	}
	f.mu.Lock()
	f.nextID++
	id := strconv.Itoa(f.nextID)
	tok := fmt.Sprintf("token-%d-%s", f.nextID, strings.Repeat("x", 16))
	loc := rfRoot + "/SessionService/Sessions/" + id
	f.sessions[tok] = loc
	f.mu.Unlock()
	w.Header().Set("X-Auth-Token", tok)
	w.Header().Set("Location", loc)
	f.json(w, http.StatusCreated, map[string]any{
		"@odata.type": "#Session.v1_7_0.Session",
		"@odata.id":   loc,
		"Id":          id,
		"Name":        "User Session",
		"UserName":    body.UserName,
	})
}

func (f *fakeRedfish) credsOK(user, pass string) bool {
	return subtle.ConstantTimeCompare([]byte(user), []byte(f.user)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(f.pass)) == 1
}

func (f *fakeRedfish) authenticated(r *http.Request) bool {
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		f.mu.Lock()
		defer f.mu.Unlock()
		_, ok := f.sessions[tok]
		return ok
	}
	u, p, ok := r.BasicAuth()
	return ok && f.credsOK(u, p)
}

func (f *fakeRedfish) etag(s *fakeSystem) string { return fmt.Sprintf(`W/"%d"`, s.etag) }

// writeSystem answers with the ComputerSystem; f.mu is held.
func (f *fakeRedfish) writeSystem(w http.ResponseWriter, s *fakeSystem) {
	reset := map[string]any{"target": rfRoot + "/Systems/" + s.id + "/Actions/ComputerSystem.Reset"}
	if f.allowed != nil {
		reset["ResetType@Redfish.AllowableValues"] = f.allowed
	}
	w.Header().Set("ETag", f.etag(s))
	f.json(w, http.StatusOK, map[string]any{
		"@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
		"@odata.id":   rfRoot + "/Systems/" + s.id,
		"@odata.etag": f.etag(s),
		"Id":          s.id,
		"Name":        "System " + s.id,
		"SystemType":  "Physical",
		"PowerState":  s.power,
		"Boot": map[string]any{
			"BootSourceOverrideEnabled":                        s.enabled,
			"BootSourceOverrideTarget":                         s.target,
			"BootSourceOverrideTarget@Redfish.AllowableValues": fakeBootTargets(),
			"BootSourceOverrideMode":                           "UEFI",
		},
		"Actions": map[string]any{"#ComputerSystem.Reset": reset},
	})
}

// fakeBootTargets is what the fake's systems may boot from.
func fakeBootTargets() []string { return []string{"None", "Pxe", "Hdd", "Cd", "BiosSetup"} }

// patchSystem applies a PATCH of Boot; f.mu is held.
func (f *fakeRedfish) patchSystem(w http.ResponseWriter, r *http.Request, s *fakeSystem) {
	if m := r.Header.Get("If-Match"); m != "" && m != f.etag(s) && m != "*" {
		rfError(w, http.StatusPreconditionFailed, "PreconditionFailed",
			"The ETag supplied did not match the ETag required to change this resource.")
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		rfError(w, http.StatusBadRequest, "MalformedJSON", "The request body submitted was malformed JSON.")
		return
	}
	for k := range body {
		if k != "Boot" {
			rfError(w, http.StatusBadRequest, "PropertyUnknown", "The property "+k+" is not in the list of valid properties for the resource.")
			return
		}
	}
	var boot map[string]string
	if err := json.Unmarshal(body["Boot"], &boot); err != nil {
		rfError(w, http.StatusBadRequest, "PropertyValueTypeError", "The value for the property Boot is of a different type than the property can accept.")
		return
	}
	target, enabled := s.target, s.enabled
	for k, v := range boot {
		switch k {
		case "BootSourceOverrideTarget":
			if !slices.Contains(fakeBootTargets(), v) {
				rfError(w, http.StatusBadRequest, "PropertyValueNotInList", "The value "+v+" for the property BootSourceOverrideTarget is not in the list of acceptable values.")
				return
			}
			target = v
		case "BootSourceOverrideEnabled":
			if !slices.Contains([]string{"Disabled", "Once", "Continuous"}, v) {
				rfError(w, http.StatusBadRequest, "PropertyValueNotInList", "The value "+v+" for the property BootSourceOverrideEnabled is not in the list of acceptable values.")
				return
			}
			enabled = v
		default:
			rfError(w, http.StatusBadRequest, "PropertyUnknown", "The property Boot/"+k+" is not in the list of valid properties for the resource.")
			return
		}
	}
	s.target, s.enabled = target, enabled
	s.etag++
	f.writeSystem(w, s)
}

// reset runs #ComputerSystem.Reset; f.mu is held.
func (f *fakeRedfish) reset(w http.ResponseWriter, r *http.Request, s *fakeSystem) {
	if m := r.Header.Get("If-Match"); m != "" && m != f.etag(s) && m != "*" {
		rfError(w, http.StatusPreconditionFailed, "PreconditionFailed",
			"The ETag supplied did not match the ETag required to change this resource.")
		return
	}
	var body struct{ ResetType string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		rfError(w, http.StatusBadRequest, "MalformedJSON", "The request body submitted was malformed JSON.")
		return
	}
	known := []string{"On", "ForceOn", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart", "PowerCycle"}
	if !slices.Contains(known, body.ResetType) || (f.allowed != nil && !slices.Contains(f.allowed, body.ResetType)) {
		rfError(w, http.StatusBadRequest, "ActionParameterValueNotInList",
			"The value "+body.ResetType+" for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values.")
		return
	}
	conflict := func(msg string) {
		rfError(w, http.StatusConflict, "ResourceInStandby", msg)
	}
	boot := func() {
		s.power = "On"
		from := "Hdd"
		if s.enabled != "Disabled" && s.target != "None" {
			from = s.target
		}
		if s.enabled == "Once" {
			s.enabled, s.target = "Disabled", "None"
		}
		s.boots = append(s.boots, from)
	}
	switch body.ResetType {
	case "On", "ForceOn":
		if s.power == "On" {
			conflict("The server is already powered on.")
			return
		}
		boot()
	case "ForceOff", "GracefulShutdown":
		if s.power == "Off" {
			conflict("The server is already powered off.")
			return
		}
		s.power = "Off"
	default: // restarts and cycles
		if s.power == "Off" {
			conflict("The server is powered off; a restart needs it on.")
			return
		}
		boot()
	}
	s.resets = append(s.resets, body.ResetType)
	s.etag++
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeRedfish) json(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		f.t.Errorf("fake Redfish: encode: %v", err)
	}
}

func odata(id string) map[string]any { return map[string]any{"@odata.id": id} }

// rfError writes a Redfish error body (DSP0266 "Error responses").
func rfError(w http.ResponseWriter, code int, messageID, message string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{
			"code":    "Base.1.18.GeneralError",
			"message": "A general error has occurred. See ExtendedInfo for more information.",
			"@Message.ExtendedInfo": []any{map[string]any{
				"@odata.type": "#Message.v1_1_1.Message",
				"MessageId":   "Base.1.18." + messageID,
				"Message":     message,
				"Severity":    "Critical",
				"Resolution":  "None.",
			}},
		},
	})
}

package marathontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratastack/strata/stacks/layers/marathon/contract"
)

// Options shape the server's clock. Zero values take the defaults.
type Options struct {
	// StageTicks is how long a task stays staged before it runs (default
	// 1); HealthTicks how long a running task of an app with health checks
	// takes to turn healthy (default 1).
	StageTicks, HealthTicks int
	// DeployTicks is the least a deployment stays listed (default 2).
	DeployTicks int
	// TickEvery, when set, moves the clock by wall time. Unset, every read
	// of state (GET of apps, groups or deployments) is one tick, so tests
	// that poll see progress without sleeping.
	TickEvery time.Duration
}

// Server is the test server. Make one with New (an http.Handler) or Start
// (served on 127.0.0.1 until the test ends). It is safe for concurrent use.
type Server struct {
	// URL is where Start serves it; empty for New.
	URL string

	opts     Options
	contract *contract.Contract
	mux      *http.ServeMux
	born     time.Time

	mu          sync.Mutex
	tick        int
	seq         int
	lastStamp   time.Time
	apps        map[string]*app
	groups      map[string]*group
	deployments []*deployment
	leader      bool
	noLeaderFor int
	failing     map[string]string // app id -> task failure message
	launched    map[string]int    // app id -> tasks ever launched

	logMu    sync.Mutex
	requests []string
}

// New returns a server with nothing deployed and a leader.
func New(opts Options) (*Server, error) {
	c, err := contract.Load()
	if err != nil {
		return nil, err
	}
	opts.StageTicks = max(opts.StageTicks, 1)
	opts.HealthTicks = max(opts.HealthTicks, 1)
	if opts.DeployTicks <= 0 {
		opts.DeployTicks = 2
	}
	s := &Server{
		opts: opts, contract: c, born: time.Now(),
		apps:    map[string]*app{},
		groups:  map[string]*group{"/": {id: "/"}},
		leader:  true,
		failing: map[string]string{}, launched: map[string]int{},
	}
	s.groups["/"].version = s.stamp()
	s.routes()
	return s, nil
}

// Start serves a new server on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// maxRequests bounds the request log.
const maxRequests = 10000

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, note: func(status int) {
		// Handlers answer holding mu: the log has its own lock.
		s.logMu.Lock()
		defer s.logMu.Unlock()
		if len(s.requests) < maxRequests {
			s.requests = append(s.requests, fmt.Sprintf("%s %s %d", r.Method, r.URL.RequestURI(), status))
		}
	}}
	s.serve(rec, r)
	rec.WriteHeader(http.StatusOK) // a handler that wrote nothing
}

// recorder notes a request with its status before the answer leaves, so
// that a client that has its answer finds the request in Requests.
type recorder struct {
	http.ResponseWriter
	note  func(status int)
	noted bool
}

func (r *recorder) WriteHeader(status int) {
	if r.noted {
		return
	}
	r.noted = true
	r.note(status)
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.ResponseWriter.Write(b)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	leader := s.leader
	if strings.HasPrefix(r.URL.Path, "/v2/") && s.noLeaderFor > 0 {
		s.noLeaderFor--
		leader = false
	}
	s.mu.Unlock()
	if !leader {
		switch r.URL.Path {
		case "/v2/info":
			s.info(w, r, false)
		case "/v2/leader":
			refuse(w, http.StatusNotFound, "There is no leader")
		case "/ping":
			s.mux.ServeHTTP(w, r)
		default:
			// Marathon proxies to the leader, and without one cannot.
			refuse(w, http.StatusServiceUnavailable, "Could not determine the current leader")
		}
		return
	}
	s.mux.ServeHTTP(w, r)
}

// SetLeader elects a leader (true) or leaves none (false).
func (s *Server) SetLeader(elected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leader = elected
}

// NoLeaderFor answers the next n requests under /v2/ as if no leader were
// elected.
func (s *Server) NoLeaderFor(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noLeaderFor = n
}

// FailTasks makes the tasks of app id fail as they would start running,
// with message as the failure's; an empty message makes them healthy
// again.
func (s *Server) FailTasks(id, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if message == "" {
		delete(s.failing, id)
		return
	}
	s.failing[id] = message
}

// Tick moves the clock n ticks.
func (s *Server) Tick(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.step()
	}
}

// AppIDs lists the apps, sorted.
func (s *Server) AppIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.apps))
}

// GroupIDs lists the groups but the root, sorted.
func (s *Server) GroupIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Sorted(maps.Keys(s.groups))
	return slices.DeleteFunc(out, func(id string) bool { return id == "/" })
}

// DeploymentIDs lists the running deployments, oldest first.
func (s *Server) DeploymentIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.deployments))
	for i, d := range s.deployments {
		out[i] = d.id
	}
	return out
}

// Instances is the instance count app id asks for; 0 when there is no
// such app.
func (s *Server) Instances(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.apps[id]; a != nil {
		return a.instances
	}
	return 0
}

// Launched counts the tasks ever launched for app id, so tests see
// restarts and scaling.
func (s *Server) Launched(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.launched[id]
}

// Requests lists the requests served, "METHOD /path?query STATUS", in the
// order they were answered.
func (s *Server) Requests() []string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return slices.Clone(s.requests)
}

// stamp returns a new datetime, later than every earlier one, so versions
// and failure times order as they happened.
func (s *Server) stamp() string {
	t := time.Now().UTC().Truncate(time.Millisecond)
	if !t.After(s.lastStamp) {
		t = s.lastStamp.Add(time.Millisecond)
	}
	s.lastStamp = t
	return t.Format("2006-01-02T15:04:05.000Z")
}

// newID returns a deployment id shaped as Marathon's (a UUID).
func (s *Server) newID() string {
	s.seq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq)
}

// detail is one problem of a refused body (traits.raml's examples).
type detail struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// refuse answers Marathon's error shape (error.raml's Error).
func refuse(w http.ResponseWriter, status int, message string, details ...detail) {
	body := map[string]any{"message": message}
	if len(details) > 0 {
		body["details"] = details
	}
	reply(w, status, body)
}

func reply(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // Marathon writes '<DEPLOYMENT_ID>' as is
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

package web

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/inventory"
)

const testAPIToken = "test-api-token-0123456789abcdef"

// fixture is one boot server on a loopback httptest server, with its own
// inventory file and assets directory.
type fixture struct {
	t      testing.TB
	store  *inventory.Store
	h      *Handler
	srv    *httptest.Server
	base   string
	assets string
	client *http.Client
	// seen collects every response body, so tests can assert that no
	// token or user-data ever left through the API.
	seen *bytes.Buffer
}

// newFixture starts a server. mod may adjust the config; PublicURL is the
// server's own loopback URL unless mod changes it.
func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := inventory.Open(filepath.Join(dir, "inventory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	assets := filepath.Join(dir, "assets")
	if err := os.Mkdir(assets, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	cfg := Config{Store: store, APIToken: testAPIToken, PublicURL: base, AssetsDir: assets}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	client := srv.Client()
	// Redirects (the mux cleaning "..") must be seen, not followed.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &fixture{t: t, store: store, h: h, srv: srv, base: base, assets: assets, client: client, seen: &bytes.Buffer{}}
}

// do sends a request and returns the status, body and header. url may be a
// path (on the fixture's server) or a full URL.
func (f *fixture) do(method, url string, body io.Reader, hdr map[string]string) (int, []byte, http.Header) {
	f.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = f.base + url
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, url, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	f.seen.Write(b)
	f.seen.WriteString("\n")
	return resp.StatusCode, b, resp.Header
}

func (f *fixture) get(url string) (int, []byte) {
	f.t.Helper()
	st, b, _ := f.do(http.MethodGet, url, nil, nil)
	return st, b
}

// api calls the API with the right token; body is marshalled unless it is a
// string (sent as is).
func (f *fixture) api(method, path string, body any) (int, []byte) {
	f.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	st, b, _ := f.do(method, path, r, map[string]string{"Authorization": "Bearer " + testAPIToken})
	return st, b
}

func (f *fixture) putProfile(p inventory.Profile) {
	f.t.Helper()
	if err := f.store.PutProfile(f.t.Context(), p); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) register(name, mac, profile string) inventory.Machine {
	f.t.Helper()
	m, err := f.store.PutMachine(f.t.Context(), inventory.Machine{Name: name, MAC: mac, Profile: profile})
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// states is the machine's recorded history, oldest first.
func (f *fixture) states(name string) []inventory.State {
	f.t.Helper()
	m, err := f.store.GetMachine(f.t.Context(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []inventory.State
	for _, tr := range m.History {
		out = append(out, tr.State)
	}
	return out
}

func (f *fixture) wantStates(name string, want ...inventory.State) {
	f.t.Helper()
	if got := f.states(name); !slices.Equal(got, want) {
		f.t.Errorf("machine %s history = %v, want %v", name, got, want)
	}
}

// waitStates is wantStates for progress recorded after a response: an
// asset handler records kernel-fetched once the last byte is written, which
// can be after the client has read it. Bounded at 2 s.
func (f *fixture) waitStates(name string, want ...inventory.State) {
	f.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !slices.Equal(f.states(name), want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	f.wantStates(name, want...)
}

// sync returns once the server has finished the handlers of earlier
// requests: HTTP/1.1 handles a connection's requests one after another, and
// the client reuses its idle connection.
func (f *fixture) sync() {
	f.t.Helper()
	f.do(http.MethodGet, "/api/v1/", nil, nil)
}

// writeAsset writes size pseudo-random bytes to the assets directory.
func (f *fixture) writeAsset(name string, size int) []byte {
	f.t.Helper()
	return writeFile(f.t, filepath.Join(f.assets, name), size)
}

func writeFile(t testing.TB, path string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(size), byte(size >> 8)})
	r.Read(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	chainRE  = regexp.MustCompile(`(?m)^chain (\S+)$`)
	kernelRE = regexp.MustCompile(`(?m)^kernel (.*)$`)
	initrdRE = regexp.MustCompile(`(?m)^initrd --name (\S+) (\S+)$`)
)

// scriptLine returns the first submatch of re in script, failing if absent.
func scriptLine(t testing.TB, re *regexp.Regexp, script []byte) []string {
	t.Helper()
	m := re.FindSubmatch(script)
	if m == nil {
		t.Fatalf("script has no line matching %s:\n%s", re, script)
	}
	out := make([]string, len(m))
	for i, s := range m {
		out[i] = string(s)
	}
	return out
}

// noLeaks fails if any response body the fixture saw contains one of the
// secrets.
func (f *fixture) noLeaks(secrets ...string) {
	f.t.Helper()
	for _, s := range secrets {
		if s != "" && bytes.Contains(f.seen.Bytes(), []byte(s)) {
			f.t.Errorf("a response body contained the secret %q", s)
		}
	}
}

// Package webtest serves a real boot server for one test: web.Handler on a
// bbolt inventory in a temporary folder, with a kernel and an initrd among
// its assets, on loopback. It keeps every API request body, so tests can
// check that secrets never reach the server.
package webtest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/web"
)

// Assets are the files the server's assets folder holds, by name.
func Assets() map[string]string {
	return map[string]string{"vmlinuz": "KERNEL", "initrd.img": "INITRD"}
}

// Server is a running boot server.
type Server struct {
	URL   string
	Store *inventory.Store

	mu     sync.Mutex
	bodies bytes.Buffer
}

// Files are what a boot server serves from, for one test: a fresh
// inventory (closed when the test ends) and an assets folder holding
// Assets().
func Files(t testing.TB) (*inventory.Store, string) {
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
	for name, body := range Assets() {
		if err := os.WriteFile(filepath.Join(assets, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return store, assets
}

// Start serves a boot server whose API takes token, until the test ends.
func Start(t testing.TB, token string) *Server {
	t.Helper()
	store, assets := Files(t)
	srv := httptest.NewUnstartedServer(nil)
	s := &Server{URL: "http://" + srv.Listener.Addr().String(), Store: store}
	h, err := web.New(web.Config{Store: store, APIToken: token, PublicURL: s.URL, AssetsDir: assets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			s.mu.Lock()
			s.bodies.Write(b)
			s.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		h.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// APIBodies is every API request body the server got, concatenated.
func (s *Server) APIBodies() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies.String()
}

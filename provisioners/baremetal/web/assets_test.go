package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
)

const secret = "root:secret-password-hash"

// assetFixture lays out an assets directory with links inside and out, a
// directory, a FIFO, and a secret beside (not inside) the directory.
func assetFixture(t *testing.T) (*fixture, []byte) {
	f := newFixture(t, nil)
	kernel := f.writeAsset("vmlinuz", 200_000)
	outside := filepath.Join(filepath.Dir(f.assets), "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(f.assets), "secret"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, os.MkdirAll(filepath.Join(f.assets, "sub"), 0o755))
	must(t, os.Symlink("../vmlinuz", filepath.Join(f.assets, "sub", "link-inside")))
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(f.assets, "escape")))
	must(t, os.Symlink("../outside", filepath.Join(f.assets, "escape-dir")))
	must(t, syscall.Mkfifo(filepath.Join(f.assets, "fifo"), 0o644))
	return f, kernel
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestAssets serves files over a real connection: whole, by range, through
// links that stay inside, and refuses everything that leaves the directory
// or is not a regular file.
func TestAssets(t *testing.T) {
	f, kernel := assetFixture(t)
	size := len(kernel)
	tests := []struct {
		name       string
		path       string // raw, sent as is
		rng        string
		wantStatus int
		wantBody   []byte
		wantRange  string
	}{
		{"whole file", "/assets/vmlinuz", "", 200, kernel, ""},
		{"range", "/assets/vmlinuz", "bytes=100-199", 206, kernel[100:200], fmt.Sprintf("bytes 100-199/%d", size)},
		{"suffix range", "/assets/vmlinuz", "bytes=-10", 206, kernel[size-10:], fmt.Sprintf("bytes %d-%d/%d", size-10, size-1, size)},
		{"unsatisfiable range", "/assets/vmlinuz", fmt.Sprintf("bytes=%d-", size+10), 416, nil, ""},
		{"link inside the directory", "/assets/sub/link-inside", "", 200, kernel, ""},
		{"symlink out", "/assets/escape", "", 403, nil, ""},
		{"symlinked directory out", "/assets/escape-dir/secret", "", 403, nil, ""},
		{"FIFO", "/assets/fifo", "", 403, nil, ""},
		{"directory", "/assets/sub", "", 404, nil, ""},
		{"missing", "/assets/nope", "", 404, nil, ""},
		// The mux redirects a literal ".." to the cleaned path (outside
		// /assets/); encoded forms reach the handler's own gate.
		{"dot-dot", "/assets/../secret", "", 307, nil, ""},
		{"encoded dot-dot", "/assets/%2e%2e/secret", "", 403, nil, ""},
		{"encoded slash dot-dot", "/assets/..%2fsecret", "", 403, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.rng != "" {
				hdr["Range"] = tt.rng
			}
			start := time.Now()
			st, b, h := f.do(http.MethodGet, tt.path, nil, hdr)
			if st != tt.wantStatus {
				t.Fatalf("status %d, want %d (%q)", st, tt.wantStatus, b)
			}
			if tt.wantBody != nil && !bytes.Equal(b, tt.wantBody) {
				t.Errorf("body: %d bytes, want %d", len(b), len(tt.wantBody))
			}
			if got := h.Get("Content-Range"); tt.wantRange != "" && got != tt.wantRange {
				t.Errorf("Content-Range %q, want %q", got, tt.wantRange)
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("served the secret outside the assets directory")
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %s (a FIFO open blocking?)", time.Since(start))
			}
		})
	}
}

// TestAssetPathRefused calls the asset handler directly, below the mux's
// path cleaning, so the package's own gate is what is tested.
func TestAssetPathRefused(t *testing.T) {
	f, _ := assetFixture(t)
	tests := []struct {
		name string
		want int
	}{
		{"../secret", 403},
		{"sub/../../secret", 403},
		{"/../secret", 403},
		{"sub/..", 403},
		{"x\x00y", 403},
		{"", 404},
		{"/", 404},
		{"escape", 403},
		{"escape-dir/secret", 403},
		{"fifo", 403},
		{"vmlinuz", 200},
		{"/vmlinuz", 200},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.name), func(t *testing.T) {
			rec := httptest.NewRecorder()
			f.h.serveAsset(rec, httptest.NewRequest(http.MethodGet, "/x", nil), tt.name, nil)
			if rec.Code != tt.want && !(tt.want == 404 && rec.Code == 403) {
				t.Errorf("status %d, want %d", rec.Code, tt.want)
			}
			if bytes.Contains(rec.Body.Bytes(), []byte(secret)) {
				t.Errorf("served the secret")
			}
		})
	}
}

// TestNoAssetsDir: without an assets directory /assets/ is a plain 404.
func TestNoAssetsDir(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AssetsDir = "" })
	if st, _ := f.get("/assets/vmlinuz"); st != http.StatusNotFound {
		t.Errorf("status %d, want 404", st)
	}
}

// TestKernelFetched: kernel-fetched is recorded when a machine's download
// of its own kernel delivers the end of the file, and not for a partial
// range, for another file, or for the public route.
func TestKernelFetched(t *testing.T) {
	const size = 100_000
	tests := []struct {
		name   string
		route  string // "machine" or "public"
		file   string
		ranges []string // one request per entry; "" = whole file
		want   bool
	}{
		{"whole kernel", "machine", "vmlinuz", []string{""}, true},
		{"first part only", "machine", "vmlinuz", []string{"bytes=0-999"}, false},
		{"resumed to the end", "machine", "vmlinuz", []string{"bytes=0-999", "bytes=1000-"}, true},
		{"multi-range", "machine", "vmlinuz", []string{"bytes=0-9,20-29"}, false},
		{"initrd", "machine", "initrd.img", []string{""}, false},
		{"public route", "public", "vmlinuz", []string{""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			kernel := f.writeAsset("vmlinuz", size)
			f.writeAsset("initrd.img", 1000)
			f.putProfile(inventory.Profile{Name: "p1", Kernel: "/assets/vmlinuz", Initrd: []string{"initrd.img"}})
			m := f.register("m1", "52:54:00:00:00:01", "p1")
			url := "/assets/" + tt.file
			if tt.route == "machine" {
				url = "/machines/m1/" + m.Token + url
			}
			for _, r := range tt.ranges {
				hdr := map[string]string{}
				if r != "" {
					hdr["Range"] = r
				}
				st, b, _ := f.do(http.MethodGet, url, nil, hdr)
				if st != http.StatusOK && st != http.StatusPartialContent {
					t.Fatalf("status %d", st)
				}
				if r == "" && tt.file == "vmlinuz" && !bytes.Equal(b, kernel) {
					t.Fatalf("wrong kernel bytes")
				}
			}
			want := []inventory.State{api.StateRegistered}
			if tt.want {
				want = append(want, api.StateKernelFetched)
			}
			f.sync()
			f.waitStates("m1", want...)
		})
	}
}

// TestCountingWriterKeepsSendfile: the wrapper must still be an
// io.ReaderFrom, the interface net/http's sendfile path goes through.
func TestCountingWriterKeepsSendfile(t *testing.T) {
	var w http.ResponseWriter = &countingWriter{ResponseWriter: httptest.NewRecorder()}
	if _, ok := w.(io.ReaderFrom); !ok {
		t.Fatal("countingWriter hides io.ReaderFrom")
	}
}

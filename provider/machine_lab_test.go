package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/ipmisim/simtest"
	"github.com/stratastack/strata/provisioners/baremetal/web"
)

// The strata_machine tests run against a real boot server (web.Handler on
// a bbolt inventory, served on loopback) and a real BMC: OpenIPMI's
// ipmi_sim, from package simtest.

const labToken = "lab-boot-token-0123456789abcdef"

// bootLab is a boot server on 127.0.0.1.
type bootLab struct {
	store *inventory.Store
	url   string
	mu    sync.Mutex
	api   bytes.Buffer // every API request body, to look for the password
}

func newBootLab(t *testing.T) *bootLab {
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
	for name, body := range map[string]string{"vmlinuz": "KERNEL", "initrd.img": "INITRD"} {
		if err := os.WriteFile(filepath.Join(assets, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewUnstartedServer(nil)
	l := &bootLab{store: store, url: "http://" + srv.Listener.Addr().String()}
	h, err := web.New(web.Config{Store: store, APIToken: labToken, PublicURL: l.url, AssetsDir: assets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			l.mu.Lock()
			l.api.Write(b)
			l.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		h.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return l
}

// provider is the provider block that points at the lab.
func (l *bootLab) provider() string {
	return fmt.Sprintf(`
provider "strata" {
  baremetal {
    boot_server = %q
    token       = %q
  }
}
`, l.url, labToken)
}

func (l *bootLab) apiBodies() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.api.String()
}

var (
	chainRE  = regexp.MustCompile(`(?m)^chain (\S+)$`)
	kernelRE = regexp.MustCompile(`(?m)^kernel (\S+) .*ds=nocloud-net;s=(\S+)`)
)

// boot plays what firmware, iPXE and the booted OS of the machine with
// this MAC do, up to the phone-home.
func (l *bootLab) boot(ctx context.Context, mac string) error {
	get := func(method, u string, body io.Reader) (string, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, b)
		}
		return string(b), err
	}
	script, err := get(http.MethodGet, l.url+"/boot.ipxe?mac="+mac, nil)
	if err != nil {
		return err
	}
	m := chainRE.FindStringSubmatch(script)
	if m == nil {
		return fmt.Errorf("no chain in %q", script)
	}
	if script, err = get(http.MethodGet, m[1], nil); err != nil {
		return err
	}
	k := kernelRE.FindStringSubmatch(script)
	if k == nil {
		return fmt.Errorf("no kernel line in %q", script)
	}
	if _, err := get(http.MethodGet, k[1], nil); err != nil {
		return err
	}
	ud, err := get(http.MethodGet, k[2]+"user-data", nil)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(ud))
	_, err = get(http.MethodPost, k[2]+"phone-home", strings.NewReader(hex.EncodeToString(sum[:])+"  user-data\n"))
	return err
}

// bootOnPowerOn plays the machine's PXE boot against lab each time the
// BMC is told to power on, until the test ends.
func bootOnPowerOn(t *testing.T, b *simtest.BMC, lab *bootLab, mac string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	seen := strings.Count(b.Read("history"), "power 1")
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if n := strings.Count(b.Read("history"), "power 1"); n > seen {
				seen = n
				if err := lab.boot(ctx, mac); err != nil && ctx.Err() == nil {
					t.Errorf("the machine's PXE boot failed: %v", err)
				}
			}
		}
	}()
}

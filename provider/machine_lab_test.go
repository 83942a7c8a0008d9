package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/ipmisim/simtest"
	"github.com/stratastack/strata/provisioners/baremetal/web/webtest"
)

// The strata_machine tests run against a real boot server (web.Handler on
// a bbolt inventory, served on loopback) and a real BMC: OpenIPMI's
// ipmi_sim, from package simtest.

const labToken = "lab-boot-token-0123456789abcdef"

// bootLab is a boot server on 127.0.0.1.
type bootLab struct{ *webtest.Server }

func newBootLab(t *testing.T) *bootLab { return &bootLab{webtest.Start(t, labToken)} }

// provider is the provider block that points at the lab.
func (l *bootLab) provider() string {
	return fmt.Sprintf(`
provider "strata" {
  baremetal {
    boot_server = %q
    token       = %q
  }
}
`, l.URL, labToken)
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
	script, err := get(http.MethodGet, l.URL+"/boot.ipxe?mac="+mac, nil)
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

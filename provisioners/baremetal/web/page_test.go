package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/power"
)

// pageFixture is a fixture with one registered machine whose profile has
// user-data, so the page tests can look for leaks.
func pageFixture(t *testing.T, mod func(*Config)) (*fixture, inventory.Machine) {
	t.Helper()
	f := newFixture(t, mod)
	f.h.page.failDelay = 0 // the delay is the server's; the tests count failures
	f.putProfile(inventory.Profile{Name: "p", Kernel: "vmlinuz", UserData: []byte("#cloud-config\n# USERDATA-SECRET\n")})
	m, err := f.store.PutMachine(t.Context(), inventory.Machine{Name: "rack1-node7", MAC: "52:54:00:aa:bb:07", Profile: "p",
		BMC: "ipmi://10.9.9.7", BMCUser: "admin", Tags: map[string]string{"strata:stack": "edge", "strata:role": "agent", "owner": "ops"}})
	if err != nil {
		t.Fatal(err)
	}
	return f, m
}

// login posts the form and returns the session cookie.
func (f *fixture) login(token string) (int, *http.Cookie, []byte) {
	f.t.Helper()
	st, body, hdr := f.do(http.MethodPost, "/login", strings.NewReader(url.Values{"token": {token}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	resp := http.Response{Header: hdr}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return st, c, body
		}
	}
	return st, nil, body
}

func cookieHeader(c *http.Cookie) map[string]string {
	return map[string]string{"Cookie": c.Name + "=" + c.Value}
}

func TestPageLogin(t *testing.T) {
	f, m := pageFixture(t, nil)

	st, body := f.get("/")
	if st != http.StatusOK || !strings.Contains(string(body), `name="token"`) || strings.Contains(string(body), m.Name) {
		t.Fatalf("GET / logged out: %d, want the login form and no machine:\n%s", st, body)
	}
	st, c, body := f.login("wrong-token-wrong-token")
	if st != http.StatusUnauthorized || c != nil || !strings.Contains(string(body), "Wrong token") || strings.Contains(string(body), m.Name) {
		t.Fatalf("wrong token: %d, cookie %v, want 401, no cookie, a message and no machine:\n%s", st, c, body)
	}
	// The token in the query string does not log in: only the form body counts.
	st, _, hdr := f.do(http.MethodPost, "/login?token="+testAPIToken, nil, nil)
	if st != http.StatusUnauthorized || hdr.Get("Set-Cookie") != "" {
		t.Fatalf("token in the URL: %d %v, want 401 without a cookie", st, hdr)
	}

	st, c, _ = f.login(testAPIToken)
	if st != http.StatusSeeOther || c == nil {
		t.Fatalf("login: %d, cookie %v, want 303 and a session cookie", st, c)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", c)
	}
	if strings.Contains(c.Value, testAPIToken) || len(c.Value) < 40 {
		t.Errorf("cookie value %q: want a long random session id, not the token", c.Value)
	}
	st, body, _ = f.do(http.MethodGet, "/", nil, cookieHeader(c))
	page := string(body)
	for _, want := range []string{m.Name, m.MAC, ">p<", "stack", "edge", "agent", "DHCP", "phone-home", "Booting: waiting for DHCP", "not shown"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if st != http.StatusOK || strings.Contains(page, "owner") {
		t.Errorf("GET / logged in: %d; only strata:* tags are shown:\n%s", st, page)
	}

	// Logout ends the session on the server, not only in the browser.
	st, _, hdr = f.do(http.MethodPost, "/logout", nil, cookieHeader(c))
	if st != http.StatusSeeOther || !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", st, hdr)
	}
	if _, body, _ := f.do(http.MethodGet, "/", nil, cookieHeader(c)); strings.Contains(string(body), m.Name) {
		t.Errorf("the old cookie still shows the machines after logout")
	}
	if st, _, _ := f.do(http.MethodGet, "/events", nil, cookieHeader(c)); st != http.StatusUnauthorized {
		t.Errorf("events after logout: %d, want 401", st)
	}
	f.noLeaks(m.Token, "USERDATA-SECRET")
}

func TestPageLoginRateLimit(t *testing.T) {
	f, _ := pageFixture(t, nil)
	for range maxLoginFailures {
		if st, _, _ := f.login("wrong-token-wrong-token"); st != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d, want 401", st)
		}
	}
	st, c, body := f.login(testAPIToken)
	if st != http.StatusTooManyRequests || c != nil || !strings.Contains(string(body), "Wait a minute") {
		t.Fatalf("after %d failures: %d, cookie %v, want 429 even for the right token:\n%s", maxLoginFailures, st, c, body)
	}
}

func TestPageLoginDelay(t *testing.T) {
	f, _ := pageFixture(t, nil)
	f.h.page.failDelay = 200 * time.Millisecond
	start := time.Now()
	f.login("wrong-token-wrong-token")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("a wrong token was answered in %v, before the failure delay", d)
	}
}

func TestPageSecureCookieOverTLS(t *testing.T) {
	f, _ := pageFixture(t, nil)
	r := httptest.NewRequest(http.MethodPost, "https://boot.example/login", strings.NewReader("token="+testAPIToken))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	cs := w.Result().Cookies()
	if len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly {
		t.Fatalf("login over TLS set %v, want one Secure HttpOnly cookie", cs)
	}
}

func TestPageRoutesStayNarrow(t *testing.T) {
	f, _ := pageFixture(t, nil)
	for path, want := range map[string]int{"/nothing-here": 404, "/page/status.html": 404, "/page/style.css": 200, "/page/status.js": 200, "/events": 401} {
		if st, _ := f.get(path); st != want {
			t.Errorf("GET %s: %d, want %d", path, st, want)
		}
	}
}

func TestPageStuck(t *testing.T) {
	f, _ := pageFixture(t, func(c *Config) { c.StuckAfter = time.Millisecond })
	_, c, _ := f.login(testAPIToken)
	time.Sleep(5 * time.Millisecond)
	_, body, _ := f.do(http.MethodGet, "/", nil, cookieHeader(c))
	if !strings.Contains(string(body), `class="stuck"`) || !strings.Contains(string(body), "Stuck</strong> waiting for DHCP") {
		t.Errorf("a machine with no progress past StuckAfter is not marked stuck:\n%s", body)
	}
}

// fakePower answers every BMC with one state and counts the questions.
type fakePower struct {
	state power.State
	asked atomic.Int32
}

func (p *fakePower) PowerStatus(ctx context.Context, bmc, user string) (power.State, error) {
	p.asked.Add(1)
	return p.state, nil
}

func TestPagePower(t *testing.T) {
	fp := &fakePower{state: power.Off}
	f, _ := pageFixture(t, func(c *Config) { c.Power = fp; c.StuckAfter = time.Millisecond })
	_, c, _ := f.login(testAPIToken)
	var page string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, body, _ := f.do(http.MethodGet, "/", nil, cookieHeader(c))
		if page = string(body); strings.Contains(page, "power-off") {
			break
		}
	}
	if !strings.Contains(page, `power-off">off`) {
		t.Fatalf("the page never showed the BMC's answer:\n%s", page)
	}
	if strings.Contains(page, `class="stuck"`) {
		t.Errorf("a machine that is powered off is marked stuck")
	}
	if n := fp.asked.Load(); n != 1 {
		t.Errorf("the BMC was asked %d times within %v, want once", n, powerFresh)
	}
}

func TestPageEvents(t *testing.T) {
	f, m := pageFixture(t, nil)
	_, c, _ := f.login(testAPIToken)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/events", nil)
	req.AddCookie(c)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %q", resp.StatusCode, ct)
	}
	events := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	next := func(want string) string {
		t.Helper()
		for {
			select {
			case d, ok := <-events:
				if !ok {
					t.Fatalf("the stream ended before an event with %q", want)
				}
				if strings.Contains(d, want) {
					return d
				}
			case <-ctx.Done():
				t.Fatalf("no event with %q", want)
			}
		}
	}
	first := next(m.Name)
	if _, err := f.store.SetState(t.Context(), m.Name, api.StateKernelFetched); err != nil {
		t.Fatal(err)
	}
	moved := next("waiting for phone-home")
	for _, d := range []string{first, moved} {
		if strings.Contains(d, m.Token) || strings.Contains(d, "USERDATA-SECRET") {
			t.Fatalf("an event carries a secret: %s", d)
		}
	}
	// Closing the handler (as a server shutdown does) ends the stream.
	f.h.stopStreams()
	for range events {
	}
}

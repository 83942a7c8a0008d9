package power

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	rfUser  = "root"
	rfPass  = "Rf-Secret-0815-calvin"
	rfReset = rfRoot + "/Systems/1/Actions/ComputerSystem.Reset"
)

// redfishURL is the redfish:// (or redfish+http://) URL of srv.
func redfishURL(srv *httptest.Server) string {
	if strings.HasPrefix(srv.URL, "https://") {
		return "redfish://" + strings.TrimPrefix(srv.URL, "https://")
	}
	return "redfish+http://" + strings.TrimPrefix(srv.URL, "http://")
}

// trust makes the controller verify srv's certificate properly.
func trust(srv *httptest.Server) Option {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return WithRootCAs(pool)
}

// TestRedfish drives a machine's life through gofish against the fake
// Redfish service, with Basic and with session authentication.
func TestRedfish(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []Option
	}{
		{"basic auth", nil},
		{"session auth", []Option{WithSessionAuth()}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			f := newFakeRedfish(t, rfUser, rfPass)
			srv := f.start(true)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Open(ctx, redfishURL(srv), Credentials{User: rfUser, Password: rfPass}, append(mode.opts, trust(srv))...)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			sys := func() *fakeSystem { return f.system("1") }
			wantStatus := func(t *testing.T, want State) {
				t.Helper()
				got, err := c.Status(ctx)
				if err != nil || got != want {
					t.Fatalf("Status = %v, %v; want %v", got, err, want)
				}
			}
			wantResets := func(t *testing.T, want ...string) {
				t.Helper()
				if got := sys().resets; !slices.Equal(got, want) {
					t.Fatalf("resets = %q, want %q", got, want)
				}
			}
			steps := []struct {
				name  string
				do    func(context.Context) error
				check func(t *testing.T)
			}{
				{"status off at start", nil, func(t *testing.T) { wantStatus(t, Off) }},
				{"on", c.On, func(t *testing.T) {
					wantResets(t, "On")
					wantStatus(t, On)
				}},
				// The fake answers a redundant On with 409, as iDRAC does.
				{"on again is a no-op", c.On, func(t *testing.T) { wantResets(t, "On") }},
				{"boot pxe", c.BootPXE, func(t *testing.T) {
					if s := sys(); s.target != "Pxe" || s.enabled != "Once" {
						t.Fatalf("boot override = %s/%s, want Pxe/Once", s.target, s.enabled)
					}
				}},
				{"cycle boots from the network once", c.Cycle, func(t *testing.T) {
					wantResets(t, "On", "PowerCycle")
					s := sys()
					if !slices.Equal(s.boots, []string{"Hdd", "Pxe"}) {
						t.Fatalf("boots = %q, want Hdd then Pxe", s.boots)
					}
					if s.target != "None" || s.enabled != "Disabled" {
						t.Fatalf("override still %s/%s after the boot it was for", s.target, s.enabled)
					}
					wantStatus(t, On)
				}},
				{"off", c.Off, func(t *testing.T) {
					wantResets(t, "On", "PowerCycle", "ForceOff")
					wantStatus(t, Off)
				}},
				{"off again is a no-op", c.Off, func(t *testing.T) { wantResets(t, "On", "PowerCycle", "ForceOff") }},
				{"cycle of an off machine powers it on", c.Cycle, func(t *testing.T) {
					wantResets(t, "On", "PowerCycle", "ForceOff", "On")
					wantStatus(t, On)
				}},
			}
			for _, s := range steps {
				if !t.Run(s.name, func(t *testing.T) {
					if s.do != nil {
						if err := s.do(ctx); err != nil {
							t.Fatal(err)
						}
					}
					s.check(t)
					if n := f.openSessions(); n != 0 {
						t.Fatalf("%d Redfish sessions left open", n)
					}
				}) {
					return
				}
			}
		})
	}
}

// TestRedfishOpen covers the URL forms, TLS trust and the errors Open
// reports, which name the user and the BMC but never the password.
func TestRedfishOpen(t *testing.T) {
	f := newFakeRedfish(t, rfUser, rfPass)
	tlsSrv := f.start(true)
	plainSrv := f.start(false)
	multi := newFakeRedfish(t, rfUser, rfPass, "1", "2")
	multiSrv := multi.start(true)
	closed := closedTCPPort(t)

	good := Credentials{User: rfUser, Password: rfPass}
	bad := Credentials{User: rfUser, Password: "Wrong-" + rfPass}
	cases := []struct {
		name  string
		url   string
		creds Credentials
		opts  []Option
		want  error  // nil: Open succeeds
		hint  string // in the error
	}{
		{"trusted certificate", redfishURL(tlsSrv), good, []Option{trust(tlsSrv)}, nil, ""},
		{"insecure option", redfishURL(tlsSrv), good, []Option{WithInsecureTLS()}, nil, ""},
		{"insecure in the URL", redfishURL(tlsSrv) + "?insecure=true", good, nil, nil, ""},
		{"plain http", redfishURL(plainSrv), good, nil, nil, ""},
		{"system named in the URL", redfishURL(multiSrv) + "/redfish/v1/Systems/2", good, []Option{trust(multiSrv)}, nil, ""},
		{"user from the URL", "redfish://" + rfUser + "@" + strings.TrimPrefix(tlsSrv.URL, "https://"),
			Credentials{Password: rfPass}, []Option{trust(tlsSrv)}, nil, ""},
		{"untrusted certificate", redfishURL(tlsSrv), good, nil, ErrCertificate, "insecure=true"},
		{"wrong password, basic", redfishURL(tlsSrv), bad, []Option{trust(tlsSrv)}, ErrAuth, "wrong user name or password"},
		{"wrong password, session", redfishURL(tlsSrv), bad, []Option{trust(tlsSrv), WithSessionAuth()}, ErrAuth, "wrong user name or password"},
		{"https to a plain http BMC", "redfish://" + strings.TrimPrefix(plainSrv.URL, "http://"), good, nil, ErrRequest, "redfish+http://"},
		{"closed port", "redfish://" + closed, good, nil, ErrUnreachable, "nothing listens"},
		{"several systems, none named", redfishURL(multiSrv), good, []Option{trust(multiSrv)}, ErrRequest, "/redfish/v1/Systems/2"},
		{"no such system", redfishURL(tlsSrv) + "/redfish/v1/Systems/9", good, []Option{trust(tlsSrv)}, ErrRequest, "HTTP 404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			c, err := Open(ctx, tc.url, tc.creds, tc.opts...)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Status(ctx); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want %v", err, tc.want)
			}
			msg := err.Error()
			for _, want := range []string{tc.hint, `as user "` + rfUser + `"`, "redfish"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if strings.Contains(msg, rfPass) {
				t.Errorf("error %q contains the password", msg)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			t.Logf("%v", err)
		})
	}
}

// TestRedfishRetries: what is retried, what is not, and that the context
// bounds it all.
func TestRedfishRetries(t *testing.T) {
	systems, system := rfRoot+"/Systems", rfRoot+"/Systems/1"
	cases := []struct {
		name      string
		faults    map[string][]string // "METHOD path" -> faults
		retries   int
		limit     time.Duration // context timeout
		op        func(context.Context, Controller) error
		want      error // nil: succeeds
		wantReset int   // reset POSTs the BMC saw
	}{
		{"busy BMC is asked again", map[string][]string{"GET " + systems: {"503", "503"}},
			2, 5 * time.Second, statusOp, nil, 0},
		{"busy BMC, retries exhausted", map[string][]string{"GET " + systems: {"503", "503", "503"}},
			2, 5 * time.Second, statusOp, ErrRequest, 0},
		{"dropped power-on is resent", map[string][]string{"POST " + rfReset: {"drop"}},
			2, 5 * time.Second, onOp, nil, 2},
		{"dropped cycle is not resent", map[string][]string{"POST " + rfReset: {"drop"}},
			2, 5 * time.Second, cycleOp, ErrRequest, 1},
		{"busy cycle is resent", map[string][]string{"POST " + rfReset: {"503"}},
			2, 5 * time.Second, cycleOp, nil, 2},
		{"no retries", map[string][]string{"GET " + system: {"503"}},
			0, 5 * time.Second, statusOp, ErrRequest, 0},
		{"hanging BMC, context deadline", map[string][]string{"POST " + rfReset: {"hang"}},
			2, 500 * time.Millisecond, onOp, context.DeadlineExceeded, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRedfish(t, rfUser, rfPass)
			srv := f.start(true)
			c, err := Open(context.Background(), redfishURL(srv), Credentials{User: rfUser, Password: rfPass},
				trust(srv), WithRetries(tc.retries))
			if err != nil {
				t.Fatal(err)
			}
			if tc.op == nil {
				t.Fatal("no op")
			}
			// Machine on, so Cycle really cycles and On has work to do
			// only when it is off again.
			if err := c.On(context.Background()); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tc.name, "power-on") || strings.Contains(tc.name, "hanging") {
				if err := c.Off(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			before := f.count("POST", rfReset)
			for k, v := range tc.faults {
				method, path, _ := strings.Cut(k, " ")
				f.injectFault(method, path, v...)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.limit)
			defer cancel()
			start := time.Now()
			err = tc.op(ctx, c)
			took := time.Since(start)
			if tc.want == nil && err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if got := f.count("POST", rfReset) - before; got != tc.wantReset {
				t.Errorf("the BMC saw %d reset requests, want %d", got, tc.wantReset)
			}
			if took > tc.limit+time.Second {
				t.Errorf("took %v, limit %v", took, tc.limit)
			}
			if err != nil && strings.Contains(err.Error(), rfPass) {
				t.Errorf("error %q contains the password", err)
			}
			t.Logf("%v in %v", err, took.Round(time.Millisecond))
		})
	}
}

// TestRedfishResetTypes: BMCs announce which reset types they take; the
// controller picks from what is allowed.
func TestRedfishResetTypes(t *testing.T) {
	cases := []struct {
		name    string
		allowed []string
		want    string // reset type Cycle sends; "" for an error
	}{
		{"not announced", nil, "PowerCycle"},
		{"power cycle allowed", []string{"On", "ForceOff", "PowerCycle", "ForceRestart"}, "PowerCycle"},
		{"only force restart", []string{"On", "ForceOff", "ForceRestart"}, "ForceRestart"},
		{"no restart at all", []string{"On", "ForceOff"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRedfish(t, rfUser, rfPass)
			f.allowed = tc.allowed
			srv := f.start(true)
			ctx := context.Background()
			c, err := Open(ctx, redfishURL(srv), Credentials{User: rfUser, Password: rfPass}, trust(srv))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.On(ctx); err != nil {
				t.Fatal(err)
			}
			err = c.Cycle(ctx)
			resets := f.system("1").resets
			if tc.want == "" {
				if !errors.Is(err, ErrRequest) || !strings.Contains(err.Error(), "none of") {
					t.Fatalf("Cycle = %v, want ErrRequest naming the allowed types", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := resets[len(resets)-1]; got != tc.want {
				t.Fatalf("Cycle sent %s, want %s", got, tc.want)
			}
		})
	}
}

// The operations TestRedfishRetries runs, context first.
func statusOp(ctx context.Context, c Controller) error {
	_, err := c.Status(ctx)
	return err
}

func onOp(ctx context.Context, c Controller) error    { return c.On(ctx) }
func cycleOp(ctx context.Context, c Controller) error { return c.Cycle(ctx) }

// closedTCPPort is host:port of a TCP port nothing listens on.
func closedTCPPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

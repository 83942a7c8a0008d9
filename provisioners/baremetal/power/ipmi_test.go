package power

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/ipmisim"
	"github.com/stratastack/strata/provisioners/baremetal/ipmisim/simtest"
)

// TestIPMISim drives the real ipmi_sim through a machine's life: every
// step checks what the controller reports and what the chassis was told.
func TestIPMISim(t *testing.T) {
	b := simtest.Start(t, ipmisim.User{Name: simOperator, Password: simOperatorPass, Privilege: "operator"})
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	goroutines := runtime.NumGoroutine()

	start := time.Now()
	c, err := Open(ctx, b.URL, Credentials{User: "admin", Password: b.Password})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// Open is one RMCP+ session: connect, chassis status, close. With cipher
	// suite 3 it takes milliseconds; without, go-ipmi probes suites ~15 s.
	t.Logf("Open (RMCP+ connect with cipher suite 3 + Get Chassis Status + Close Session): %v", took)
	if took > 2*time.Second {
		t.Errorf("Open took %v; cipher suite 3 should make it milliseconds", took)
	}

	count := func(line string) int {
		n := 0
		for _, h := range b.History() {
			if h == line {
				n++
			}
		}
		return n
	}
	wantStatus := func(t *testing.T, want State) {
		t.Helper()
		got, err := c.Status(ctx)
		if err != nil || got != want {
			t.Fatalf("Status = %v, %v; want %v", got, err, want)
		}
	}

	steps := []struct {
		name  string
		do    func(context.Context) error
		check func(t *testing.T)
	}{
		{"status off at start", nil, func(t *testing.T) { wantStatus(t, Off) }},
		{"on", c.On, func(t *testing.T) {
			if got := b.Read("power"); got != "1" {
				t.Fatalf("chassis power file = %q, want 1", got)
			}
			wantStatus(t, On)
		}},
		{"on again is a no-op", c.On, func(t *testing.T) {
			if n := count("power 1"); n != 1 {
				t.Fatalf("chassis was told to power on %d times, want once: %q", n, b.History())
			}
		}},
		{"ipmitool agrees", nil, func(t *testing.T) {
			out := b.Ipmitool(t, "chassis", "power", "status")
			if !strings.Contains(out, "Chassis Power is on") {
				t.Fatalf("ipmitool chassis power status: %q", out)
			}
		}},
		{"boot pxe", c.BootPXE, func(t *testing.T) {
			if got := b.Read("boot"); got != "pxe" {
				t.Fatalf("chassis boot file = %q, want pxe", got)
			}
			if out := b.Ipmitool(t, "chassis", "bootparam", "get", "5"); !strings.Contains(out, "Force PXE") {
				t.Fatalf("ipmitool chassis bootparam get 5:\n%s", out)
			}
		}},
		{"cycle", c.Cycle, func(t *testing.T) {
			// ipmi_sim powers off at once and on again a moment later.
			waitFor(t, 5*time.Second, "power back on after the cycle", func() bool {
				h := b.History()
				return len(h) >= 2 && h[len(h)-2] == "power 0" && h[len(h)-1] == "power 1"
			})
			wantStatus(t, On)
		}},
		{"off", c.Off, func(t *testing.T) {
			if got := b.Read("power"); got != "0" {
				t.Fatalf("chassis power file = %q, want 0", got)
			}
			wantStatus(t, Off)
		}},
		{"off again is a no-op", c.Off, func(t *testing.T) {
			if n := count("power 0"); n != 2 { // the cycle's and the off's
				t.Fatalf("chassis was told to power off %d times, want 2: %q", n, b.History())
			}
		}},
		{"cycle of an off machine powers it on", c.Cycle, func(t *testing.T) {
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
		}) {
			return // later steps depend on this one
		}
	}
	// Every call closed its session: go-ipmi's keep-alive and exchange
	// goroutines are gone.
	waitFor(t, 3*time.Second, "session goroutines to end", func() bool {
		return runtime.NumGoroutine() <= goroutines
	})
}

// TestIPMISimErrors checks that ipmi_sim's refusals come back as clear
// errors that name the user and the BMC but never the password.
func TestIPMISimErrors(t *testing.T) {
	b := simtest.Start(t, ipmisim.User{Name: simOperator, Password: simOperatorPass, Privilege: "operator"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	wrong := "Wr0ng-" + b.Password[3:] // as long as the real one, never accepted
	cancelled, cancelNow := context.WithCancel(ctx)
	cancelNow()
	cases := []struct {
		name  string
		ctx   context.Context
		creds Credentials
		want  error  // errors.Is
		hint  string // in the message
	}{
		{"wrong password", ctx, Credentials{User: "admin", Password: wrong}, ErrAuth, "wrong password"},
		{"unknown user", ctx, Credentials{User: "nobody", Password: wrong}, ErrAuth, `"nobody"`},
		{"cancelled context", cancelled, Credentials{User: "admin", Password: b.Password}, context.Canceled, "context canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := Open(tc.ctx, b.URL, tc.creds)
			if err == nil {
				t.Fatalf("Open succeeded with %v", tc.creds)
			}
			if c != nil {
				t.Errorf("Open returned a controller with its error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %q is not %v", err, tc.want)
			}
			msg := err.Error()
			for _, want := range []string{tc.hint, b.URL, "as user"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			for _, secret := range []string{tc.creds.Password, b.Password} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q contains the password", msg)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			t.Logf("%v", err)
		})
	}

	t.Run("operator may control power", func(t *testing.T) {
		c, err := Open(ctx, b.URL, Credentials{User: simOperator, Password: simOperatorPass})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.On(ctx); err != nil {
			t.Fatal(err)
		}
		if got := b.Read("power"); got != "1" {
			t.Fatalf("chassis power file = %q, want 1", got)
		}
	})

	t.Run("concurrent sessions", func(t *testing.T) {
		c, err := Open(ctx, b.URL, Credentials{User: "admin", Password: b.Password})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				_, err := c.Status(ctx)
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}

// TestIPMIUnreachable: a BMC that is not there fails fast and clearly.
func TestIPMIUnreachable(t *testing.T) {
	ctx := context.Background()
	creds := Credentials{User: "admin", Password: "Secret-4711-xyz"}

	// A UDP socket that reads and never answers: a BMC that is silent.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := silent.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	silentURL := "ipmi://" + silent.LocalAddr().String()

	cases := []struct {
		name   string
		limit  time.Duration // context timeout, 0 for none
		url    string
		opts   []Option
		want   error
		within time.Duration
	}{
		// Nothing bound: the kernel answers ICMP port unreachable.
		{"closed port", 0, "ipmi://127.0.0.1:" + strconv.Itoa(simtest.FreeUDPPort(t)), nil, ErrUnreachable, 2 * time.Second},
		// 200 ms per datagram, sent twice.
		{"silent BMC", 0, silentURL, []Option{WithTimeout(200 * time.Millisecond), WithRetries(1)}, ErrUnreachable, 2 * time.Second},
		// The default timing would wait 3 s; the context says 300 ms.
		{"context deadline", 300 * time.Millisecond, silentURL, nil, context.DeadlineExceeded, 1500 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctx
			if tc.limit > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.limit)
				defer cancel()
			}
			start := time.Now()
			_, err := Open(ctx, tc.url, creds, tc.opts...)
			took := time.Since(start)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want %v", err, tc.want)
			}
			if took > tc.within {
				t.Errorf("took %v, want within %v", took, tc.within)
			}
			if strings.Contains(err.Error(), creds.Password) {
				t.Errorf("error %q contains the password", err)
			}
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
		})
	}
}

// waitFor polls cond every 50 ms, failing after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %v waiting for %s", within, what)
}

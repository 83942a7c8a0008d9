package power

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
)

func TestParseTarget(t *testing.T) {
	const pw = "Url-Secret-99"
	cases := []struct {
		url  string
		want string // target.String(), or the error's hint
		ok   bool
	}{
		{"ipmi://10.0.0.5", "ipmi://10.0.0.5:623", true},
		{"ipmi://bmc-7.example:6230", "ipmi://bmc-7.example:6230", true},
		{"IPMI://[fd00::5]", "ipmi://[fd00::5]:623", true},
		{"redfish://10.0.0.5", "redfish://10.0.0.5:443", true},
		{"redfish://10.0.0.5:8443/redfish/v1/Systems/1/", "redfish://10.0.0.5:8443/redfish/v1/Systems/1", true},
		{"redfish://10.0.0.5?insecure=true", "redfish://10.0.0.5:443", true},
		{"redfish+http://127.0.0.1:8000", "redfish+http://127.0.0.1:8000", true},
		{"admin@ipmi://x", "not a URL", false},
		{"http://10.0.0.5", `scheme "http" is not supported`, false},
		{"ftp://10.0.0.5", `scheme "ftp" is not supported`, false},
		{"10.0.0.5", `scheme "" is not supported`, false},
		{"ipmi://", "no host", false},
		{"ipmi://10.0.0.5:0", "not a port number", false},
		{"ipmi://10.0.0.5:99999", "not a port number", false},
		{"ipmi://10.0.0.5/x", "no path", false},
		{"ipmi://10.0.0.5?insecure=true", "only redfish://", false},
		{"redfish://10.0.0.5?insecure=maybe", "only redfish://", false},
		{"ipmi://admin:" + pw + "@10.0.0.5", "carries a password", false},
		{"redfish://admin:" + url.QueryEscape(pw+"/?") + "@10.0.0.5", "carries a password", false},
		{"%zz", "not a URL", false},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			got, err := parseTarget(tc.url, Credentials{Password: pw + "/?"})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if got.String() != tc.want {
					t.Fatalf("target = %s, want %s", got, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want ErrUnsupported with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}
	got, _ := parseTarget("ipmi://admin@10.0.0.5", Credentials{})
	if got.user != "admin" {
		t.Errorf("user from URL = %q", got.user)
	}
}

// TestOpenRefusesEarly: what is wrong before any packet is sent.
func TestOpenRefusesEarly(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("p", 21)
	cases := []struct {
		name  string
		url   string
		creds Credentials
		want  error
		hint  string
	}{
		{"unsupported scheme", "telnet://10.0.0.5", Credentials{User: "a", Password: "Secret-1"}, ErrUnsupported, "ipmi://HOST"},
		{"no user", "ipmi://127.0.0.1:9", Credentials{Password: "Secret-1"}, ErrAuth, "no BMC user name"},
		{"IPMI password too long", "ipmi://127.0.0.1:9", Credentials{User: "admin", Password: long}, ErrAuth, "at most 20 bytes"},
		{"IPMI user too long", "ipmi://127.0.0.1:9", Credentials{User: strings.Repeat("u", 17), Password: "Secret-1"}, ErrAuth, "at most 16 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(ctx, tc.url, tc.creds)
			if c != nil || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.hint) {
				t.Fatalf("Open = %v, %v; want %v with %q", c, err, tc.want, tc.hint)
			}
			if strings.Contains(err.Error(), tc.creds.Password) {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}
}

// TestCredentialsHidePassword: printing, logging or marshalling
// Credentials, alone or inside something else, never shows the password.
func TestCredentialsHidePassword(t *testing.T) {
	const pw = "Never-Print-Me-42"
	c := Credentials{User: "admin", Password: pw}
	type holder struct {
		BMC   string
		Creds Credentials
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("bmc", "creds", c)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("bmc", "creds", c)
	js, err := json.Marshal(holder{"ipmi://x", c})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":         fmt.Sprintf("%v", c),
		"%+v":        fmt.Sprintf("%+v", c),
		"%#v":        fmt.Sprintf("%#v", c),
		"%s":         fmt.Sprintf("%s", c),
		"nested %v":  fmt.Sprintf("%v", holder{"ipmi://x", c}),
		"nested %+v": fmt.Sprintf("%+v", holder{"ipmi://x", c}),
		"pointer":    fmt.Sprintf("%v", &c),
		"slog":       logged.String(),
		"json":       string(js),
	}
	for how, out := range outputs {
		if strings.Contains(out, pw) {
			t.Errorf("%s shows the password: %s", how, out)
		}
		if !strings.Contains(out, "admin") {
			t.Errorf("%s lost the user: %s", how, out)
		}
	}
}

// TestErrorRedaction: whatever a library puts in its error, the password
// does not reach the message.
func TestErrorRedaction(t *testing.T) {
	creds := Credentials{User: "admin", Password: "p@ss word/1"}
	basic := base64.StdEncoding.EncodeToString([]byte("admin:p@ss word/1"))
	cause := fmt.Errorf("got %s, %s, %s and Basic %s", creds.Password,
		url.QueryEscape(creds.Password), url.PathEscape(creds.Password), basic)
	tg := target{scheme: "ipmi", host: "10.0.0.5", port: 623}
	err := tg.fail(context.Background(), "power on", creds, ErrRequest, "", cause)
	msg := err.Error()
	for _, leak := range []string{creds.Password, url.QueryEscape(creds.Password), url.PathEscape(creds.Password), basic} {
		if strings.Contains(msg, leak) {
			t.Errorf("message %q contains %q", msg, leak)
		}
	}
	want := `power: power on ipmi://10.0.0.5:623 as user "admin": BMC request failed: got [redacted]`
	if !strings.HasPrefix(msg, want) {
		t.Errorf("message = %q, want prefix %q", msg, want)
	}
	if !errors.Is(err, ErrRequest) || errors.Is(err, ErrAuth) {
		t.Errorf("errors.Is does not follow the Kind")
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.User != "admin" || pe.BMC != "ipmi://10.0.0.5:623" {
		t.Errorf("errors.As: %+v", pe)
	}
}

// TestIPMIClassify covers go-ipmi errors ipmi_sim cannot be made to send.
func TestIPMIClassify(t *testing.T) {
	rmcp := func(code types.RmcpStatusCode) error { return types.NewRmcpStatusError(code) }
	cases := []struct {
		name      string
		err       error
		kind      Kind
		transient bool
	}{
		{"unknown user", rmcp(types.RmcpStatusCodeUnauthorizedName), ErrAuth, false},
		// Connect formats per-suite errors with %v: only the text is left.
		{"unknown user, chain cut", fmt.Errorf("connect20 failed, errs: %v", rmcp(types.RmcpStatusCodeUnauthorizedName)), ErrAuth, false},
		{"wrong password, chain cut", fmt.Errorf("errs: %v", fmt.Errorf("rakp2: %w", client.ErrRAKPAuthentication)), ErrAuth, false},
		{"no free session", fmt.Errorf("errs: %v", rmcp(types.RmcpStatusCodeNoResToCreateSess)), ErrRequest, true},
		{"insufficient privilege", fmt.Errorf("x: %w", types.NewResponseError(0xD4, "insufficient privilege")), ErrAuth, false},
		{"node busy", fmt.Errorf("x: %w", types.NewResponseError(0xC0, "busy")), ErrRequest, true},
		{"invalid data", fmt.Errorf("x: %w", types.NewResponseError(0xCC, "invalid data field")), ErrRequest, false},
		{"refused", fmt.Errorf("read: %w", syscall.ECONNREFUSED), ErrUnreachable, false},
		{"no route", fmt.Errorf("write: %w", syscall.EHOSTUNREACH), ErrUnreachable, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if kind, _ := ipmiClassify(tc.err); kind != tc.kind {
				t.Errorf("kind = %v, want %v", kind, tc.kind)
			}
			if got := ipmiTransient(tc.err); got != tc.transient {
				t.Errorf("transient = %v, want %v", got, tc.transient)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	errT := errors.New("transient")
	errP := errors.New("permanent")
	isT := func(err error) bool { return errors.Is(err, errT) }
	cases := []struct {
		name      string
		retries   int
		fails     []error // what each call returns until it runs out, then nil
		limit     time.Duration
		wantCalls int
		wantErr   error
	}{
		{"success at once", 2, nil, time.Second, 1, nil},
		{"transient then success", 2, []error{errT}, time.Second, 2, nil},
		{"bounded", 2, []error{errT, errT, errT, errT}, 5 * time.Second, 3, errT},
		{"permanent is not retried", 2, []error{errP}, time.Second, 1, errP},
		{"no retries", 0, []error{errT}, time.Second, 1, errT},
		{"context ends the waiting", 5, []error{errT, errT, errT, errT, errT, errT}, 100 * time.Millisecond, 1, context.DeadlineExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.limit)
			defer cancel()
			calls := 0
			start := time.Now()
			err := retry(ctx, tc.retries, isT, func(context.Context) error {
				calls++
				if calls <= len(tc.fails) {
					return tc.fails[calls-1]
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tc.wantCalls)
			}
			if !errors.Is(err, tc.wantErr) && !(err == nil && tc.wantErr == nil) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if d := time.Since(start); d > tc.limit+500*time.Millisecond {
				t.Errorf("took %v", d)
			}
		})
	}
}

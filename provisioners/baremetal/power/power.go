package power

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// State is a machine's power state as its BMC reports it.
type State int

const (
	// Unknown is returned with an error, or when a BMC reports a state
	// that is neither on nor off.
	Unknown State = iota
	On
	Off
)

func (s State) String() string {
	switch s {
	case On:
		return "on"
	case Off:
		return "off"
	}
	return "unknown"
}

// Controller controls one machine through its BMC. Every method opens its
// own BMC session (see the package documentation), so a Controller is safe
// for concurrent use and needs no Close.
type Controller interface {
	// On powers the machine on; a machine that is on is left alone.
	On(ctx context.Context) error
	// Off powers the machine off at once (not an ACPI shutdown: the
	// machines are being reinstalled or destroyed); a machine that is off
	// is left alone.
	Off(ctx context.Context) error
	// Cycle power-cycles a machine that is on and powers on one that is off.
	Cycle(ctx context.Context) error
	// Status reports the power state.
	Status(ctx context.Context) (State, error)
	// BootPXE makes the next boot, and only the next one, boot from the
	// network.
	BootPXE(ctx context.Context) error
}

// Credentials log in to a BMC. The password is the caller's to supply (from
// the environment or a write-only attribute); Credentials print, log and
// marshal to JSON without it, so they cannot leak it by accident.
type Credentials struct {
	User     string `json:"user"`
	Password string `json:"-"`
}

// String leaves the password out; fmt's %v and %+v use it.
func (c Credentials) String() string {
	return fmt.Sprintf("{User:%s Password:%s}", c.User, c.maskedPassword())
}

// GoString leaves the password out; fmt's %#v uses it.
func (c Credentials) GoString() string {
	return fmt.Sprintf("power.Credentials{User:%q, Password:%q}", c.User, c.maskedPassword())
}

// LogValue leaves the password out of slog records.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", c.User), slog.String("password", c.maskedPassword()))
}

func (c Credentials) maskedPassword() string {
	if c.Password == "" {
		return ""
	}
	return "[redacted]"
}

// Option tunes Open.
type Option func(*options)

type options struct {
	timeout     time.Duration
	retries     int
	insecureTLS bool
	rootCAs     *x509.CertPool
	sessionAuth bool
}

// Defaults. IPMI waits 1 s per datagram, as ipmitool does (a local BMC
// answers in milliseconds); a Redfish BMC may take many seconds to answer a
// reset, so it gets 30 s per request.
const (
	defaultIPMITimeout    = 1 * time.Second
	defaultRedfishTimeout = 30 * time.Second
	defaultRetries        = 2
)

// WithTimeout sets how long to wait for one answer from the BMC: one IPMI
// datagram, or one Redfish HTTP request.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithRetries sets how many times a transient failure is retried (0:
// never): for IPMI both an unanswered datagram and a session refused for
// lack of slots; for Redfish a busy answer or a dropped connection. See the
// package documentation for what is transient.
func WithRetries(n int) Option {
	return func(o *options) { o.retries = max(n, 0) }
}

// WithInsecureTLS makes redfish:// accept any BMC certificate, as
// `?insecure=true` in the URL does.
func WithInsecureTLS() Option {
	return func(o *options) { o.insecureTLS = true }
}

// WithRootCAs makes redfish:// trust BMC certificates signed by pool
// instead of the system's roots.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(o *options) { o.rootCAs = pool }
}

// WithSessionAuth makes redfish:// log in with a Redfish session (deleted
// at the end of each call) instead of HTTP Basic authentication, for BMCs
// that have Basic authentication turned off.
func WithSessionAuth() Option {
	return func(o *options) { o.sessionAuth = true }
}

// Open returns the Controller for the BMC at bmcURL (see the package
// documentation for the URL forms). It logs in once to check the address
// and the credentials; creds.User defaults to the user in the URL.
func Open(ctx context.Context, bmcURL string, creds Credentials, opts ...Option) (Controller, error) {
	var o options
	o.retries = defaultRetries
	for _, opt := range opts {
		opt(&o)
	}
	t, err := parseTarget(bmcURL, creds)
	if err != nil {
		return nil, err
	}
	if creds.User == "" {
		creds.User = t.user
	}
	if creds.User == "" {
		return nil, t.fail(ctx, "open", creds, ErrAuth, "no BMC user name given", nil)
	}
	switch t.scheme {
	case "ipmi":
		if o.timeout <= 0 {
			o.timeout = defaultIPMITimeout
		}
		return openIPMI(ctx, t, creds, o)
	default:
		if o.timeout <= 0 {
			o.timeout = defaultRedfishTimeout
		}
		return openRedfish(ctx, t, creds, o)
	}
}

// target is a parsed BMC URL.
type target struct {
	scheme   string // ipmi, redfish or redfish+http
	host     string
	port     int
	path     string // Redfish system path, "" for "the only one"
	user     string // from the URL, if any
	insecure bool   // ?insecure=true
}

// String is the BMC as errors name it: no user, no query.
func (t target) String() string {
	return t.scheme + "://" + net.JoinHostPort(t.host, strconv.Itoa(t.port)) + t.path
}

func parseTarget(raw string, creds Credentials) (target, error) {
	bad := func(format string, args ...any) error {
		return &Error{Op: "open", BMC: redact(withoutUserinfo(raw), creds), Kind: ErrUnsupported,
			Detail: redact(fmt.Sprintf(format, args...), creds) +
				"; write ipmi://HOST[:PORT], redfish://HOST[:PORT] or redfish+http://HOST[:PORT]"}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, bad("not a URL")
	}
	t := target{scheme: strings.ToLower(u.Scheme), host: u.Hostname()}
	var defPort int
	switch t.scheme {
	case "ipmi":
		defPort = 623
	case "redfish":
		defPort = 443
	case "redfish+http":
		defPort = 80
	default:
		return target{}, bad("scheme %q is not supported", u.Scheme)
	}
	if t.host == "" {
		return target{}, bad("no host")
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			// A password in a URL ends up in state, plans and logs.
			return target{}, bad("the URL carries a password; pass it as Credentials.Password")
		}
		t.user = u.User.Username()
	}
	t.port = defPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return target{}, bad("port %q is not a port number", p)
		}
		t.port = n
	}
	q := u.Query()
	if v := q.Get("insecure"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil || t.scheme != "redfish" {
			return target{}, bad("insecure=%s: only redfish:// takes insecure=true|false", v)
		}
		t.insecure = b
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" {
		if t.scheme == "ipmi" {
			return target{}, bad("an ipmi:// URL has no path")
		}
		t.path = p
	}
	return t, nil
}

// withoutUserinfo drops "user:password@" from a BMC URL for messages, even
// from one that does not parse.
func withoutUserinfo(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		return raw[:i+3] + raw[at+1:]
	}
	return raw[at+1:]
}

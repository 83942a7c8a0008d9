package marathon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stratastack/strata/internal/wait"

	"github.com/stratastack/strata/provisioners"
)

// Client is Marathon's REST API v2 at one base URL. It is safe for
// concurrent use; set its tuning fields, if at all, before the first call.
type Client struct {
	base       string // scheme://host[:port][/prefix]: no userinfo, no trailing slash
	user, pass string // HTTP basic credentials, when the URL carried them
	http       *http.Client

	// Attempts bounds the tries of a request answered 502, 503 or 504 (no
	// leader elected yet, a proxy without its backend); default 5.
	Attempts int
	// Backoff is the first pause between such tries and between polls of
	// the deployments; it doubles up to MaxBackoff (defaults 250 ms, 5 s).
	Backoff, MaxBackoff time.Duration
	// LockWait bounds how long one write waits for the deployments that
	// lock its app or group before it returns their 409 (default 10 min).
	LockWait time.Duration
}

// NewClient returns a client of the Marathon whose API is at baseURL
// (http(s)://HOST[:PORT][/PREFIX], user:password@ for HTTP basic auth). A
// nil hc gets a client whose requests time out after a minute.
func NewClient(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		// Not quoted: it may carry a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("marathon: the API URL does not parse: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("marathon: API URL %q must be http(s)://HOST[:PORT][/PREFIX]", u.Redacted())
	}
	c := &Client{http: hc}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		// Kept apart so that no error message quotes the password.
		u.User = nil
	}
	c.base = strings.TrimRight(u.String(), "/")
	if c.http == nil {
		c.http = &http.Client{Timeout: time.Minute}
	}
	return c, nil
}

// URL is the API's base URL, without credentials.
func (c *Client) URL() string { return c.base }

func (c *Client) attempts() int             { return cmpOr(c.Attempts, 5) }
func (c *Client) backoff() time.Duration    { return cmpOr(c.Backoff, 250*time.Millisecond) }
func (c *Client) maxBackoff() time.Duration { return cmpOr(c.MaxBackoff, 5*time.Second) }
func (c *Client) lockWait() time.Duration   { return cmpOr(c.LockWait, 10*time.Minute) }

// cmpOr is cmp.Or for values where a negative is as unset as zero.
func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Error is Marathon refusing a request: its status and the body's message
// (error.raml's Error), with the deployments a 409 names.
type Error struct {
	Method, Path string
	Status       int
	Message      string
	Details      []ErrorDetail
	// Deployments are the ids of the deployments that lock the app or
	// group a write wanted to change (a 409's "deployments").
	Deployments []string
}

// ErrorDetail is one problem Marathon found in a body. error.raml declares
// message and errors; Marathon's own examples (traits.raml) send path and
// errors, so all three are read.
type ErrorDetail struct {
	Path    string   `json:"path,omitempty"`
	Message string   `json:"message,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "marathon: %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
	for _, d := range e.Details {
		parts := d.Errors
		if d.Message != "" {
			parts = append([]string{d.Message}, parts...)
		}
		b.WriteString("; ")
		if d.Path != "" {
			b.WriteString(d.Path + ": ")
		}
		b.WriteString(strings.Join(parts, ", "))
	}
	if len(e.Deployments) > 0 {
		fmt.Fprintf(&b, " (deployments %s)", strings.Join(e.Deployments, ", "))
	}
	return b.String()
}

// IsNotFound reports whether err is Marathon answering 404: no such app,
// group or deployment (or no leader, for Leader).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// errorBody is what Marathon answers a refused request with.
type errorBody struct {
	Message     string        `json:"message"`
	Details     []ErrorDetail `json:"details"`
	Deployments []struct {
		ID string `json:"id"`
	} `json:"deployments"`
}

// maxAnswer bounds what is read of one answer (a large Marathon's full app
// list is a few MiB).
const maxAnswer = 32 << 20

// do sends one request, retrying answers that say Marathon has no leader
// (or no backend) yet, and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte, out any) (http.Header, error) {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	pause := c.backoff()
	for attempt := 1; ; attempt++ {
		hdr, err := c.once(ctx, method, path, target, body, out)
		var e *Error
		if !errors.As(err, &e) || e.Status < 502 || e.Status > 504 {
			return hdr, err
		}
		// Every request Strata sends (GET, PUT, DELETE) is idempotent, so
		// trying again is safe.
		if attempt >= c.attempts() {
			return hdr, provisioners.Transient(err)
		}
		if err := wait.Sleep(ctx, pause); err != nil {
			return nil, fmt.Errorf("%w (after: %w)", err, e)
		}
		pause = min(2*pause, c.maxBackoff())
	}
}

func (c *Client) once(ctx context.Context, method, path, target string, body []byte, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("marathon: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("marathon %s: %s %s: %w", c.base, method, path, ctx.Err())
		}
		// Refused, reset or timed out: Marathon restarting or failing
		// over. The engine retries; credentials are never in target.
		return nil, provisioners.Transient(fmt.Errorf("marathon %s: %s %s: %w", c.base, method, path, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.Header, provisioners.Transient(fmt.Errorf("marathon %s: %s %s: reading the answer: %w", c.base, method, path, err))
	}
	if resp.StatusCode >= 300 {
		return resp.Header, refusal(method, path, resp.StatusCode, raw)
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.Header, fmt.Errorf("marathon: %s %s: the answer is not the JSON the contract describes: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// refusal makes an *Error of a non-2xx answer.
func refusal(method, path string, status int, raw []byte) error {
	e := &Error{Method: method, Path: path, Status: status}
	var b errorBody
	if json.Unmarshal(raw, &b) == nil && b.Message != "" {
		e.Message, e.Details = b.Message, b.Details
		for _, d := range b.Deployments {
			e.Deployments = append(e.Deployments, d.ID)
		}
	} else {
		e.Message = strings.TrimSpace(string(raw))
		if len(e.Message) > 500 {
			e.Message = e.Message[:500] + "..."
		}
	}
	return e
}

// idPath is the resource path of an app or group id under /v2/KIND.
func idPath(kind, id string) string {
	p := "/v2/" + kind
	for _, seg := range strings.Split(strings.Trim(id, "/"), "/") {
		if seg != "" {
			p += "/" + url.PathEscape(seg)
		}
	}
	return p
}

package openstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stratastack/strata/internal/wait"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/stratastack/strata/provisioners"
)

// fail wraps err from an OpenStack call with what was being done, says
// what the API said rather than gophercloud's request dump, and marks it
// Transient when the same call may well succeed later.
func fail(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if q, ok := quota(err); ok {
		return fmt.Errorf("openstack: %s: %s", what, q)
	}
	e := &apiError{what: what, err: err}
	if transient(err) {
		return provisioners.Transient(e)
	}
	return e
}

// apiError is a failed call: what was being done and the API's own words.
type apiError struct {
	what string
	err  error
}

func (e *apiError) Error() string {
	if code, body, ok := response(e.err); ok {
		msg := apiMessage(body)
		if msg == "" {
			msg = http.StatusText(code)
		}
		return fmt.Sprintf("openstack: %s: HTTP %d: %s", e.what, code, msg)
	}
	return fmt.Sprintf("openstack: %s: %v", e.what, e.err)
}

func (e *apiError) Unwrap() error { return e.err }

// response finds the HTTP status and body of a failed request in err.
// gophercloud returns its response error both as a value and as a
// pointer, depending on the path.
func response(err error) (int, []byte, bool) {
	var v gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &v) {
		return v.Actual, v.Body, true
	}
	var p *gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &p) && p != nil {
		return p.Actual, p.Body, true
	}
	return 0, nil, false
}

// statusOf is the HTTP status in err, or 0.
func statusOf(err error) int {
	code, _, _ := response(err)
	return code
}

// apiMessage extracts the human message from an OpenStack error body:
// Nova's {"forbidden": {"message": ...}}, Keystone's {"error": {...}},
// Neutron's {"NeutronError": {...}}, or Glance's plain text.
func apiMessage(body []byte) string {
	body = []byte(strings.TrimSpace(string(body)))
	if len(body) == 0 {
		return ""
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) == nil {
		for _, v := range doc {
			var inner struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(v, &inner) == nil && inner.Message != "" {
				return inner.Message
			}
		}
		var flat struct {
			Message     string `json:"message"`
			Description string `json:"description"`
		}
		if json.Unmarshal(body, &flat) == nil && (flat.Message != "" || flat.Description != "") {
			return strings.TrimSpace(flat.Message + " " + flat.Description)
		}
	}
	// Plain text or HTML (Glance, proxies): one line of it.
	s := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(string(body), " ")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// quota turns a quota refusal (403, or 413 on older Nova) into a message
// naming the quota; it is permanent: retrying cannot make room.
func quota(err error) (string, bool) {
	code, body, ok := response(err)
	if !ok || (code != http.StatusForbidden && code != http.StatusRequestEntityTooLarge) {
		return "", false
	}
	return quotaMessage(apiMessage(body))
}

// quotaMessage reads Nova's "Quota exceeded for instances: Requested 1,
// but already used 2 of 2 instances" (cores, ram, several at once too;
// or the server group quotas' "Quota exceeded, too many server groups.").
func quotaMessage(msg string) (string, bool) {
	if !strings.Contains(strings.ToLower(msg), "quota exceeded") {
		return "", false
	}
	re := regexp.MustCompile(`(?i)quota exceeded for ([a-z_, ]+?): requested (\d+), but already used (\d+) of (\d+)`)
	if m := re.FindStringSubmatch(msg); m != nil {
		names := strings.Trim(m[1], " ")
		return fmt.Sprintf("quota exceeded for %s: %s of %s used, %s more requested (Nova: %q); raise the project's quota or remove servers", names, m[3], m[4], m[2], msg), true
	}
	return fmt.Sprintf("quota exceeded (Nova: %q); raise the project's quota or remove servers", msg), true
}

// transient reports whether err is worth retrying: a conflict with a task
// in progress (409), a busy or restarting service (502, 503, 504), rate
// limits (429), and dropped or refused connections.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if provisioners.IsTransient(err) {
		return true
	}
	switch statusOf(err) {
	case http.StatusConflict, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case 0:
	default:
		return false
	}
	if provisioners.Dropped(err) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// Rate limits are waited out inside a request this many times before the
// 429 goes up as a Transient error for the engine's backoff.
const maxBackoffRetries = 3

// retryAfter is gophercloud's RetryBackoffFunc: on 429 it waits as long
// as Retry-After says (seconds or an HTTP date; else 1, 2, 4 s), up to a
// minute, then the request is sent again.
func retryAfter(ctx context.Context, resp *gophercloud.ErrUnexpectedResponseCode, err error, n uint) error {
	d := backoffDelay(resp.ResponseHeader.Get("Retry-After"), n, time.Now())
	if d > time.Minute {
		return *resp // longer than worth holding a request: the engine retries later
	}
	return wait.Sleep(ctx, d)
}

// backoffDelay reads a Retry-After value; without one the n-th retry
// waits 2^(n-1) seconds.
func backoffDelay(header string, n uint, now time.Time) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(header)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(header); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return 0
	}
	return time.Second << min(n-1, 6)
}

// notFound names what is missing and, when known, what exists instead.
func notFound(kind, name, where string, have []string) error {
	msg := fmt.Sprintf("openstack: %s %q not found in %s", kind, name, where)
	switch n := len(have); {
	case n == 0:
		msg += fmt.Sprintf(" (it has no %ss)", kind)
	case n <= 20:
		msg += fmt.Sprintf("; %ss there: %s", kind, strings.Join(have, ", "))
	default:
		msg += fmt.Sprintf("; %ss there include: %s, ... (%d in all)", kind, strings.Join(have[:20], ", "), n)
	}
	return errors.New(msg)
}

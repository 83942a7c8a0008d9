package power

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Kind classifies an Error; test for one with errors.Is(err, power.ErrAuth).
// Kinds are constants, not variables, so no caller can reassign them.
type Kind string

func (k Kind) Error() string { return string(k) }

const (
	// ErrUnsupported: the BMC URL is malformed or of an unknown scheme.
	ErrUnsupported Kind = "unsupported BMC URL"
	// ErrUnreachable: nothing answered at the BMC's address (refused, no
	// route, or no answer in time).
	ErrUnreachable Kind = "BMC unreachable"
	// ErrAuth: the BMC refused the user name or password, or the user may
	// not control power.
	ErrAuth Kind = "BMC rejected the credentials"
	// ErrCertificate: the Redfish BMC's TLS certificate is not trusted.
	ErrCertificate Kind = "BMC certificate not trusted"
	// ErrRequest: the BMC answered but did not do what was asked.
	ErrRequest Kind = "BMC request failed"
)

// Error is what every Controller method and Open return. Its text never
// holds the password: Detail is a redacted description of the cause, and
// the cause itself is not kept (it could quote the password back), except a
// context error, which Unwrap returns.
type Error struct {
	Op     string // "open", "power on", ...
	BMC    string // the BMC URL without user or query
	User   string // the BMC user, so a wrong one can be spotted
	Kind   Kind   // "" when the context ended the call
	Detail string
	ctxErr error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("power: ")
	b.WriteString(e.Op)
	if e.BMC != "" {
		b.WriteString(" " + e.BMC)
	}
	if e.User != "" {
		fmt.Fprintf(&b, " as user %q", e.User)
	}
	if e.Kind != "" {
		b.WriteString(": " + string(e.Kind))
	}
	if e.ctxErr != nil {
		b.WriteString(": " + e.ctxErr.Error())
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

// Unwrap exposes the Kind and the context error for errors.Is.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != "" {
		errs = append(errs, e.Kind)
	}
	if e.ctxErr != nil {
		errs = append(errs, e.ctxErr)
	}
	return errs
}

// fail builds an Error for t. When ctx has ended, that is reported instead
// of kind: the BMC was not at fault. (Only ctx tells: a library's own
// timeout can also wrap context.DeadlineExceeded.)
func (t target) fail(ctx context.Context, op string, creds Credentials, kind Kind, detail string, cause error) *Error {
	e := &Error{Op: op, BMC: t.String(), User: creds.User, Kind: kind}
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			e.Kind, e.ctxErr = "", err
		} else if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			// A library that reads until the context's deadline can return
			// its own timeout a moment before ctx.Err() is set.
			e.Kind, e.ctxErr = "", context.DeadlineExceeded
		}
	}
	if cause != nil {
		if detail != "" {
			detail += ": "
		}
		detail += cause.Error()
	}
	// go-ipmi joins per-suite errors with newlines; one line reads better
	// in a log or a Terraform diagnostic.
	e.Detail = redact(strings.Join(strings.Fields(detail), " "), creds)
	return e
}

// redact removes the password from s in the forms a library could quote
// it: as is, URL-escaped, and inside an HTTP Basic credential.
func redact(s string, creds Credentials) string {
	p := creds.Password
	if p == "" {
		return s
	}
	for _, form := range []string{
		base64.StdEncoding.EncodeToString([]byte(creds.User + ":" + p)),
		url.QueryEscape(p),
		url.PathEscape(p),
		p,
	} {
		s = strings.ReplaceAll(s, form, "[redacted]")
	}
	return s
}

// retry runs fn up to 1+retries times while it fails with an error that
// transient accepts, waiting between attempts (200 ms, doubling, at most
// 2 s) and never past ctx.
func retry(ctx context.Context, retries int, transient func(error) bool, fn func(context.Context) error) error {
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := fn(ctx)
		if err == nil || attempt >= retries || !transient(err) || ctx.Err() != nil {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w; gave up retrying: %w", err, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

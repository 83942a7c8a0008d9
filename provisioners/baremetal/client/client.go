package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/baremetal/api"
)

// Client is one boot server's API, reached at base with a bearer token. It
// is safe for concurrent use.
type Client struct {
	base  string // without a trailing slash
	token string
	http  *http.Client
}

// New returns a client of the boot server at base (http(s)://HOST[:PORT]).
func New(base, token string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: hc}
}

// Ping makes a cheap authenticated request, so that a wrong URL or token
// is reported before anything is made.
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "profiles", nil, nil)
}

// PutProfile creates or replaces profile name (PUT /api/v1/profiles/NAME).
func (c *Client) PutProfile(ctx context.Context, name string, req api.ProfileRequest) error {
	return c.call(ctx, http.MethodPut, "profiles/"+url.PathEscape(name), req, nil)
}

// Profile reads profile name; its user-data never comes back.
func (c *Client) Profile(ctx context.Context, name string) (api.ProfileView, error) {
	var v api.ProfileView
	err := c.call(ctx, http.MethodGet, "profiles/"+url.PathEscape(name), nil, &v)
	return v, err
}

// DeleteProfile removes profile name; the boot server refuses (409) while
// a machine uses it.
func (c *Client) DeleteProfile(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "profiles/"+url.PathEscape(name), nil, nil)
}

// Register registers or re-registers a machine (POST /api/v1/machines, an
// upsert). Its profile must exist.
func (c *Client) Register(ctx context.Context, req api.MachineRequest) (api.MachineView, error) {
	var v api.MachineView
	err := c.call(ctx, http.MethodPost, "machines", req, &v)
	return v, err
}

// Machine reads machine name.
func (c *Client) Machine(ctx context.Context, name string) (api.MachineView, error) {
	var v api.MachineView
	err := c.call(ctx, http.MethodGet, "machines/"+url.PathEscape(name), nil, &v)
	return v, err
}

// Machines lists the machines whose tags include every pair of tags (all
// machines when tags is empty).
func (c *Client) Machines(ctx context.Context, tags map[string]string) ([]api.MachineView, error) {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	q := url.Values{}
	for _, k := range keys {
		q.Add("tag", k+"="+tags[k])
	}
	path := "machines"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var vs []api.MachineView
	err := c.call(ctx, http.MethodGet, path, nil, &vs)
	return vs, err
}

// Tag merges tags into machine name's (PATCH /api/v1/machines/{name}).
func (c *Client) Tag(ctx context.Context, name string, tags map[string]string) (api.MachineView, error) {
	var v api.MachineView
	err := c.call(ctx, http.MethodPatch, "machines/"+url.PathEscape(name), api.TagsRequest{Tags: tags}, &v)
	return v, err
}

// Deregister removes machine name from the boot server.
func (c *Client) Deregister(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "machines/"+url.PathEscape(name), nil, nil)
}

// Error is a 4xx answer from the boot server's API. 5xx answers and
// failed connections are provisioners.Transient instead.
type Error struct {
	Method, Path string
	Status       int
	Msg          string
	// Field is the request field the boot server blamed, when it named
	// one, so front ends can point at the setting at fault.
	Field string
}

func (e *Error) Error() string {
	return fmt.Sprintf("boot server: %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Msg)
}

// IsStatus reports whether err is the boot server refusing with status.
func IsStatus(err error, status int) bool {
	var ae *Error
	return errors.As(err, &ae) && ae.Status == status
}

// Status reports how the boot server refused a request: the HTTP status
// (0 when err is not a refusal, e.g. a connection failure) and the request
// field it blamed ("" when none).
func Status(err error) (status int, field string) {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Status, ae.Field
	}
	return 0, ""
}

// maxAnswerBytes bounds what is read of one API answer.
const maxAnswerBytes = 8 << 20

// call sends one API request. in, when not nil, is sent as JSON; out, when
// not nil, receives the JSON answer.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("boot server: %s %s: encoding request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1/"+path, body)
	if err != nil {
		return fmt.Errorf("boot server: %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("boot server %s: %s %s: %w", c.base, method, path, ctx.Err())
		}
		// The request carries the bearer token only in a header, which
		// net/http errors do not quote.
		return provisioners.Transient(fmt.Errorf("boot server %s: %s %s: %w", c.base, method, path, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return provisioners.Transient(fmt.Errorf("boot server %s: %s %s: reading answer: %w", c.base, method, path, err))
	}
	if resp.StatusCode >= 300 {
		msg := strings.TrimSpace(string(raw))
		var e api.Error
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		ae := &Error{Method: method, Path: path, Status: resp.StatusCode, Msg: msg, Field: e.Field}
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("%w (the boot server refused the API token; check the boot token the front end was given)", ae)
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
			return provisioners.Transient(ae)
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("boot server: %s %s: answer is not the expected JSON: %w", method, path, err)
		}
	}
	return nil
}

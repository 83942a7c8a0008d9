package baremetal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/stratastack/strata/provisioners"
)

// apiError is a 4xx answer from the boot server's API. 5xx answers and
// failed connections are provisioners.Transient instead.
type apiError struct {
	Method, Path string
	Status       int
	Msg          string
	// Field is the request field the boot server blamed, when it named
	// one, so front ends can point at the setting at fault.
	Field string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("boot server: %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Msg)
}

func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == status
}

// maxAnswerBytes bounds what is read of one API answer.
const maxAnswerBytes = 8 << 20

// call sends one API request. in, when not nil, is sent as JSON; out, when
// not nil, receives the JSON answer.
func (p *Provisioner) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("boot server: %s %s: encoding request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+"/api/v1/"+path, body)
	if err != nil {
		return fmt.Errorf("boot server: %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("boot server %s: %s %s: %w", p.base, method, path, ctx.Err())
		}
		// The request carries the bearer token only in a header, which
		// net/http errors do not quote.
		return provisioners.Transient(fmt.Errorf("boot server %s: %s %s: %w", p.base, method, path, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return provisioners.Transient(fmt.Errorf("boot server %s: %s %s: reading answer: %w", p.base, method, path, err))
	}
	if resp.StatusCode >= 300 {
		msg := strings.TrimSpace(string(raw))
		var e struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		ae := &apiError{Method: method, Path: path, Status: resp.StatusCode, Msg: msg, Field: e.Field}
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

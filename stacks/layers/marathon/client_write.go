package marathon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// WriteOption changes how one write (PUT, DELETE) is sent.
type WriteOption func(*writeOptions)

type writeOptions struct {
	forceIf func(context.Context, []Deployment) (bool, error)
}

// ForceIf lets a write that running deployments lock cancel them. When
// Marathon refuses the write with 409, decide is shown those deployments;
// if it says yes the write is sent again with force=true, else it waits
// for them to end as any write does.
//
// The deployable trait (traits.raml) says force=true "will cancel the
// current deployment" and "should be used only, if the current deployment
// is unsuccessful": decide is where the caller says whether it is, so the
// client never forces on its own.
func ForceIf(decide func(ctx context.Context, blocking []Deployment) (bool, error)) WriteOption {
	return func(o *writeOptions) { o.forceIf = decide }
}

// PutApp creates or replaces the app id with the definition body (PUT
// /v2/apps/{id}) and returns the deployment id.
func (c *Client) PutApp(ctx context.Context, body []byte, id string, opts ...WriteOption) (string, error) {
	// apps.raml: without partialUpdate=false a PUT "has a patch like
	// semantic" and fields the body leaves out keep their old values. A
	// rendered definition is the whole app; what it leaves out must go.
	return c.write(ctx, http.MethodPut, idPath("apps", id), url.Values{"partialUpdate": {"false"}}, body, opts)
}

// PutGroup creates or updates the group id with body, a GroupUpdate (PUT
// /v2/groups/{id}), and returns the deployment id. Apps and groups the
// body lists replace the group's; apps it no longer lists are stopped.
func (c *Client) PutGroup(ctx context.Context, body []byte, id string, opts ...WriteOption) (string, error) {
	return c.write(ctx, http.MethodPut, idPath("groups", id), nil, body, opts)
}

// DeleteApp destroys the app id and returns the deployment that stops it;
// an *Error with status 404 when there is no such app.
func (c *Client) DeleteApp(ctx context.Context, id string, opts ...WriteOption) (string, error) {
	return c.write(ctx, http.MethodDelete, idPath("apps", id), nil, nil, opts)
}

// DeleteGroup destroys the group id with everything in it and returns the
// deployment; an *Error with status 404 when there is no such group.
func (c *Client) DeleteGroup(ctx context.Context, id string, opts ...WriteOption) (string, error) {
	return c.write(ctx, http.MethodDelete, idPath("groups", id), nil, nil, opts)
}

// write sends a deployable request. A 409 naming deployments means they
// lock the target: the write waits for them (or cancels them, when
// ForceIf says so) and is sent again, for at most LockWait.
func (c *Client) write(ctx context.Context, method, path string, query url.Values, body []byte, opts []WriteOption) (string, error) {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	deadline := time.Now().Add(c.lockWait())
	force := false
	for {
		q := url.Values{}
		for k, v := range query {
			q[k] = slices.Clone(v)
		}
		if force {
			q.Set("force", "true")
		}
		var res struct {
			DeploymentID string `json:"deploymentId"`
		}
		hdr, err := c.do(ctx, method, path, q, body, &res)
		if err == nil {
			if res.DeploymentID == "" && hdr != nil {
				res.DeploymentID = hdr.Get("Marathon-Deployment-Id")
			}
			return res.DeploymentID, nil
		}
		var e *Error
		// A 409 without deployments is no lock (an id that exists, for a
		// POST); with force=true Marathon does not lock.
		if !errors.As(err, &e) || e.Status != http.StatusConflict || len(e.Deployments) == 0 || force {
			return "", err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w (still locked after %s)", err, c.lockWait())
		}
		if o.forceIf != nil {
			blocking, derr := c.deploymentsByID(ctx, e.Deployments)
			if derr != nil {
				return "", derr
			}
			if len(blocking) == 0 {
				continue // they ended meanwhile
			}
			yes, derr := o.forceIf(ctx, blocking)
			if derr != nil {
				return "", derr
			}
			if yes {
				force = true
				continue
			}
		}
		wctx, cancel := context.WithDeadline(ctx, deadline)
		werr := c.WaitDeployments(wctx, e.Deployments...)
		cancel()
		switch {
		case ctx.Err() != nil:
			return "", fmt.Errorf("%w (while waiting for: %w)", ctx.Err(), err)
		case werr != nil && wctx.Err() != nil:
			return "", fmt.Errorf("%w (still locked after %s)", err, c.lockWait())
		case werr != nil:
			return "", werr
		}
	}
}

package mesos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/marathon"
)

var _ layers.Hosting = (*Layer)(nil)

// Host implements layers.Hosting: roles of other layers placed on a mesos
// layer are Marathon apps and groups, submitted to the layer's Marathon.
// The layer is up when Marathon says so: /v2/info answers and /v2/leader
// names a leader. Until then the error is transient and says what Marathon
// last answered.
func (l *Layer) Host(ctx context.Context, c layers.Cluster) (layers.Host, error) {
	tm := defaultTiming()
	if v := c.Settings.String("task_failure_grace"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("mesos: layer %q: task_failure_grace: %w", c.Name, err)
		}
		tm.failGrace = d
	}
	return reach(ctx, c, tm)
}

// timing paces a host's calls; tests shorten it.
type timing struct {
	probe          time.Duration // bounds one readiness probe
	poll, maxPoll  time.Duration // Wait's and the client's backoff
	failGrace      time.Duration // how long an app may fail before Wait gives up on it
	clientLockWait time.Duration // how long a write waits for the deployments locking it
}

func defaultTiming() timing {
	return timing{
		probe: 10 * time.Second, poll: 500 * time.Millisecond, maxPoll: 10 * time.Second,
		// Marathon relaunches a failed task after the app's backoff (30 s
		// for the node apps Strata renders): one failure may be a fluke.
		failGrace:      3 * time.Minute,
		clientLockWait: 10 * time.Minute,
	}
}

// reach resolves the layer's Marathon endpoint and probes it.
func reach(ctx context.Context, c layers.Cluster, tm timing) (*host, error) {
	endpoint, err := marathonEndpoint(c)
	if err != nil {
		return nil, err
	}
	cl, err := marathon.NewClient(endpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("mesos: layer %q: marathon_endpoint: %w", c.Name, err)
	}
	cl.Backoff, cl.MaxBackoff, cl.LockWait = tm.poll, tm.maxPoll, tm.clientLockWait
	if err := ready(ctx, cl, tm.probe); err != nil {
		return nil, err
	}
	return &host{cl: cl, tm: tm}, nil
}

// marathonEndpoint is the marathon_endpoint setting as a URL, or else the
// first master's address on Marathon's port.
func marathonEndpoint(c layers.Cluster) (string, error) {
	if v := strings.TrimSpace(c.Settings.String("marathon_endpoint")); v != "" {
		if strings.Contains(v, "://") {
			return v, nil
		}
		host, port, err := net.SplitHostPort(v)
		if err != nil { // no port (or a bare IPv6 address)
			host, port = strings.Trim(v, "[]"), strconv.Itoa(marathonPort)
		}
		return "http://" + net.JoinHostPort(host, port), nil
	}
	if on := c.Placements[RoleMaster]; on != "" && on != layers.Pool {
		return "", fmt.Errorf("mesos: layer %q: its masters are hosted on a %s layer, so Strata cannot tell where its Marathon answers: set marathon_endpoint", c.Name, on)
	}
	masters := sortedMembers(c.Members[RoleMaster])
	if len(masters) == 0 {
		return "", fmt.Errorf("mesos: layer %q has no master to reach Marathon on", c.Name)
	}
	m := masters[0]
	if m.Address == "" {
		return "", fmt.Errorf("mesos: layer %q: master %s has no address yet: %w", c.Name, m.Name, layers.ErrNotUp)
	}
	return "http://" + net.JoinHostPort(m.Address, strconv.Itoa(marathonPort)), nil
}

// ready probes Marathon once, within probe. Not answering, answering 404
// or 5xx, or naming no leader, is "not yet" (transient); other refusals
// (401, 403: credentials) are not worth waiting out.
func ready(ctx context.Context, cl *marathon.Client, probe time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, probe)
	defer cancel()
	one := *cl
	one.Attempts = 1 // the engine retries a transient answer, with its own backoff
	notYet := func(err error) error {
		if ctx.Err() != nil {
			return err
		}
		var e *marathon.Error
		if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusNotFound {
			return fmt.Errorf("mesos: Marathon at %s refuses Strata: %w", cl.URL(), err)
		}
		if pctx.Err() != nil {
			err = fmt.Errorf("no answer within %s: %w", probe, err)
		}
		return provisioners.Transient(fmt.Errorf("mesos: Marathon at %s is not ready: %w", cl.URL(), err))
	}
	if _, err := one.Info(pctx); err != nil {
		return notYet(err)
	}
	if _, err := one.Leader(pctx); err != nil {
		return notYet(err)
	}
	return nil
}

// host is a mesos layer's Marathon as a layers.Host.
type host struct {
	cl *marathon.Client
	tm timing
}

var _ layers.Host = (*host)(nil)

// checkObjects refuses what is not a Marathon app or group.
func checkObjects(objs []layers.Object) error {
	for _, o := range objs {
		if o.Format != "marathon" || (o.Kind != "app" && o.Kind != "group") || strings.Trim(o.Name, "/") == "" {
			return fmt.Errorf("mesos: cannot host %s %s %q: a mesos layer takes Marathon apps and groups", o.Format, o.Kind, o.Name)
		}
	}
	return nil
}

// Submit PUTs each object: Marathon keeps an unchanged definition as it
// is, scales an app whose count alone changed, and restarts the rest.
func (h *host) Submit(ctx context.Context, objs []layers.Object) error {
	if err := checkObjects(objs); err != nil {
		return err
	}
	for _, o := range objs {
		force := marathon.ForceIf(h.mayCancel(o.Name, false))
		var err error
		if o.Kind == "group" {
			_, err = h.cl.PutGroup(ctx, o.Body, o.Name, force)
		} else {
			_, err = h.cl.PutApp(ctx, o.Body, o.Name, force)
		}
		if err != nil {
			return fmt.Errorf("mesos: submitting %s %s: %w", o.Kind, o.Name, err)
		}
	}
	return nil
}

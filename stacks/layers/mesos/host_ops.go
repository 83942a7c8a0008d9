package mesos

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/stratastack/strata/internal/wait"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/marathon"
)

// Wait polls until no deployment touches the objects' apps and every app
// runs its instances, healthy when it has health checks. An app whose
// tasks keep failing (since its last change, for failGrace) ends the wait
// with its id and Marathon's failure message; ctx bounds the rest.
func (h *host) Wait(ctx context.Context, objs []layers.Object) error {
	if err := checkObjects(objs); err != nil {
		return err
	}
	failingSince := map[string]time.Time{}
	pause := h.tm.poll
	var waiting []string // what the last poll found not ready
	for {
		now, err := h.progress(ctx, objs, failingSince)
		switch {
		case ctx.Err() != nil:
			return h.timedOut(ctx, waiting)
		case err != nil && !provisioners.IsTransient(err):
			return err
		case err != nil:
			waiting = []string{err.Error()} // Marathon failing over: keep waiting
		case len(now) == 0:
			return nil
		default:
			waiting = now
		}
		if wait.Sleep(ctx, pause) != nil {
			return h.timedOut(ctx, waiting)
		}
		pause = min(2*pause, h.tm.maxPoll)
	}
}

func (h *host) timedOut(ctx context.Context, waiting []string) error {
	if len(waiting) == 0 {
		waiting = []string{"no answer yet"}
	}
	return fmt.Errorf("mesos: waiting on %s: %w; still %s", h.cl.URL(), ctx.Err(), strings.Join(waiting, "; "))
}

// progress lists what keeps objs from being ready: deployments touching
// their apps and apps short of their instances.
func (h *host) progress(ctx context.Context, objs []layers.Object, failingSince map[string]time.Time) ([]string, error) {
	ds, err := h.cl.Deployments(ctx)
	if err != nil {
		return nil, err
	}
	var waiting []string
	for _, d := range ds {
		if slices.ContainsFunc(d.AffectedApps, func(app string) bool {
			return slices.ContainsFunc(objs, func(o layers.Object) bool { return within(app, o.Name) })
		}) {
			waiting = append(waiting, fmt.Sprintf("deployment %s of %s", d.ID, strings.Join(d.AffectedApps, ", ")))
		}
	}
	for _, o := range objs {
		apps, err := h.appsOf(ctx, o)
		if marathon.IsNotFound(err) {
			return nil, fmt.Errorf("mesos: %s %s is not on Marathon at %s; it was never submitted or was removed", o.Kind, o.Name, h.cl.URL())
		}
		if err != nil {
			return nil, err
		}
		for _, a := range apps {
			if f := failure(a); f != nil {
				first, seen := failingSince[a.ID]
				if !seen {
					first = time.Now()
					failingSince[a.ID] = first
				}
				if time.Since(first) >= h.tm.failGrace {
					return nil, fmt.Errorf("mesos: app %s on Marathon at %s does not start: its tasks fail: %s (task %s on %s, %s)",
						a.ID, h.cl.URL(), f.Message, f.TaskID, f.Host, f.State)
				}
				waiting = append(waiting, fmt.Sprintf("app %s failing: %s", a.ID, f.Message))
				continue
			}
			delete(failingSince, a.ID)
			if !up(a) {
				waiting = append(waiting, fmt.Sprintf("app %s: %d of %d running, %d healthy", a.ID, a.TasksRunning, a.Instances, a.TasksHealthy))
			}
		}
	}
	return waiting, nil
}

// appsOf lists the apps an object is: the app, or every app of the group.
func (h *host) appsOf(ctx context.Context, o layers.Object) ([]marathon.AppInfo, error) {
	if o.Kind == "app" {
		a, err := h.cl.App(ctx, o.Name)
		return []marathon.AppInfo{a}, err
	}
	g, err := h.cl.Group(ctx, o.Name)
	return g.AllApps(), err
}

// up reports whether an app runs its instances, healthy where checked.
func up(a marathon.AppInfo) bool {
	return a.TasksRunning == a.Instances && (len(a.HealthChecks) == 0 || a.TasksHealthy == a.Instances)
}

// failure is the app's last task failure when it happened since the app's
// last change and the app is short of instances: its current definition
// does not start. Older failures (of earlier versions) do not count.
func failure(a marathon.AppInfo) *marathon.TaskFailure {
	f := a.LastTaskFailure
	if f == nil || a.TasksRunning >= a.Instances {
		return nil
	}
	at, err1 := time.Parse(time.RFC3339Nano, f.Timestamp)
	changed, err2 := time.Parse(time.RFC3339Nano, a.Version)
	if err1 != nil || err2 != nil {
		if f.Version != a.Version {
			return nil
		}
	} else if at.Before(changed) {
		return nil
	}
	return f
}

// within reports whether the app or group id is root or under it.
func within(id, root string) bool {
	root = "/" + strings.Trim(root, "/")
	return id == root || strings.HasPrefix(id, root+"/")
}

// List returns one object per app carrying all of labels.
func (h *host) List(ctx context.Context, labels map[string]string) ([]layers.Placed, error) {
	apps, err := h.cl.Apps(ctx, labels)
	if err != nil {
		return nil, fmt.Errorf("mesos: listing apps: %w", err)
	}
	out := make([]layers.Placed, 0, len(apps))
	for _, a := range apps {
		state := provisioners.StatePending
		switch {
		case failure(a) != nil:
			state = provisioners.StateError
		case a.TasksRunning == a.Instances:
			state = provisioners.StateRunning
		}
		out = append(out, layers.Placed{ID: a.ID, Kind: "app", Labels: maps.Clone(a.Labels), State: state})
	}
	return out, nil
}

// Remove deletes the app (or group) and waits for its deployment, then
// removes the groups above it that it leaves empty, so that nothing of a
// destroyed stack stays in Marathon. One already gone is success.
func (h *host) Remove(ctx context.Context, p layers.Placed) error {
	var (
		d   string
		err error
	)
	force := marathon.ForceIf(h.mayCancel(p.ID, true))
	switch p.Kind {
	case "app":
		d, err = h.cl.DeleteApp(ctx, p.ID, force)
	case "group":
		d, err = h.cl.DeleteGroup(ctx, p.ID, force)
	default:
		return fmt.Errorf("mesos: cannot remove %s %s: Marathon holds apps and groups", p.Kind, p.ID)
	}
	if err != nil && !marathon.IsNotFound(err) {
		return fmt.Errorf("mesos: removing %s %s: %w", p.Kind, p.ID, err)
	}
	if err := h.cl.WaitDeployments(ctx, d); err != nil {
		return fmt.Errorf("mesos: removing %s %s: %w", p.Kind, p.ID, err)
	}
	return h.prune(ctx, p.ID)
}

// prune removes the groups above id, nearest first, while they are empty.
// A group filled between the look and the delete would lose what came in:
// the engine removes before it submits, so nothing comes in meanwhile.
func (h *host) prune(ctx context.Context, id string) error {
	for g := path.Dir("/" + strings.Trim(id, "/")); g != "/"; g = path.Dir(g) {
		info, err := h.cl.Group(ctx, g)
		if marathon.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mesos: removing the empty group %s: %w", g, err)
		}
		if len(info.Apps) > 0 || len(info.Groups) > 0 {
			return nil
		}
		// Nothing to cancel in an empty group: no force.
		d, err := h.cl.DeleteGroup(ctx, g)
		if err != nil && !marathon.IsNotFound(err) {
			return fmt.Errorf("mesos: removing the empty group %s: %w", g, err)
		}
		if err := h.cl.WaitDeployments(ctx, d); err != nil {
			return fmt.Errorf("mesos: removing the empty group %s: %w", g, err)
		}
	}
	return nil
}

// mayCancel decides whether a write to id may cancel (force=true) the
// deployments that lock it. traits.raml: force "will cancel the current
// deployment" and "should be used only, if the current deployment is
// unsuccessful". So a submit forces only past deployments that are
// failing (an app they change fails since its last change) and change
// nothing outside id, which the submit replaces; a removal also forces
// past deployments that change nothing outside id, since what they would
// have finished goes anyway. Any other deployment is waited for.
func (h *host) mayCancel(id string, removing bool) func(context.Context, []marathon.Deployment) (bool, error) {
	return func(ctx context.Context, ds []marathon.Deployment) (bool, error) {
		for _, d := range ds {
			inside := !slices.ContainsFunc(d.AffectedApps, func(app string) bool { return !within(app, id) }) && len(d.AffectedPods) == 0
			if removing && inside {
				continue
			}
			if !removing && !inside {
				return false, nil
			}
			failing, err := h.anyFailing(ctx, d.AffectedApps)
			if err != nil || !failing {
				return false, err
			}
		}
		return true, nil
	}
}

func (h *host) anyFailing(ctx context.Context, ids []string) (bool, error) {
	for _, id := range ids {
		a, err := h.cl.App(ctx, id)
		if marathon.IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, err
		}
		if failure(a) != nil {
			return true, nil
		}
	}
	return false, nil
}

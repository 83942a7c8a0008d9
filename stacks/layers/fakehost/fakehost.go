package fakehost

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/layers"
)

// Host is an in-memory layers.Host. Its zero value is not ready for use:
// make one with New. It is safe for concurrent use.
type Host struct {
	mu      sync.Mutex
	objs    map[string]layers.Object // by ID
	events  []string
	waitErr map[string]error // object ID -> Wait failure
	opens   int
	busy    int // reaches left that fail as not answering yet
}

var _ layers.Host = (*Host)(nil)

// New returns an empty host.
func New() *Host {
	return &Host{objs: map[string]layers.Object{}, waitErr: map[string]error{}}
}

// ID is the id the host gives an object: its kind and name.
func ID(o layers.Object) string { return o.Kind + "/" + o.Name }

// Submit stores objs; an object stored already with the same body is left
// alone, as a real host leaves an unchanged object.
func (h *Host) Submit(ctx context.Context, objs []layers.Object) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range objs {
		id := ID(o)
		old, had := h.objs[id]
		switch {
		case !had:
			h.events = append(h.events, "submit "+id)
		case string(old.Body) != string(o.Body):
			h.events = append(h.events, "update "+id)
		default:
			continue
		}
		h.objs[id] = o
	}
	return nil
}

// Wait fails for an object FailWait names, or one that was never submitted.
func (h *Host) Wait(ctx context.Context, objs []layers.Object) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range objs {
		id := ID(o)
		if err := h.waitErr[id]; err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		if _, ok := h.objs[id]; !ok {
			return fmt.Errorf("%s was never submitted", id)
		}
		h.events = append(h.events, "ready "+id)
	}
	return nil
}

// List returns the stored objects that carry all of labels, by ID.
func (h *Host) List(ctx context.Context, labels map[string]string) ([]layers.Placed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []layers.Placed
	for _, id := range slices.Sorted(maps.Keys(h.objs)) {
		o := h.objs[id]
		if matches(o.Labels, labels) {
			out = append(out, layers.Placed{ID: id, Kind: o.Kind, Labels: maps.Clone(o.Labels), State: provisioners.StateRunning})
		}
	}
	return out, nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Remove deletes an object; one already gone is success.
func (h *Host) Remove(ctx context.Context, p layers.Placed) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.objs[p.ID]; ok {
		delete(h.objs, p.ID)
		h.events = append(h.events, "remove "+p.ID)
	}
	return nil
}

// FailWait makes Wait fail for the object of id with err.
func (h *Host) FailWait(id string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.waitErr[id] = err
}

// Events returns what happened, in order: "submit ID", "update ID",
// "ready ID", "remove ID".
func (h *Host) Events() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// IDs lists the stored objects' ids, sorted.
func (h *Host) IDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(maps.Keys(h.objs))
}

// Busy makes the next n reaches of the host fail as not answering yet.
func (h *Host) Busy(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.busy = n
}

// Opens counts how often a layer was reached as this host.
func (h *Host) Opens() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.opens
}

// Layer makes a layer kind a host served by a Host: its layers are up once
// every member of a role on a pool has an address.
type Layer struct {
	layers.Layer
	Served *Host
}

var _ layers.Hosting = Layer{}

// Host returns the served host, or an error wrapping layers.ErrNotUp while
// a member on a pool has no address.
func (l Layer) Host(ctx context.Context, c layers.Cluster) (layers.Host, error) {
	for role, ms := range c.Members {
		if c.Placements[role] != layers.Pool {
			continue
		}
		for _, m := range ms {
			if m.Address == "" {
				return nil, fmt.Errorf("%s has no address yet: %w", m.Name, layers.ErrNotUp)
			}
		}
	}
	l.Served.mu.Lock()
	defer l.Served.mu.Unlock()
	if l.Served.busy > 0 {
		l.Served.busy--
		return nil, provisioners.Transient(errors.New("the host does not answer yet"))
	}
	l.Served.opens++
	return l.Served, nil
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
)

// Swept is one stack a janitor pass found on the substrates by its tags.
type Swept struct {
	Stack string `json:"stack"`
	// Expires is the latest strata:expires of its machines; zero when one
	// of them has none, so the stack is not the janitor's to remove.
	Expires   time.Time `json:"expires,omitzero"`
	Expired   bool      `json:"expired"`
	CreatedBy []string  `json:"created_by,omitempty"`
	Machines  []string  `json:"machines"`
	Removed   []string  `json:"removed,omitempty"`
	// Skipped is why an expired stack was left (Claim refused it); Err
	// why removing it stopped.
	Skipped error `json:"-"`
	Err     error `json:"-"`
}

// Claim is asked before an expired stack is removed, and may refuse (a
// run holds its lock; its record says it has not expired). release is
// called once the removal ended, with its error.
type Claim func(ctx context.Context, stack string) (release func(error), err error)

// Sweep lists every machine carrying a strata:stack tag on the substrates
// of s (a stack file or a janitor file of substrate blocks) and groups them
// by stack. With claim, it then removes the stacks whose expiry passed at
// now and that claim grants: machines on a layer before the machines of
// that layer, stacks in parallel. Machines without the tag are never
// listed, so never touched. A stack that could not be removed carries its
// error; the returned error is for substrates that could not be opened or
// listed.
func (e *Engine) Sweep(ctx context.Context, s *stacks.Stack, now time.Time, claim Claim) ([]Swept, error) {
	subs, closeAll, err := e.openAll(ctx, s)
	defer closeAll()
	if err != nil {
		return nil, err
	}
	all, err := e.list(ctx, subs, nil)
	if err != nil {
		return nil, err
	}
	byStack := map[string][]instance{}
	seen := map[string]bool{}
	for _, in := range all {
		// Two blocks may name one place (the same datacenter twice).
		id := subs[in.substrate].block.Kind + "/" + in.ID
		if !seen[id] {
			seen[id] = true
			byStack[in.Tags[provisioners.TagStack]] = append(byStack[in.Tags[provisioners.TagStack]], in)
		}
	}
	out := make([]Swept, 0, len(byStack))
	for _, name := range sortedKeys(byStack) {
		out = append(out, found(name, byStack[name], now))
	}
	if claim == nil {
		return out, nil
	}
	var expired []int
	for i, sw := range out {
		if sw.Expired {
			expired = append(expired, i)
		}
	}
	// Each worker writes only its own out[i].
	_ = each(ctx, expired, func(ctx context.Context, i int) error {
		sw := &out[i]
		release, err := claim(ctx, sw.Stack)
		if err != nil {
			sw.Skipped = err
			return nil
		}
		var mu sync.Mutex
		err = e.sweepStack(ctx, subs, byStack[sw.Stack], func(name string) {
			mu.Lock()
			sw.Removed = append(sw.Removed, name)
			mu.Unlock()
		})
		release(err)
		slices.Sort(sw.Removed)
		sw.Err = err
		return nil // one stack's failure does not stop the others
	})
	return out, ctx.Err()
}

// found is what the tags of a stack's machines say about it.
func found(name string, ins []instance, now time.Time) Swept {
	sw := Swept{Stack: name}
	by := map[string]bool{}
	never := false
	for _, in := range ins {
		sw.Machines = append(sw.Machines, in.Name)
		if b := in.Tags[provisioners.TagCreatedBy]; b != "" {
			by[b] = true
		}
		t, err := time.Parse(time.RFC3339, in.Tags[provisioners.TagExpires])
		if err != nil {
			never = true
			continue
		}
		if t.After(sw.Expires) {
			sw.Expires = t
		}
	}
	if never {
		sw.Expires = time.Time{}
	}
	slices.Sort(sw.Machines)
	sw.CreatedBy = slices.Sorted(maps.Keys(by))
	sw.Expired = !sw.Expires.IsZero() && now.After(sw.Expires)
	return sw
}

// sweepStack removes a stack's machines, deepest first: a machine placed
// on a layer (strata:on = layer.K.N) goes before the machines that are
// that layer (strata:layer = K.N), and those before what they stand on.
func (e *Engine) sweepStack(ctx context.Context, subs map[string]*substrate, ins []instance, gone func(string)) error {
	depth := tagDepths(ins)
	levels := map[int][]instance{}
	for _, in := range ins {
		d := depth[in.Tags[provisioners.TagOn]]
		levels[d] = append(levels[d], in)
	}
	var errs []error
	for _, d := range slices.Backward(slices.Sorted(maps.Keys(levels))) {
		if err := e.removeAll(ctx, subs, levels[d], gone); err != nil {
			errs = append(errs, err)
			break // what stands under a machine that is still there stays
		}
	}
	return errors.Join(errs...)
}

// tagDepths ranks what machines are placed on, from their tags alone: a
// substrate 0, a layer one more than the deepest place its own machines
// stand on. Machines without strata:on (made before it existed) rank 0.
func tagDepths(ins []instance) map[string]int {
	on := map[string][]string{} // layer.K.N -> where its machines stand
	for _, in := range ins {
		if l := in.Tags[provisioners.TagLayer]; l != "" {
			on["layer."+l] = append(on["layer."+l], in.Tags[provisioners.TagOn])
		}
	}
	depth := map[string]int{}
	var of func(key string, seen map[string]bool) int
	of = func(key string, seen map[string]bool) int {
		if !strings.HasPrefix(key, "layer.") || seen[key] {
			return 0
		}
		if d, ok := depth[key]; ok {
			return d
		}
		seen[key] = true
		d := 1
		for _, under := range on[key] {
			d = max(d, 1+of(under, seen))
		}
		depth[key] = d
		return d
	}
	for _, in := range ins {
		of(in.Tags[provisioners.TagOn], map[string]bool{})
	}
	return depth
}

// String says what a sweep found of a stack, for a report line.
func (s Swept) String() string {
	exp := "never expires (a machine has no " + provisioners.TagExpires + ")"
	switch {
	case s.Expired:
		exp = "expired at " + s.Expires.Format(time.RFC3339)
	case !s.Expires.IsZero():
		exp = "expires at " + s.Expires.Format(time.RFC3339)
	}
	by := ""
	if len(s.CreatedBy) > 0 {
		by = ", created by " + strings.Join(s.CreatedBy, ", ")
	}
	return fmt.Sprintf("stack %q: %d machines, %s%s", s.Stack, len(s.Machines), exp, by)
}

package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/plan"
)

// Opener connects to the substrate a stack's substrate block describes.
type Opener interface {
	Open(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error)
}

// OpenFunc adapts a function to Opener.
type OpenFunc func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error)

// Open calls f.
func (f OpenFunc) Open(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
	return f(ctx, sub)
}

// DefaultParallelism bounds concurrent calls per substrate when the user
// sets no bound (the CLI's -parallelism, the provider's parallelism).
const DefaultParallelism = 10

// CheckParallelism is the one rule for a user-given bound: at least 1.
// Zero is refused rather than read as "the default", so that a bound a
// user wrote is never silently replaced.
func CheckParallelism(n int64) error {
	if n < 1 {
		return fmt.Errorf("parallelism must be at least 1, got %d", n)
	}
	return nil
}

// Options tune an Engine; zero values take the defaults.
type Options struct {
	// Parallelism bounds concurrent calls per substrate (default
	// DefaultParallelism).
	Parallelism int
	// Attempts bounds tries of a transient failure (default 5).
	Attempts int
	// BaseDelay and MaxDelay shape the backoff (defaults 500 ms and 20 s).
	BaseDelay, MaxDelay time.Duration
	// LayerTimeout bounds the wait for a layer that is a substrate (an
	// openstack layer's Keystone) to answer once its machines are up,
	// before the pools on it are made (default 30 min: a cloud's control
	// plane installs itself after its machines boot).
	LayerTimeout time.Duration
	// Report receives progress events; it must be safe for concurrent use.
	Report func(Event)
}

// Event actions.
const (
	ActionCreate = "create"
	ActionAdopt  = "adopt" // found made by an earlier run
	ActionReady  = "ready"
	ActionDelete = "delete"
	ActionRetry  = "retry"  // after a transient error
	ActionWait   = "wait"   // for a layer to answer
	ActionSubmit = "submit" // a hosted role's objects to its host layer
	ActionTag    = "tag"    // a machine's expiry, when the TTL changed
)

// Event is one thing that happened to a machine or a hosted role.
type Event struct {
	Time   time.Time
	Action string // one of the Action constants
	// Machine names the machine, the hosted role (LAYER/ROLE, e.g.
	// mesos.core/agent) or the layer waited for.
	Machine string
	Err     error // for retry: the transient error
	Attempt int
}

// Engine applies plans.
type Engine struct {
	open Opener
	opts Options
}

// New makes an engine.
func New(open Opener, opts Options) *Engine {
	if opts.Parallelism <= 0 {
		opts.Parallelism = DefaultParallelism
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 500 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 20 * time.Second
	}
	if opts.LayerTimeout <= 0 {
		opts.LayerTimeout = 30 * time.Minute
	}
	return &Engine{open: open, opts: opts}
}

// Machine is a planned machine as it exists.
type Machine struct {
	plan.Machine
	ID        string   `json:"id"`
	Addresses []string `json:"addresses"`
	State     string   `json:"state"`
}

// StateAbsent is the state status gives what the plan has and nothing on
// the substrates or hosts matches; the rest are provisioners' State*.
const StateAbsent = "absent"

// Hosted is a planned hosted role as it exists.
type Hosted struct {
	plan.Hosted
	// Objects are its objects' ids on the host layer.
	Objects []string `json:"objects"`
	State   string   `json:"state"` // StateAbsent, or the least ready of its objects'
}

// Result is what an apply, destroy or status found and did.
type Result struct {
	Stack    string    `json:"stack"`
	Machines []Machine `json:"machines"`
	Hosted   []Hosted  `json:"hosted,omitempty"`
	// Removed and RemovedObjects name the machines deleted and the hosted
	// objects removed (LAYER:ID). Orphans and OrphanObjects are the
	// machines and hosted objects found that the plan does not know (status
	// only).
	Removed        []string `json:"removed,omitempty"`
	RemovedObjects []string `json:"removed_objects,omitempty"`
	Orphans        []string `json:"orphans,omitempty"`
	OrphanObjects  []string `json:"orphan_objects,omitempty"`
}

// ErrUnsupported marks a plan this engine cannot apply yet; nothing was
// touched when it is returned.
var ErrUnsupported = errors.New("not supported by this engine yet")

// Check says whether every step of the plan can be applied, before anything
// is made: a half-applied stack must never be the way to find out.
func Check(p *plan.Plan) error {
	var problems []string
	for _, h := range p.Hosted {
		if !p.CanHost(h.On) {
			problems = append(problems, fmt.Sprintf("role %s of layer %s is hosted on layer %s: submitting to a %s layer is not implemented yet (strata render -layer %s/%s prints its objects)",
				h.Role, h.Layer, h.On, strings.SplitN(h.On, ".", 2)[0], h.Layer, h.Role))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrUnsupported, strings.Join(problems, "; "))
	}
	return nil
}

// substrate is one opened substrate with its parallelism bound.
type substrate struct {
	block *stacks.Substrate // the stack's block, or the one a layer became
	prov  provisioners.Provisioner
	sem   chan struct{}
}

// openAll opens every substrate of the stack; the returned func closes
// (logs out of) those that can be closed, and must be called even on error.
func (e *Engine) openAll(ctx context.Context, s *stacks.Stack) (map[string]*substrate, func(), error) {
	out := map[string]*substrate{}
	closeAll := func() {
		for _, sub := range out {
			if c, ok := sub.prov.(io.Closer); ok {
				_ = c.Close() // a failed logout leaves nothing behind to clean up
			}
		}
	}
	for _, sub := range s.Substrates {
		key := "substrate." + sub.Kind + "." + sub.Name
		prov, err := e.open.Open(ctx, sub)
		if err != nil {
			return nil, closeAll, fmt.Errorf("%s: %w", key, err)
		}
		out[key] = &substrate{block: sub, prov: prov, sem: make(chan struct{}, e.opts.Parallelism)}
	}
	return out, closeAll, nil
}

// layerKeys are the layers that pools are placed on ("layer.KIND.NAME"),
// sorted.
func layerKeys(s *stacks.Stack) []string {
	seen := map[string]bool{}
	for _, pool := range s.Pools {
		if pool.Substrate.Root == "layer" {
			seen[pool.Substrate.String()] = true
		}
	}
	return sortedKeys(seen)
}

// openLayer opens the substrate the layer of key became, reached as its
// kind derives from the members' known addresses. The error wraps
// layers.ErrNotUp while the layer's machines are not up.
func (e *Engine) openLayer(ctx context.Context, p *plan.Plan, sec layers.Secrets, key string, known plan.Addresses) (*substrate, error) {
	block, err := p.LayerSubstrate(ctx, sec, strings.TrimPrefix(key, "layer."), known)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	prov, err := e.open.Open(ctx, block)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &substrate{block: block, prov: prov, sem: make(chan struct{}, e.opts.Parallelism)}, nil
}

// awaitLayer opens the layer substrate of key for an apply, once the
// layer's machines are up (await).
func (e *Engine) awaitLayer(ctx context.Context, p *plan.Plan, sec layers.Secrets, key string, known plan.Addresses) (*substrate, error) {
	var sub *substrate
	err := e.await(ctx, key, func(ctx context.Context) (err error) {
		sub, err = e.openLayer(ctx, p, sec, key, known)
		return err
	})
	return sub, err
}

// awaitHost reaches the layer of key as a host for an apply, once the
// layer's machines are up (await).
func (e *Engine) awaitHost(ctx context.Context, p *plan.Plan, sec layers.Secrets, key string, known plan.Addresses) (*host, error) {
	var h *host
	err := e.await(ctx, key, func(ctx context.Context) error {
		got, err := p.LayerHost(ctx, sec, strings.TrimPrefix(key, "layer."), known)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		h = &host{h: got, sem: make(chan struct{}, e.opts.Parallelism)}
		return nil
	})
	return h, err
}

// await keeps trying to reach the layer of key while it does not answer
// yet (transient errors), up to Options.LayerTimeout; the timeout error
// carries what the layer last answered.
func (e *Engine) await(parent context.Context, key string, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, e.opts.LayerTimeout)
	defer cancel()
	var last error
	timedOut := func() error {
		return fmt.Errorf("%s did not answer within %s of its machines being up: %w", key, e.opts.LayerTimeout, last)
	}
	for attempt := 1; ; attempt++ {
		err := try(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil && parent.Err() == nil:
			// The timeout ran out during this attempt, whose own error is
			// then only the deadline's.
			last = cmp.Or(last, err)
			return timedOut()
		case !provisioners.IsTransient(err):
			return err
		}
		last = err
		e.report(Event{Action: ActionWait, Machine: key, Err: err, Attempt: attempt})
		t := time.NewTimer(min(e.opts.BaseDelay<<min(attempt-1, 6), e.opts.MaxDelay))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if err := parent.Err(); err != nil {
				return err
			}
			return timedOut()
		}
	}
}

func stackTags(name string) map[string]string { return map[string]string{provisioners.TagStack: name} }

// existing lists what each substrate holds for the stack, by name.
func (e *Engine) existing(ctx context.Context, stack string, subs map[string]*substrate) (map[string][]instance, error) {
	list, err := e.list(ctx, subs, stackTags(stack))
	found := map[string][]instance{}
	for _, in := range list {
		found[in.Name] = append(found[in.Name], in)
	}
	return found, err
}

// list lists the machines carrying tags on every substrate, in parallel.
func (e *Engine) list(ctx context.Context, subs map[string]*substrate, tags map[string]string) ([]instance, error) {
	var mu sync.Mutex
	var found []instance
	err := each(ctx, sortedKeys(subs), func(ctx context.Context, key string) error {
		var list []provisioners.Instance
		err := e.retry(ctx, "list "+key, func() error {
			var err error
			list, err = subs[key].prov.List(ctx, tags)
			return err
		})
		if err != nil {
			return fmt.Errorf("listing %s: %w", key, err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, in := range list {
			found = append(found, instance{Instance: in, substrate: key})
		}
		return nil
	})
	return found, err
}

// host is a layer reached as a host for hosted roles, with its
// parallelism bound.
type host struct {
	h   layers.Host
	sem chan struct{}
}

// placed is a hosted object as found, on the host layer of key host.
type placed struct {
	layers.Placed
	host string
}

func (o placed) name() string { return strings.TrimPrefix(o.host, "layer.") + ":" + o.ID }

// world is what a survey found: the substrates and hosts it opened, and
// what they hold for the stack.
type world struct {
	subs   map[string]*substrate // by substrate.KIND.NAME or layer.KIND.NAME
	hosts  map[string]*host      // by layer.KIND.NAME
	found  map[string][]instance // by machine name
	placed []placed
	known  plan.Addresses // the running machines' addresses
	// busy are the hosts asked to host roles whose machines are up but
	// whose API did not answer yet: what they hold is not known.
	busy []string
}

// hostKeys are the stack's layers of a kind that hosts roles
// ("layer.KIND.NAME"), whether the plan places roles on them or not (so
// objects of roles no longer in the file are found), sorted.
func hostKeys(p *plan.Plan) []string {
	var out []string
	for _, l := range p.Source().Layers {
		if p.CanHost(l.Key()) {
			out = append(out, "layer."+l.Key())
		}
	}
	sort.Strings(out)
	return out
}

// survey opens every substrate of the stack, used or not (so machines left
// on one a pool no longer uses are found), and lists what each holds for
// the stack; then the same for the layers that are substrates or hosts and
// are up (a layer whose machines are not up, or that does not answer yet,
// holds nothing yet). closeAll must be called even on error.
func (e *Engine) survey(ctx context.Context, p *plan.Plan, sec layers.Secrets) (*world, func(), error) {
	s := p.Source()
	subs, closeAll, err := e.openAll(ctx, s)
	if err != nil {
		return nil, closeAll, err
	}
	w := &world{subs: subs, hosts: map[string]*host{}}
	w.found, err = e.existing(ctx, s.Name, subs)
	if err != nil || (len(layerKeys(s)) == 0 && len(hostKeys(p)) == 0) {
		return w, closeAll, err
	}
	known := plan.Addresses{}
	for name, ins := range w.found {
		for _, in := range ins {
			if in.State == provisioners.StateRunning && len(in.Addresses) > 0 {
				known[name] = in.Addresses[0]
			}
		}
	}
	layerSubs := map[string]*substrate{}
	for _, key := range layerKeys(s) {
		sub, err := e.openLayer(ctx, p, sec, key, known)
		if errors.Is(err, layers.ErrNotUp) {
			continue
		}
		if err != nil {
			return w, closeAll, err
		}
		subs[key], layerSubs[key] = sub, sub
	}
	more, err := e.existing(ctx, s.Name, layerSubs)
	for name, ins := range more {
		w.found[name] = append(w.found[name], ins...)
	}
	if err != nil {
		return w, closeAll, err
	}
	hosting := map[string]bool{}
	for _, h := range p.Hosted {
		hosting["layer."+h.On] = true
	}
	w.known = known
	for _, key := range hostKeys(p) {
		h, err := p.LayerHost(ctx, sec, strings.TrimPrefix(key, "layer."), known)
		switch {
		case provisioners.IsTransient(err) && hosting[key]:
			w.busy = append(w.busy, key)
			continue
		case errors.Is(err, layers.ErrNotUp) || provisioners.IsTransient(err) || (err != nil && !hosting[key]):
			// Not up yet, or not reachable as a host and asked to host
			// nothing: whatever it holds goes with its layer.
			continue
		case err != nil:
			return w, closeAll, fmt.Errorf("%s: %w", key, err)
		}
		if err := e.listHost(ctx, w, s.Name, key, &host{h: h, sem: make(chan struct{}, e.opts.Parallelism)}); err != nil {
			return w, closeAll, err
		}
	}
	return w, closeAll, nil
}

// listHost records h as the host of key and what it holds for the stack.
func (e *Engine) listHost(ctx context.Context, w *world, stack, key string, h *host) error {
	w.hosts[key] = h
	var list []layers.Placed
	err := e.retry(ctx, "list "+key, func() error {
		var err error
		list, err = h.h.List(ctx, map[string]string{layers.LabelStack: stack})
		return err
	})
	if err != nil {
		return fmt.Errorf("listing %s: %w", key, err)
	}
	for _, o := range list {
		w.placed = append(w.placed, placed{Placed: o, host: key})
	}
	return nil
}

type instance struct {
	provisioners.Instance
	substrate string
}

// Apply makes the stack's machines and hosted roles match the plan. On
// error the Result still lists every machine made or found, so callers can
// record it; a re-run adopts them by their tags.
func (e *Engine) Apply(ctx context.Context, p *plan.Plan, sec layers.Secrets) (*Result, error) {
	if err := Check(p); err != nil {
		return nil, err
	}
	s := p.Source()
	w, closeAll, err := e.survey(ctx, p, sec)
	defer closeAll()
	if err != nil {
		return nil, err
	}
	subs := w.subs
	res := &Result{Stack: s.Name}
	st := &applyState{known: plan.Addresses{}, machines: map[string]*Machine{}, hosted: map[string]*Hosted{}}

	// Keep one instance per planned machine, on the right substrate and
	// with the planned role; everything else goes.
	want := map[string]plan.Machine{}
	for _, m := range p.Machines {
		want[m.Name] = m
	}
	var doomed, kept []instance
	for _, name := range sortedKeys(w.found) {
		ins := w.found[name]
		sort.SliceStable(ins, func(i, j int) bool { return rank(ins[i].State) < rank(ins[j].State) })
		m, planned := want[name]
		for i, in := range ins {
			if !planned || i > 0 || in.substrate != m.Substrate || in.Tags[provisioners.TagRole] != m.Tags[provisioners.TagRole] || in.Tags[provisioners.TagLayer] != m.Tags[provisioners.TagLayer] {
				doomed = append(doomed, in)
				continue
			}
			st.adopt(m, in.Instance)
			kept = append(kept, in)
		}
	}
	if err := e.retag(ctx, subs, kept, p.Mark); err != nil {
		return st.result(res, p), err
	}
	// A host that stays in the stack but did not answer the survey is
	// waited for: what it holds of roles no longer planned there goes now,
	// not at some later apply.
	for _, key := range w.busy {
		h, err := e.awaitHost(ctx, p, sec, key, w.known)
		if err != nil {
			return st.result(res, p), err
		}
		if err := e.listHost(ctx, w, s.Name, key, h); err != nil {
			return st.result(res, p), err
		}
	}
	removed, removedObjs, err := e.remove(ctx, p, w, doomed, unplanned(p, w.placed))
	res.Removed, res.RemovedObjects = removed, removedObjs
	if err != nil {
		return st.result(res, p), err
	}
	for _, stage := range stages(p.Steps) {
		// The substrates and hosts layers became are reached as the first
		// pool or hosted role on them is due: the plan orders those after
		// their layer.
		for _, step := range stage {
			if !strings.HasPrefix(step.Target, "layer.") {
				continue
			}
			switch _, open := subs[step.Target]; {
			case step.Action == "create" && !open:
				sub, err := e.awaitLayer(ctx, p, sec, step.Target, st.addresses())
				if err != nil {
					return st.result(res, p), err
				}
				subs[step.Target] = sub
			case step.Action == "submit" && w.hosts[step.Target] == nil:
				h, err := e.awaitHost(ctx, p, sec, step.Target, st.addresses())
				if err != nil {
					return st.result(res, p), err
				}
				w.hosts[step.Target] = h
			}
		}
		err := each(ctx, stage, func(ctx context.Context, step plan.Step) error {
			switch step.Action {
			case "create":
				return e.create(ctx, p, sec, subs, st, step)
			case "submit":
				return e.submit(ctx, p, sec, w.hosts[step.Target], st, step)
			}
			return nil // ready steps are barriers: create and submit wait for readiness
		})
		if err != nil {
			return st.result(res, p), err
		}
	}
	return st.result(res, p), nil
}

// unplanned are the placed objects of roles the plan does not host where
// they are. An object without a role label is shared by its layer's roles
// (a namespace): it stays while any of them is planned there.
func unplanned(p *plan.Plan, found []placed) []placed {
	want := map[string]bool{}
	for _, h := range p.Hosted {
		want["layer."+h.On+" "+h.Layer+"/"+h.Role] = true
		want["layer."+h.On+" "+h.Layer+"/"] = true
	}
	var out []placed
	for _, o := range found {
		if !want[o.host+" "+o.Labels[layers.LabelLayer]+"/"+o.Labels[layers.LabelRole]] {
			out = append(out, o)
		}
	}
	return out
}

// submit renders a hosted role's objects with the addresses known so far,
// submits them to the host and waits until they are up.
func (e *Engine) submit(ctx context.Context, p *plan.Plan, sec layers.Secrets, h *host, st *applyState, step plan.Step) error {
	key, role, _ := strings.Cut(strings.TrimPrefix(step.ID, "submit:layer."), "/")
	what := key + "/" + role
	objs, err := p.RenderHosted(ctx, sec, key, role, st.addresses())
	if err != nil {
		return fmt.Errorf("rendering %s: %w", what, err)
	}
	if err := e.hostCall(ctx, h, "submit "+what, func() error { return h.h.Submit(ctx, objs) }); err != nil {
		return fmt.Errorf("submitting %s to %s: %w", what, step.Target, err)
	}
	e.report(Event{Action: ActionSubmit, Machine: what})
	wctx, cancel := context.WithTimeout(ctx, e.opts.LayerTimeout)
	defer cancel()
	if err := e.hostCall(wctx, h, "wait for "+what, func() error { return h.h.Wait(wctx, objs) }); err != nil {
		return fmt.Errorf("waiting for %s on %s: %w", what, step.Target, err)
	}
	var list []layers.Placed
	err = e.hostCall(ctx, h, "list "+what, func() (err error) {
		list, err = h.h.List(ctx, objs[0].Labels)
		return err
	})
	if err != nil {
		return fmt.Errorf("listing %s on %s: %w", what, step.Target, err)
	}
	st.hostedUp(key, role, list)
	e.report(Event{Action: ActionReady, Machine: what})
	return nil
}

// hostCall runs one host call under the host's parallelism bound, with
// retries.
func (e *Engine) hostCall(ctx context.Context, h *host, what string, f func() error) error {
	return e.retry(ctx, what, func() error {
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-h.sem }()
		return f()
	})
}

// applyState is what an apply has learnt so far, shared by its workers.
type applyState struct {
	mu       sync.Mutex
	known    plan.Addresses
	machines map[string]*Machine
	hosted   map[string]*Hosted // by LAYER/ROLE
}

func (st *applyState) hostedUp(layer, role string, objs []layers.Placed) {
	st.mu.Lock()
	defer st.mu.Unlock()
	h := &Hosted{State: provisioners.StateRunning}
	for _, o := range objs {
		h.Objects = append(h.Objects, o.ID)
	}
	st.hosted[layer+"/"+role] = h
}

func (st *applyState) adopt(m plan.Machine, in provisioners.Instance) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.machines[m.Name] = &Machine{Machine: m, ID: in.ID, Addresses: in.Addresses, State: in.State}
	if len(in.Addresses) > 0 {
		st.known[m.Name] = in.Addresses[0]
	}
}

func (st *applyState) get(name string) (*Machine, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	m, ok := st.machines[name]
	return m, ok
}

func (st *applyState) addresses() plan.Addresses {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(plan.Addresses, len(st.known))
	for k, v := range st.known {
		out[k] = v
	}
	return out
}

func (st *applyState) result(res *Result, p *plan.Plan) *Result {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range p.Machines {
		if got, ok := st.machines[m.Name]; ok {
			res.Machines = append(res.Machines, *got)
		}
	}
	for _, h := range p.Hosted {
		if got, ok := st.hosted[h.Layer+"/"+h.Role]; ok {
			got.Hosted = h
			res.Hosted = append(res.Hosted, *got)
		}
	}
	return res
}

// rank orders duplicates so the one most worth keeping comes first.
func rank(state string) int {
	switch state {
	case provisioners.StateRunning:
		return 0
	case provisioners.StatePending, provisioners.StateStopped:
		return 1
	}
	return 2
}

// stepMachines are the machines a create step makes.
func stepMachines(p *plan.Plan, step plan.Step) []plan.Machine {
	rest := strings.TrimPrefix(step.ID, "create:pool.")
	pool, lr, _ := strings.Cut(rest, "/")
	layer, role := "", ""
	if lr != "" {
		i := strings.LastIndex(lr, "/")
		layer, role = lr[:i], lr[i+1:]
	}
	var out []plan.Machine
	for _, m := range p.Machines {
		if m.Pool == pool && m.Layer == layer && m.Role == role {
			out = append(out, m)
		}
	}
	return out
}

// create makes (or adopts) and readies every machine of a create step.
func (e *Engine) create(ctx context.Context, p *plan.Plan, sec layers.Secrets, subs map[string]*substrate, st *applyState, step plan.Step) error {
	ms := stepMachines(p, step)
	// Render with the addresses of everything up before this stage, so
	// joiners name their masters by address.
	known := st.addresses()
	pools := map[string]*stacks.Pool{}
	for _, pool := range p.Source().Pools {
		pools[pool.Name] = pool
	}
	return each(ctx, ms, func(ctx context.Context, m plan.Machine) error {
		sub := subs[m.Substrate]
		got, exists := st.get(m.Name)
		id := ""
		if exists {
			id = got.ID
			e.report(Event{Action: ActionAdopt, Machine: m.Name})
		} else {
			var userData []byte
			if m.Role != "" {
				b, err := p.RenderNode(ctx, sec, m.Pool, m.Index, known)
				if err != nil {
					return fmt.Errorf("rendering %s: %w", m.Name, err)
				}
				userData = b.UserData
			}
			pool := pools[m.Pool]
			in, err := e.call(ctx, sub, "create "+m.Name, func() (provisioners.Instance, error) {
				return sub.prov.Create(ctx, provisioners.Machine{
					Name: m.Name, Tags: markTags(m.Tags, p.Mark), CPUs: m.CPUs, MemoryMB: m.MemoryMB, DiskGB: m.DiskGB,
					Substrate: sub.block.Settings, Pool: pool.Settings, UserData: userData, Group: m.Group,
				})
			})
			if err != nil {
				return fmt.Errorf("creating %s on %s: %w", m.Name, m.Substrate, err)
			}
			st.adopt(m, in)
			id = in.ID
			e.report(Event{Action: ActionCreate, Machine: m.Name})
		}
		in, err := e.call(ctx, sub, "ready "+m.Name, func() (provisioners.Instance, error) {
			return sub.prov.Ready(ctx, id)
		})
		if err != nil {
			return fmt.Errorf("waiting for %s on %s: %w", m.Name, m.Substrate, err)
		}
		st.adopt(m, in)
		e.report(Event{Action: ActionReady, Machine: m.Name})
		return nil
	})
}

// markTags are a machine's tags with the run's mark.
func markTags(tags map[string]string, mk provisioners.Mark) map[string]string {
	out := mk.Tags()
	maps.Copy(out, tags)
	return out
}

// retag brings the expiry of machines made by earlier runs in line with
// the run's mark (a TTL extended), so a janitor reading the substrates
// sees the new one. Who made a machine stays as it was.
func (e *Engine) retag(ctx context.Context, subs map[string]*substrate, ins []instance, mk provisioners.Mark) error {
	want, ok := mk.Tags()[provisioners.TagExpires]
	if !ok {
		return nil
	}
	var stale []instance
	for _, in := range ins {
		if in.Tags[provisioners.TagExpires] != want {
			stale = append(stale, in)
		}
	}
	return each(ctx, stale, func(ctx context.Context, in instance) error {
		sub := subs[in.substrate]
		_, err := e.call(ctx, sub, "tag "+in.Name, func() (provisioners.Instance, error) {
			return provisioners.Instance{}, sub.prov.Tag(ctx, in.ID, map[string]string{provisioners.TagExpires: want})
		})
		if err != nil {
			return fmt.Errorf("re-tagging %s (%s) on %s with its new expiry: %w", in.Name, in.ID, in.substrate, err)
		}
		e.report(Event{Action: ActionTag, Machine: in.Name})
		return nil
	})
}

// call runs one provisioner call under the substrate's parallelism bound,
// with retries.
func (e *Engine) call(ctx context.Context, sub *substrate, what string, f func() (provisioners.Instance, error)) (provisioners.Instance, error) {
	var out provisioners.Instance
	err := e.retry(ctx, what, func() error {
		select {
		case sub.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-sub.sem }()
		var err error
		out, err = f()
		return err
	})
	return out, err
}

// retry runs f until it succeeds, fails for good, or attempts run out;
// transient failures wait a full-jitter exponential backoff.
func (e *Engine) retry(ctx context.Context, what string, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !provisioners.IsTransient(err) || attempt >= e.opts.Attempts {
			if err != nil && provisioners.IsTransient(err) {
				return fmt.Errorf("%s: gave up after %d attempts: %w", what, attempt, err)
			}
			return err
		}
		e.report(Event{Action: ActionRetry, Machine: what, Err: err, Attempt: attempt})
		ceiling := e.opts.BaseDelay << (attempt - 1)
		if ceiling > e.opts.MaxDelay || ceiling <= 0 {
			ceiling = e.opts.MaxDelay
		}
		t := time.NewTimer(time.Duration(rand.Int64N(int64(ceiling) + 1)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

func (e *Engine) report(ev Event) {
	if e.opts.Report != nil {
		ev.Time = time.Now()
		e.opts.Report(ev)
	}
}

// remove deletes instances and hosted objects in parallel and returns the
// names of the machines and of the objects (LAYER:ID) it removed. What is
// on a layer goes before the layer's own parts, deepest layer first:
// tenants of a cloud before the cloud's workloads, those before the
// machines of the layer they run on.
func (e *Engine) remove(ctx context.Context, p *plan.Plan, w *world, doomed []instance, objs []placed) (machines, objects []string, err error) {
	depth := depths(p)
	insAt, objsAt := map[int][]instance{}, map[int][]placed{}
	for _, in := range doomed {
		d := depthOf(depth, in.substrate)
		insAt[d] = append(insAt[d], in)
	}
	for _, o := range objs {
		d := depthOf(depth, o.host)
		objsAt[d] = append(objsAt[d], o)
	}
	levels := map[int]bool{}
	for d := range insAt {
		levels[d] = true
	}
	for d := range objsAt {
		levels[d] = true
	}
	var mu sync.Mutex
	gone := func(into *[]string) func(string) {
		return func(name string) {
			mu.Lock()
			*into = append(*into, name)
			mu.Unlock()
		}
	}
	for _, d := range slices.Backward(slices.Sorted(maps.Keys(levels))) {
		objectGone := gone(&objects)
		err = errors.Join(
			each(ctx, objsAt[d], func(ctx context.Context, o placed) error {
				h := w.hosts[o.host]
				if err := e.hostCall(ctx, h, "remove "+o.name(), func() error { return h.h.Remove(ctx, o.Placed) }); err != nil {
					return fmt.Errorf("removing %s from %s: %w", o.ID, o.host, err)
				}
				e.report(Event{Action: ActionDelete, Machine: o.name()})
				objectGone(o.name())
				return nil
			}),
			e.removeAll(ctx, w.subs, insAt[d], gone(&machines)))
		if err != nil {
			break
		}
	}
	sort.Strings(machines)
	sort.Strings(objects)
	return machines, objects, err
}

// depths ranks what things are placed on by when it comes up: a layer
// ("layer.KIND.NAME") by the stage of its readiness in the plan, the
// stack's substrates 0, and a layer the plan no longer has above all.
func depths(p *plan.Plan) map[string]int {
	out := map[string]int{}
	for _, st := range p.Steps {
		if st.Action == "ready" && strings.HasPrefix(st.ID, "ready:layer.") && !strings.Contains(st.ID, "/") {
			out[strings.TrimPrefix(st.ID, "ready:")] = st.Stage
		}
	}
	return out
}

func depthOf(depth map[string]int, target string) int {
	if !strings.HasPrefix(target, "layer.") {
		return 0
	}
	if d, ok := depth[target]; ok {
		return d
	}
	return math.MaxInt
}

// removeAll deletes instances in parallel, calling gone with the name of
// each it deleted.
func (e *Engine) removeAll(ctx context.Context, subs map[string]*substrate, doomed []instance, gone func(string)) error {
	return each(ctx, doomed, func(ctx context.Context, in instance) error {
		sub := subs[in.substrate]
		_, err := e.call(ctx, sub, "delete "+in.Name, func() (provisioners.Instance, error) {
			return provisioners.Instance{}, sub.prov.Delete(ctx, in.ID)
		})
		if err != nil {
			return fmt.Errorf("deleting %s (%s) on %s: %w", in.Name, in.ID, in.substrate, err)
		}
		e.report(Event{Action: ActionDelete, Machine: in.Name})
		gone(in.Name)
		return nil
	})
}

// Destroy removes every machine that carries the stack's tag on any of the
// stack's substrates, and every object that carries its label on the
// layers that host roles, what is on a layer before the layer. sec are
// the stack's secrets, which reaching layers takes.
func (e *Engine) Destroy(ctx context.Context, p *plan.Plan, sec layers.Secrets) (*Result, error) {
	s := p.Source()
	w, closeAll, err := e.survey(ctx, p, sec)
	defer closeAll()
	if err != nil {
		return nil, err
	}
	var all []instance
	for _, name := range sortedKeys(w.found) {
		all = append(all, w.found[name]...)
	}
	removed, removedObjs, err := e.remove(ctx, p, w, all, w.placed)
	return &Result{Stack: s.Name, Removed: removed, RemovedObjects: removedObjs}, err
}

// Status reports what exists for the plan, and what exists that it does
// not plan (orphans).
func (e *Engine) Status(ctx context.Context, p *plan.Plan, sec layers.Secrets) (*Result, error) {
	s := p.Source()
	w, closeAll, err := e.survey(ctx, p, sec)
	defer closeAll()
	if err != nil {
		return nil, err
	}
	res := &Result{Stack: s.Name}
	planned := map[string]bool{}
	for _, m := range p.Machines {
		planned[m.Name] = true
		ins := w.found[m.Name]
		got := Machine{Machine: m, State: StateAbsent}
		if len(ins) > 0 {
			got.ID, got.Addresses, got.State = ins[0].ID, ins[0].Addresses, ins[0].State
		}
		res.Machines = append(res.Machines, got)
	}
	for _, name := range sortedKeys(w.found) {
		if !planned[name] {
			res.Orphans = append(res.Orphans, name)
		}
	}
	for _, h := range p.Hosted {
		got := Hosted{Hosted: h, State: StateAbsent}
		for _, o := range w.placed {
			if o.host == "layer."+h.On && o.Labels[layers.LabelLayer] == h.Layer && o.Labels[layers.LabelRole] == h.Role {
				got.Objects = append(got.Objects, o.ID)
				got.State = worst(got.State, o.State)
			}
		}
		res.Hosted = append(res.Hosted, got)
	}
	for _, o := range unplanned(p, w.placed) {
		res.OrphanObjects = append(res.OrphanObjects, o.name())
	}
	return res, nil
}

// worst is the state of a role from one more of its objects: absent until
// one is found, then the least ready of them.
func worst(role, obj string) string {
	if role == StateAbsent || rank(obj) > rank(role) {
		return obj
	}
	return role
}

// stages groups steps (already ordered by stage) by stage.
func stages(steps []plan.Step) [][]plan.Step {
	var out [][]plan.Step
	for i, s := range steps {
		if i == 0 || s.Stage != steps[i-1].Stage {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], s)
	}
	return out
}

// each runs f for every item concurrently and returns the first error; the
// first error cancels the others' context.
func each[T any](ctx context.Context, items []T, f func(context.Context, T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx, it); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

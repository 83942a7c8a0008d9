package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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
	ActionRetry  = "retry" // after a transient error
	ActionWait   = "wait"  // for a layer to answer
)

// Event is one thing that happened to a machine.
type Event struct {
	Time    time.Time
	Action  string // one of the Action constants
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

// Result is what an apply, destroy or status found and did.
type Result struct {
	Stack    string    `json:"stack"`
	Machines []Machine `json:"machines"`
	// Removed names the machines deleted; Orphans those found that the
	// plan does not know (status only).
	Removed []string `json:"removed,omitempty"`
	Orphans []string `json:"orphans,omitempty"`
}

// ErrUnsupported marks a plan this engine cannot apply yet; nothing was
// touched when it is returned.
var ErrUnsupported = errors.New("not supported by this engine yet")

// Check says whether every step of the plan can be applied, before anything
// is made: a half-applied stack must never be the way to find out.
func Check(p *plan.Plan) error {
	var problems []string
	for _, h := range p.Hosted {
		problems = append(problems, fmt.Sprintf("role %s of layer %s is hosted on layer %s: submitting hosted roles is not implemented yet (strata render -layer %s/%s prints its objects)", h.Role, h.Layer, h.On, h.Layer, h.Role))
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
// layer's machines are up: it keeps trying while the layer does not answer
// yet (transient errors), up to Options.LayerTimeout.
func (e *Engine) awaitLayer(parent context.Context, p *plan.Plan, sec layers.Secrets, key string, known plan.Addresses) (*substrate, error) {
	ctx, cancel := context.WithTimeout(parent, e.opts.LayerTimeout)
	defer cancel()
	var last error // what the layer last answered: the timeout error carries it
	timedOut := func() error {
		return fmt.Errorf("%s did not answer within %s of its machines being up: %w", key, e.opts.LayerTimeout, last)
	}
	for attempt := 1; ; attempt++ {
		sub, err := e.openLayer(ctx, p, sec, key, known)
		switch {
		case err == nil:
			return sub, nil
		case ctx.Err() != nil && parent.Err() == nil:
			// The timeout ran out during this attempt, whose own error is
			// then only the deadline's.
			last = cmp.Or(last, err)
			return nil, timedOut()
		case !provisioners.IsTransient(err):
			return nil, err
		}
		last = err
		e.report(Event{Action: ActionWait, Machine: key, Err: err, Attempt: attempt})
		t := time.NewTimer(min(e.opts.BaseDelay<<min(attempt-1, 6), e.opts.MaxDelay))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if err := parent.Err(); err != nil {
				return nil, err
			}
			return nil, timedOut()
		}
	}
}

func stackTags(name string) map[string]string { return map[string]string{provisioners.TagStack: name} }

// existing lists what each substrate holds for the stack.
func (e *Engine) existing(ctx context.Context, stack string, subs map[string]*substrate) (map[string][]instance, error) {
	var mu sync.Mutex
	found := map[string][]instance{}
	err := each(ctx, sortedKeys(subs), func(ctx context.Context, key string) error {
		var list []provisioners.Instance
		err := e.retry(ctx, "list "+key, func() error {
			var err error
			list, err = subs[key].prov.List(ctx, stackTags(stack))
			return err
		})
		if err != nil {
			return fmt.Errorf("listing %s: %w", key, err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, in := range list {
			found[in.Name] = append(found[in.Name], instance{Instance: in, substrate: key})
		}
		return nil
	})
	return found, err
}

// survey opens every substrate of the stack, used or not (so machines left
// on one a pool no longer uses are found), and lists what each holds for
// the stack; then the same for the layers that are substrates and are up
// (a layer whose machines are not up holds nothing yet). closeAll must be
// called even on error.
func (e *Engine) survey(ctx context.Context, p *plan.Plan, sec layers.Secrets) (map[string]*substrate, map[string][]instance, func(), error) {
	s := p.Source()
	subs, closeAll, err := e.openAll(ctx, s)
	if err != nil {
		return nil, nil, closeAll, err
	}
	found, err := e.existing(ctx, s.Name, subs)
	if err != nil || len(layerKeys(s)) == 0 {
		return subs, found, closeAll, err
	}
	known := plan.Addresses{}
	for name, ins := range found {
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
			return subs, found, closeAll, err
		}
		subs[key], layerSubs[key] = sub, sub
	}
	more, err := e.existing(ctx, s.Name, layerSubs)
	for name, ins := range more {
		found[name] = append(found[name], ins...)
	}
	return subs, found, closeAll, err
}

type instance struct {
	provisioners.Instance
	substrate string
}

// Apply makes the stack's machines match the plan. On error the Result
// still lists every machine made or found, so callers can record it; a
// re-run adopts them by their tags.
func (e *Engine) Apply(ctx context.Context, p *plan.Plan, sec layers.Secrets) (*Result, error) {
	if err := Check(p); err != nil {
		return nil, err
	}
	s := p.Source()
	subs, found, closeAll, err := e.survey(ctx, p, sec)
	defer closeAll()
	if err != nil {
		return nil, err
	}
	res := &Result{Stack: s.Name}
	st := &applyState{known: plan.Addresses{}, machines: map[string]*Machine{}}

	// Keep one instance per planned machine, on the right substrate and
	// with the planned role; everything else goes.
	want := map[string]plan.Machine{}
	for _, m := range p.Machines {
		want[m.Name] = m
	}
	var doomed []instance
	for _, name := range sortedKeys(found) {
		ins := found[name]
		sort.SliceStable(ins, func(i, j int) bool { return rank(ins[i].State) < rank(ins[j].State) })
		m, planned := want[name]
		for i, in := range ins {
			if !planned || i > 0 || in.substrate != m.Substrate || in.Tags[provisioners.TagRole] != m.Tags[provisioners.TagRole] || in.Tags[provisioners.TagLayer] != m.Tags[provisioners.TagLayer] {
				doomed = append(doomed, in)
				continue
			}
			st.adopt(m, in.Instance)
		}
	}
	removed, err := e.remove(ctx, subs, doomed)
	res.Removed = removed
	if err != nil {
		return st.result(res, p), err
	}
	for _, stage := range stages(p.Steps) {
		// The substrates layers became are opened as the first pool on
		// them is due: the plan orders those pools after their layer.
		for _, step := range stage {
			if _, open := subs[step.Target]; step.Action != "create" || open || !strings.HasPrefix(step.Target, "layer.") {
				continue
			}
			sub, err := e.awaitLayer(ctx, p, sec, step.Target, st.addresses())
			if err != nil {
				return st.result(res, p), err
			}
			subs[step.Target] = sub
		}
		err := each(ctx, stage, func(ctx context.Context, step plan.Step) error {
			if step.Action != "create" {
				return nil // ready steps are barriers: create waits for readiness
			}
			return e.create(ctx, p, sec, subs, st, step)
		})
		if err != nil {
			return st.result(res, p), err
		}
	}
	return st.result(res, p), nil
}

// applyState is what an apply has learnt so far, shared by its workers.
type applyState struct {
	mu       sync.Mutex
	known    plan.Addresses
	machines map[string]*Machine
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
					Name: m.Name, Tags: m.Tags, CPUs: m.CPUs, MemoryMB: m.MemoryMB, DiskGB: m.DiskGB,
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

// remove deletes instances in parallel and returns the names it removed.
// Those on substrates that layers became go first: their cloud runs on the
// others.
func (e *Engine) remove(ctx context.Context, subs map[string]*substrate, doomed []instance) ([]string, error) {
	var onLayers, rest []instance
	for _, in := range doomed {
		if strings.HasPrefix(in.substrate, "layer.") {
			onLayers = append(onLayers, in)
		} else {
			rest = append(rest, in)
		}
	}
	removed, err := e.removeAll(ctx, subs, onLayers)
	if err == nil {
		var more []string
		more, err = e.removeAll(ctx, subs, rest)
		removed = append(removed, more...)
	}
	sort.Strings(removed)
	return removed, err
}

func (e *Engine) removeAll(ctx context.Context, subs map[string]*substrate, doomed []instance) ([]string, error) {
	var mu sync.Mutex
	var removed []string
	err := each(ctx, doomed, func(ctx context.Context, in instance) error {
		sub := subs[in.substrate]
		_, err := e.call(ctx, sub, "delete "+in.Name, func() (provisioners.Instance, error) {
			return provisioners.Instance{}, sub.prov.Delete(ctx, in.ID)
		})
		if err != nil {
			return fmt.Errorf("deleting %s (%s) on %s: %w", in.Name, in.ID, in.substrate, err)
		}
		e.report(Event{Action: ActionDelete, Machine: in.Name})
		mu.Lock()
		removed = append(removed, in.Name)
		mu.Unlock()
		return nil
	})
	return removed, err
}

// Destroy removes every machine that carries the stack's tag on any of the
// stack's substrates, those on the substrates its layers became first. sec
// are the stack's secrets, which reaching those takes.
func (e *Engine) Destroy(ctx context.Context, p *plan.Plan, sec layers.Secrets) (*Result, error) {
	s := p.Source()
	subs, found, closeAll, err := e.survey(ctx, p, sec)
	defer closeAll()
	if err != nil {
		return nil, err
	}
	var all []instance
	for _, name := range sortedKeys(found) {
		all = append(all, found[name]...)
	}
	removed, err := e.remove(ctx, subs, all)
	return &Result{Stack: s.Name, Removed: removed}, err
}

// Status reports what exists for the plan, and what exists that it does
// not plan (orphans).
func (e *Engine) Status(ctx context.Context, p *plan.Plan, sec layers.Secrets) (*Result, error) {
	s := p.Source()
	_, found, closeAll, err := e.survey(ctx, p, sec)
	defer closeAll()
	if err != nil {
		return nil, err
	}
	res := &Result{Stack: s.Name}
	planned := map[string]bool{}
	for _, m := range p.Machines {
		planned[m.Name] = true
		ins := found[m.Name]
		got := Machine{Machine: m, State: "absent"}
		if len(ins) > 0 {
			got.ID, got.Addresses, got.State = ins[0].ID, ins[0].Addresses, ins[0].State
		}
		res.Machines = append(res.Machines, got)
	}
	for _, name := range sortedKeys(found) {
		if !planned[name] {
			res.Orphans = append(res.Orphans, name)
		}
	}
	return res, nil
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

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/internal/state"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// ApplyArgs configure up, down and status.
type ApplyArgs struct {
	State       StateArgs
	Parallelism int
	TTL         time.Duration // up: 0 keeps the recorded TTL (none by default)
	Expired     bool          // down: remove every expired stack recorded
	All         bool          // status: every stack on PATH's substrates
	// Author is who the machines this run makes say made them
	// (strata:created-by).
	Author string
	// Env holds each substrate kind's settings, resolved from the
	// environment (stacks.Kinds.Environment).
	Env map[string]provisioners.Env
	// Live redraws one progress line (stderr is a terminal); otherwise
	// each event is a line of its own.
	Live bool
	Now  func() time.Time
}

// opener opens substrates of kinds with the resolved settings.
func (a ApplyArgs) opener(kinds stacks.Kinds) engine.OpenFunc {
	return func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
		return kinds.Open(ctx, a.Env[sub.Kind], sub)
	}
}

func (a ApplyArgs) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// compileChecked loads and compiles a stack and checks that this version
// can apply it, before anything is touched.
func compileChecked(a Stack, kinds stacks.Kinds, io IO) (*plan.Plan, bool) {
	s, ok := loadOpenable(a, kinds, io)
	if !ok {
		return nil, false
	}
	p := plan.Compile(s, kinds)
	if err := engine.Check(p); err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return nil, false
	}
	return p, true
}

// Up brings a stack up, or brings it in line with its file.
func Up(ctx context.Context, a Stack, args ApplyArgs, kinds stacks.Kinds, io IO) int {
	p, ok := compileChecked(a, kinds, io)
	if !ok {
		return Invalid
	}
	b, release, rec, seed, ok := lockStack(ctx, args, p.Stack, io)
	if !ok {
		return Invalid
	}
	defer b.Close()
	defer release()
	now := args.now()
	if rec == nil {
		rec = &state.Stack{Name: p.Stack, Created: now}
	}
	abs, _ := filepath.Abs(a.Path)
	rec.Path, rec.Vars, rec.VarFiles, rec.Updated = abs, a.Vars, nil, now
	for _, f := range a.VarFiles {
		af, _ := filepath.Abs(f)
		rec.VarFiles = append(rec.VarFiles, af)
	}
	if args.TTL > 0 {
		rec.TTL = args.TTL
	}
	src, varSrc, err := sourcesOf(a)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	rec.Sources, rec.VarSources = src, varSrc
	// Recorded before anything is made: a run that dies mid-apply leaves
	// a record (with its TTL and sources) that a janitor finds.
	if err := b.Save(ctx, rec); err != nil {
		fmt.Fprintf(io.Err, "Error: saving state: %v\n", err)
		return Invalid
	}
	p.Mark = provisioners.Mark{Expires: rec.Expires(), CreatedBy: args.Author}
	prog := newProgress(io, args.Live, "up", len(p.Machines))
	e := engine.New(args.opener(kinds), engine.Options{Parallelism: args.Parallelism, Report: prog.event})
	res, applyErr := e.Apply(ctx, p, seed)
	prog.done()
	if res != nil {
		rec.Machines = res.Machines
	}
	// Record what exists even when the apply failed: nothing made is
	// left untracked.
	if err := b.Save(ctx, rec); err != nil {
		fmt.Fprintf(io.Err, "Error: saving state: %v\n", err)
		return Invalid
	}
	if res != nil {
		machineTable(io, res.Machines)
		hostedTable(io, res.Hosted)
		if removed := append(res.Removed, res.RemovedObjects...); len(removed) > 0 {
			fmt.Fprintf(io.Out, "Removed: %s\n", strings.Join(removed, ", "))
		}
	}
	if applyErr != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", applyErr)
		if errors.Is(applyErr, context.Canceled) {
			fmt.Fprintln(io.Err, "Interrupted: every machine made so far is tagged; run strata up again to finish, or strata down to remove them.")
		}
		return Invalid
	}
	fmt.Fprintf(io.Out, "Stack %q is up: %d machines", p.Stack, len(res.Machines))
	if len(res.Hosted) > 0 {
		fmt.Fprintf(io.Out, ", %d hosted roles", len(res.Hosted))
	}
	fmt.Fprint(io.Out, ".")
	if !rec.Expires().IsZero() {
		fmt.Fprintf(io.Out, " Expires %s.", rec.Expires().Format(time.RFC3339))
	}
	fmt.Fprintln(io.Out)
	return OK
}

// Down removes a stack's machines (every machine with its tag), or with
// Expired every recorded stack whose TTL ran out and then, given a PATH,
// every expired stack that the substrates of PATH hold (Sweep).
func Down(ctx context.Context, a Stack, args ApplyArgs, kinds stacks.Kinds, io IO) int {
	if !args.Expired {
		return downOne(ctx, a, args, kinds, io)
	}
	code := downRecorded(ctx, args, kinds, io)
	if a.Path != "" {
		code = max(code, Sweep(ctx, a, args, kinds, io, true))
	}
	return code
}

// downRecorded takes down every recorded stack whose TTL ran out, from its
// record: hosted objects too, which the recorded seed reaches.
func downRecorded(ctx context.Context, args ApplyArgs, kinds stacks.Kinds, io IO) int {
	b, err := args.State.open(ctx)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	all, err := b.All(ctx)
	b.Close()
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	code, n := OK, 0
	for _, rec := range all {
		if !rec.Expired(args.now()) {
			continue
		}
		n++
		fmt.Fprintf(io.Out, "Stack %q expired at %s.\n", rec.Name, rec.Expires().Format(time.RFC3339))
		a, cleanup, err := fromRecord(rec)
		if err != nil {
			fmt.Fprintf(io.Err, "Error: stack %q: %v\n", rec.Name, err)
			code = Invalid
			continue
		}
		if c := downOne(ctx, a, args, kinds, io); c != OK {
			code = c
		}
		cleanup()
	}
	if n == 0 {
		fmt.Fprintln(io.Out, "No expired stacks recorded.")
	}
	return code
}

// loadOpenable loads a stack whose substrates this build can open.
func loadOpenable(a Stack, kinds stacks.Kinds, io IO) (*stacks.Stack, bool) {
	s, ok := load(a, kinds, io)
	if !ok {
		return nil, false
	}
	if err := kinds.Unprovisioned(s); err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return nil, false
	}
	return s, true
}

func downOne(ctx context.Context, a Stack, args ApplyArgs, kinds stacks.Kinds, io IO) int {
	s, ok := loadOpenable(a, kinds, io)
	if !ok {
		return Invalid
	}
	b, release, _, seed, ok := lockStack(ctx, args, s.Name, io)
	if !ok {
		return Invalid
	}
	defer b.Close()
	defer release()
	prog := newProgress(io, args.Live, "down", 0)
	e := engine.New(args.opener(kinds), engine.Options{Parallelism: args.Parallelism, Report: prog.event})
	res, err := e.Destroy(ctx, plan.Compile(s, kinds), seed)
	prog.done()
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	if err := b.Remove(ctx, s.Name); err != nil {
		fmt.Fprintf(io.Err, "Error: removing state: %v\n", err)
		return Invalid
	}
	fmt.Fprintf(io.Out, "Stack %q is down: %d machines and %d hosted objects removed.\n", s.Name, len(res.Removed), len(res.RemovedObjects))
	return OK
}

// Status shows a stack's machines as the substrates report them, or with
// no path every recorded stack and its expiry.
func Status(ctx context.Context, a Stack, args ApplyArgs, kinds stacks.Kinds, io IO) int {
	if args.All {
		if a.Path == "" {
			fmt.Fprintln(io.Err, "Error: status -all takes a PATH: a stack file or a janitor file whose substrate blocks name where to look")
			return Invalid
		}
		return Sweep(ctx, a, args, kinds, io, false)
	}
	b, err := args.State.open(ctx)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	defer b.Close()
	if a.Path == "" {
		all, err := b.All(ctx)
		if err != nil {
			fmt.Fprintf(io.Err, "Error: %v\n", err)
			return Invalid
		}
		tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STACK\tMACHINES\tCREATED\tEXPIRES\tPATH")
		for _, rec := range all {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", rec.Name, len(rec.Machines), rec.Created.Format(time.RFC3339), expiry(rec, args.now()), rec.Path)
		}
		return flush(tw, io)
	}
	p, ok := compileChecked(a, kinds, io)
	if !ok {
		return Invalid
	}
	rec, seed, err := b.Load(ctx, p.Stack)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	res, err := engine.New(args.opener(kinds), engine.Options{Parallelism: args.Parallelism}).Status(ctx, p, seed)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	machineTable(io, res.Machines)
	hostedTable(io, res.Hosted)
	if orphans := append(res.Orphans, res.OrphanObjects...); len(orphans) > 0 {
		fmt.Fprintf(io.Out, "Not in the stack file (strata up removes them): %s\n", strings.Join(orphans, ", "))
	}
	if rec != nil {
		fmt.Fprintf(io.Out, "Stack %q: created %s, expires: %s.\n", p.Stack, rec.Created.Format(time.RFC3339), expiry(rec, args.now()))
	}
	return OK
}

func expiry(rec *state.Stack, now time.Time) string {
	switch {
	case rec.Expires().IsZero():
		return "never"
	case rec.Expired(now):
		return "EXPIRED " + rec.Expires().Format(time.RFC3339)
	}
	return rec.Expires().Format(time.RFC3339)
}

func machineTable(io IO, ms []engine.Machine) {
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MACHINE\tPOOL\tLAYER\tROLE\tID\tADDRESS\tSTATE")
	for _, m := range ms {
		addr := "-"
		if len(m.Addresses) > 0 {
			addr = m.Addresses[0]
		}
		layer, role, id := m.Layer, m.Role, m.ID
		if role == "" {
			layer, role = "-", "-"
		}
		if id == "" {
			id = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Pool, layer, role, id, addr, m.State)
	}
	flush(tw, io)
}

// hostedTable shows the hosted roles, when the stack has any.
func hostedTable(io IO, hs []engine.Hosted) {
	if len(hs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nLAYER\tROLE\tON\tCOUNT\tOBJECTS\tSTATE")
	for _, h := range hs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", h.Layer, h.Role, h.On, h.Count, len(h.Objects), h.State)
	}
	flush(tw, io)
}

func flush(tw *tabwriter.Writer, io IO) int {
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(io.Err, err)
		return Invalid
	}
	return OK
}

// progress prints engine events: one redrawn line on a terminal, or a line
// per event.
type progress struct {
	mu      sync.Mutex
	io      IO
	live    bool
	verb    string
	total   int
	counts  map[string]int
	started time.Time
}

func newProgress(io IO, live bool, verb string, total int) *progress {
	return &progress{io: io, live: live, verb: verb, total: total, counts: map[string]int{}, started: time.Now()}
}

func (p *progress) event(ev engine.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[ev.Action]++
	if !p.live {
		if ev.Err != nil {
			fmt.Fprintf(p.io.Err, "%s %s (attempt %d): %v\n", ev.Action, ev.Machine, ev.Attempt, ev.Err)
		} else {
			fmt.Fprintf(p.io.Err, "%s %s\n", ev.Action, ev.Machine)
		}
		return
	}
	fmt.Fprintf(p.io.Err, "\r\033[K%s", p.line())
}

func (p *progress) line() string {
	s := fmt.Sprintf("strata %s: %s", p.verb, time.Since(p.started).Round(time.Second))
	if p.total > 0 {
		s += fmt.Sprintf(", %d/%d ready", p.counts[engine.ActionReady], p.total)
	}
	for _, k := range []string{"create", "adopt", "delete", "retry"} {
		if p.counts[k] > 0 {
			s += fmt.Sprintf(", %d %s", p.counts[k], k)
		}
	}
	return s
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		fmt.Fprintf(p.io.Err, "\r\033[K%s\n", p.line())
	}
}

// lockStack opens the backend, takes the stack's lock for this run and
// loads its record (nil when none) and seed.
func lockStack(ctx context.Context, args ApplyArgs, name string, io IO) (state.Backend, func(), *state.Stack, *secrets.Seed, bool) {
	b, err := args.State.open(ctx)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return nil, nil, nil, nil, false
	}
	release, err := b.Lock(ctx, name, args.State.Holder, args.State.LockTimeout)
	if err != nil {
		b.Close()
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return nil, nil, nil, nil, false
	}
	rec, seed, err := b.Load(ctx, name)
	if err != nil {
		release()
		b.Close()
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return nil, nil, nil, nil, false
	}
	return b, release, rec, seed, true
}

// sourcesOf reads the stack's files and var files, for the record.
func sourcesOf(a Stack) (map[string]string, map[string]string, error) {
	files, err := stacks.Sources(a.Path)
	if err != nil {
		return nil, nil, err
	}
	src := map[string]string{}
	for name, b := range files {
		abs, _ := filepath.Abs(name)
		src[abs] = string(b)
	}
	vars := map[string]string{}
	for _, f := range a.VarFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		abs, _ := filepath.Abs(f)
		vars[abs] = string(b)
	}
	return src, vars, nil
}

// fromRecord is the stack a record was brought up from: its files where
// they still are, else (a janitor on another runner) the sources the
// record keeps, with its var files in a temporary folder cleanup removes.
func fromRecord(rec *state.Stack) (Stack, func(), error) {
	a := Stack{Path: rec.Path, Vars: rec.Vars, VarFiles: rec.VarFiles}
	if _, err := os.Stat(rec.Path); err == nil || len(rec.Sources) == 0 {
		return a, func() {}, nil
	}
	a.Sources = map[string][]byte{}
	for name, src := range rec.Sources {
		a.Sources[name] = []byte(src)
	}
	if len(rec.VarFiles) == 0 {
		return a, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "strata-vars-")
	if err != nil {
		return a, nil, err
	}
	a.VarFiles = nil
	for i, f := range rec.VarFiles {
		src, ok := rec.VarSources[f]
		if !ok {
			os.RemoveAll(dir)
			return a, nil, fmt.Errorf("the record keeps no copy of var file %s", f)
		}
		tmp := filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(f)))
		if err := os.WriteFile(tmp, []byte(src), 0o600); err != nil {
			os.RemoveAll(dir)
			return a, nil, err
		}
		a.VarFiles = append(a.VarFiles, tmp)
	}
	return a, func() { os.RemoveAll(dir) }, nil
}

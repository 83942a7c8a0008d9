package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/internal/state"
	"github.com/stratastack/strata/stacks"
)

// Sweep reports every stack that the substrates of a.Path hold, found by
// their machines' tags, with no record needed; with remove it takes down
// those whose strata:expires passed. a.Path is a stack file, or a janitor
// file whose substrate blocks name the datacenters, clouds, regions and
// boot servers to look in.
func Sweep(ctx context.Context, a Stack, args ApplyArgs, kinds stacks.Kinds, io IO, remove bool) int {
	s, ok := loadOpenable(a, kinds, io)
	if !ok {
		return Invalid
	}
	now := args.now()
	var claim engine.Claim
	if remove {
		// Only removing needs the backend: for locks and records.
		b, err := args.State.open(ctx)
		if err != nil {
			fmt.Fprintf(io.Err, "Error: %v\n", err)
			return Invalid
		}
		defer b.Close()
		claim = claimExpired(b, args, now)
	}
	prog := newProgress(io, args.Live, "down", 0)
	e := engine.New(args.opener(kinds), engine.Options{Parallelism: args.Parallelism, Report: prog.event})
	found, err := e.Sweep(ctx, s, now, claim)
	prog.done()
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	if !remove {
		return sweptTable(io, found, now)
	}
	code, n := OK, 0
	for _, sw := range found {
		if !sw.Expired {
			continue
		}
		n++
		fmt.Fprintf(io.Out, "On the substrates, %s.\n", sw)
		switch {
		case sw.Skipped != nil:
			fmt.Fprintf(io.Out, "  Skipped: %v.\n", sw.Skipped)
		case sw.Err != nil:
			fmt.Fprintf(io.Err, "Error: stack %q: %v\n", sw.Stack, sw.Err)
			code = Invalid
		}
		if len(sw.Removed) > 0 {
			fmt.Fprintf(io.Out, "  Removed %d machines: %s\n", len(sw.Removed), strings.Join(sw.Removed, ", "))
		}
		if left := len(sw.Machines) - len(sw.Removed); sw.Skipped == nil && left > 0 {
			fmt.Fprintf(io.Out, "  Could not remove %d machines.\n", left)
		}
	}
	if n == 0 {
		fmt.Fprintln(io.Out, "No expired stacks on the substrates.")
	}
	return code
}

// claimExpired grants a stack to the janitor while no run holds its lock
// and its record, if it has one, agrees that it expired; the record goes
// with the stack.
func claimExpired(b state.Backend, args ApplyArgs, now time.Time) engine.Claim {
	return func(ctx context.Context, stack string) (func(error), error) {
		release, err := b.Lock(ctx, stack, args.State.Holder, 0)
		if err != nil {
			var locked *state.LockedError
			if errors.As(err, &locked) {
				return nil, fmt.Errorf("a run holds it: %v", err)
			}
			return nil, err
		}
		rec, _, err := b.Load(ctx, stack)
		switch {
		case err != nil:
			release()
			return nil, fmt.Errorf("reading its record: %w", err)
		case rec != nil && !rec.Expired(now):
			release()
			return nil, fmt.Errorf("its record says it expires %s (the machines' tags were not brought in line)", expiry(rec, now))
		}
		return func(err error) {
			if err == nil && rec != nil {
				_ = b.Remove(ctx, stack) // a record left would only be found expired again, with no machines
			}
			release()
		}, nil
	}
}

// sweptTable lists the stacks a sweep found.
func sweptTable(io IO, found []engine.Swept, now time.Time) int {
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STACK\tMACHINES\tEXPIRES\tCREATED BY")
	for _, sw := range found {
		exp := "never"
		switch {
		case sw.Expired:
			exp = "EXPIRED " + sw.Expires.Format(time.RFC3339)
		case !sw.Expires.IsZero():
			exp = sw.Expires.Format(time.RFC3339)
		}
		by := strings.Join(sw.CreatedBy, ", ")
		if by == "" {
			by = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", sw.Stack, len(sw.Machines), exp, by)
	}
	return flush(tw, io)
}

package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stratastack/strata/internal/pgstate"
	"github.com/stratastack/strata/internal/state"
)

// StateArgs say where stacks are recorded: files in Dir (the default), or
// the database at URL (postgres://...), whose seeds Key seals.
type StateArgs struct {
	Dir string
	URL string
	Key string
	// Holder names this run in a lock; LockTimeout is how long to wait
	// for another run's.
	Holder      state.Holder
	LockTimeout time.Duration
}

// open opens the backend the arguments name.
func (s StateArgs) open(ctx context.Context) (state.Backend, error) {
	return openBackend(ctx, s.URL, s.Dir, s.Key)
}

// openBackend is the backend of a -state value: "" or a folder path are
// files, postgres:// or postgresql:// a database.
func openBackend(ctx context.Context, url, dir, key string) (state.Backend, error) {
	switch {
	case url == "":
		return state.Files{Dir: state.Dir(dir)}, nil
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return pgstate.Open(ctx, url, key)
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("-state %s: a folder, or postgres://USER@HOST/DB", strings.SplitN(url, "://", 2)[0]+"://...")
	}
	return state.Files{Dir: state.Dir(url)}, nil
}

// Migrate copies every recorded stack, with its seed, from one backend to
// another; the source keeps them.
func Migrate(ctx context.Context, from, to StateArgs, io IO) int {
	src, err := from.open(ctx)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	defer src.Close()
	dst, err := to.open(ctx)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	defer dst.Close()
	all, err := src.All(ctx)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	for _, rec := range all {
		_, seed, err := src.Load(ctx, rec.Name)
		if err == nil {
			err = dst.Import(ctx, rec, seed)
		}
		if err != nil {
			fmt.Fprintf(io.Err, "Error: stack %q: %v\n", rec.Name, err)
			return Invalid
		}
		fmt.Fprintf(io.Out, "Migrated stack %q (%d machines).\n", rec.Name, len(rec.Machines))
	}
	fmt.Fprintf(io.Out, "%d stacks migrated.\n", len(all))
	return OK
}

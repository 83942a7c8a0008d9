package state

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/stratastack/strata/internal/ci"
	"github.com/stratastack/strata/internal/secrets"
)

// Backend keeps stacks' records and their secret seeds where CLI runs
// find them: a local folder (Files), or a database every CI runner reaches
// (pgstate). One apply or destroy of a stack holds its lock.
type Backend interface {
	// Lock holds the stack until release, waiting up to wait while another
	// run holds it; then it fails with a *LockedError.
	Lock(ctx context.Context, name string, who Holder, wait time.Duration) (release func(), err error)
	// Load reads the stack's record (nil when there is none) and its
	// seed, which is made and kept when the stack has none yet.
	Load(ctx context.Context, name string) (*Stack, *secrets.Seed, error)
	// Save writes the stack's record.
	Save(ctx context.Context, s *Stack) error
	// Import writes a record and a seed as they are (state migrate).
	Import(ctx context.Context, s *Stack, seed *secrets.Seed) error
	// Remove forgets the stack's record; its seed stays.
	Remove(ctx context.Context, name string) error
	// All reads every recorded stack, by name.
	All(ctx context.Context) ([]*Stack, error)
	Close() error
}

// Holder says who holds a lock: the user, host and process, and the CI
// job when the environment names one.
type Holder struct {
	Who string `json:"who"`
	Job string `json:"job,omitempty"`
}

// HolderFrom names this run for locks: user, host and process, and the CI
// job's URL when the environment gives one.
func HolderFrom(getenv func(string) string) Holder {
	return Holder{Who: fmt.Sprintf("%s pid %d", ci.User(getenv), os.Getpid()), Job: ci.Job(getenv)}
}

func (h Holder) String() string {
	if h.Job == "" {
		return h.Who
	}
	return h.Who + " (" + h.Job + ")"
}

// LockedError is a lock another run held for longer than the wait.
type LockedError struct {
	Stack  string
	Holder Holder
	Since  time.Time
	Waited time.Duration
}

func (e *LockedError) Error() string {
	who := e.Holder.String()
	if who == "" {
		who = "another run"
	}
	since := ""
	if !e.Since.IsZero() {
		since = " since " + e.Since.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("stack %q is locked by %s%s; waited %s (-lock-timeout)", e.Stack, who, since, e.Waited)
}

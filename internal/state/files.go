package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/stratastack/strata/internal/wait"

	"github.com/stratastack/strata/internal/atomicfile"
	"github.com/stratastack/strata/internal/secrets"
)

// Files is the local backend: a Dir of JSON records and seed files, with
// a lock file per stack held by flock (the kernel drops it with the
// process).
type Files struct {
	Dir  Dir
	Poll time.Duration // between tries for a held lock; 200 ms if 0
}

var _ Backend = Files{}

// Lock takes STACK.lock in the folder.
func (f Files) Lock(ctx context.Context, name string, who Holder, maxWait time.Duration) (func(), error) {
	if err := os.MkdirAll(string(f.Dir), 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(string(f.Dir), name+".lock")
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	poll := f.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	deadline := time.Now().Add(maxWait)
	for {
		err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			file.Close()
			return nil, fmt.Errorf("state: locking %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			var held struct {
				Holder
				Since time.Time `json:"since"`
			}
			b, _ := os.ReadFile(path)
			_ = json.Unmarshal(b, &held)
			file.Close()
			return nil, &LockedError{Stack: name, Holder: held.Holder, Since: held.Since, Waited: maxWait}
		}
		if err := wait.Sleep(ctx, poll); err != nil {
			file.Close()
			return nil, err
		}
	}
	b, _ := json.Marshal(struct {
		Holder
		Since time.Time `json:"since"`
	}{who, time.Now().UTC()})
	_ = file.Truncate(0)
	_, _ = file.WriteAt(b, 0)
	return func() { file.Close() }, nil
}

// Load reads the record and the seed (made when missing).
func (f Files) Load(_ context.Context, name string) (*Stack, *secrets.Seed, error) {
	seed, err := secrets.LoadOrCreate(f.Dir.SeedFile(name))
	if err != nil {
		return nil, nil, fmt.Errorf("keeping the stack's secrets: %w", err)
	}
	s, found, err := f.Dir.Load(name)
	if !found {
		s = nil
	}
	return s, seed, err
}

// Save writes the record.
func (f Files) Save(_ context.Context, s *Stack) error { return f.Dir.Save(s) }

// Import writes the record and the seed.
func (f Files) Import(_ context.Context, s *Stack, seed *secrets.Seed) error {
	if err := os.MkdirAll(string(f.Dir), 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(f.Dir.SeedFile(s.Name), []byte(seed.Hex()+"\n"), 0o600); err != nil {
		return err
	}
	return f.Dir.Save(s)
}

// Remove deletes the record, not the seed.
func (f Files) Remove(_ context.Context, name string) error { return f.Dir.Remove(name) }

// All reads every record.
func (f Files) All(context.Context) ([]*Stack, error) { return f.Dir.All() }

// Close does nothing: locks end with their release.
func (f Files) Close() error { return nil }

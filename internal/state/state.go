package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stratastack/strata/internal/atomicfile"
	"github.com/stratastack/strata/internal/engine"
)

// Stack is the record of one stack brought up by `strata up`.
type Stack struct {
	Name     string           `json:"name"`
	Path     string           `json:"path"` // absolute
	Vars     []string         `json:"vars,omitempty"`
	VarFiles []string         `json:"var_files,omitempty"`
	Created  time.Time        `json:"created"`
	Updated  time.Time        `json:"updated"`
	TTL      time.Duration    `json:"ttl,omitempty"` // 0: never expires
	Machines []engine.Machine `json:"machines"`
	// Sources and VarSources are the stack's files and its -var-file
	// files as they were, by path, so a run elsewhere (a janitor on
	// another CI runner) can load the stack without them.
	Sources    map[string]string `json:"sources,omitempty"`
	VarSources map[string]string `json:"var_sources,omitempty"`
}

// Expires is when the stack's TTL runs out (zero when it has none).
func (s *Stack) Expires() time.Time {
	if s.TTL <= 0 {
		return time.Time{}
	}
	return s.Created.Add(s.TTL)
}

// Expired reports whether the TTL ran out by now.
func (s *Stack) Expired(now time.Time) bool {
	e := s.Expires()
	return !e.IsZero() && now.After(e)
}

// Dir is a folder of state files.
type Dir string

func (d Dir) file(name string) string { return filepath.Join(string(d), name+".state.json") }

// SeedFile is where the stack's secret seed is kept.
func (d Dir) SeedFile(name string) string { return filepath.Join(string(d), name+".seed") }

// Load reads a stack's state; ok is false when there is none.
func (d Dir) Load(name string) (*Stack, bool, error) {
	b, err := os.ReadFile(d.file(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var s Stack
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, false, fmt.Errorf("state file %s is corrupt: %w", d.file(name), err)
	}
	return &s, true, nil
}

// Save writes a stack's state atomically: a crash leaves the old file or the
// new one, never half of either.
func (d Dir) Save(s *Stack) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(d.file(s.Name), append(b, '\n'), 0o600)
}

// Remove deletes a stack's state (not its seed: a stack brought up again
// keeps its secrets).
func (d Dir) Remove(name string) error {
	err := os.Remove(d.file(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// All reads every stack state in the folder, by name.
func (d Dir) All() ([]*Stack, error) {
	entries, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Stack
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".state.json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		s, found, err := d.Load(name)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

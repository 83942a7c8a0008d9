package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/stratastack/strata/provisioners/baremetal/api"
)

// Errors callers can test with errors.Is; the wrapped messages say what and why.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = api.ErrInvalid // one sentinel: the API's checks match it too
	ErrConflict = errors.New("conflict")
	ErrInUse    = errors.New("in use")
	// ErrLocked means another process holds the inventory file open.
	ErrLocked = errors.New("inventory locked")
)

// schemaVersion is written into every record. Bump it when a record's meaning
// changes, and teach decode to migrate older versions.
const schemaVersion = 1

// LockTimeout is how long Open waits for the file lock. bbolt holds an exclusive
// flock while open; without a timeout a second `strata boot serve` on the same
// file would hang forever instead of saying why it cannot start.
const LockTimeout = 2 * time.Second

var (
	bucketMachines = []byte("machines") // name -> machine JSON
	bucketMACs     = []byte("macs")     // canonical MAC -> name; DHCP looks machines up by MAC on every packet
	bucketProfiles = []byte("profiles") // name -> profile JSON
)

// names appear in URLs, file names and log lines, so keep them boring.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func checkName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: %s name %q: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, kind, name)
	}
	return nil
}

// Store is an open inventory file. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating if needed) the inventory at path. The file is private
// (0600) because it holds user-data and machine tokens. If another process has it
// open, Open fails after LockTimeout with an error wrapping ErrLocked.
func Open(path string) (*Store, error) {
	return open(path, options{lockTimeout: LockTimeout})
}

// options exists for tests: a short lock timeout, and no fsync for the
// many-writer stress test. The server always uses Open's defaults.
type options struct {
	lockTimeout time.Duration
	noSync      bool
}

func open(path string, o options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout, NoSync: o.noSync})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is in use by another process (file lock not acquired within %s); stop the other boot server or use another state file", ErrLocked, path, o.lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("opening inventory %s: %w", path, err)
	}
	// 0600 only applies when bbolt creates the file; tighten a file that was
	// created or copied with looser permissions, since it holds secrets.
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			db.Close()
			return nil, fmt.Errorf("inventory %s is readable by others and cannot be made private: %w", path, err)
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMachines, bucketMACs, bucketProfiles} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialising inventory %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Close releases the file and its lock.
func (s *Store) Close() error { return s.db.Close() }

// update and view check ctx before starting: bbolt itself cannot be cancelled,
// but a request that is already gone should not take the write lock.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// record is the on-disk envelope: the version sits beside the fields so old
// and new records can be told apart without a separate metadata lookup.
type record[T any] struct {
	V    int `json:"v"`
	Data T   `json:"data"`
}

func encode[T any](v T) ([]byte, error) {
	return json.Marshal(record[T]{V: schemaVersion, Data: v})
}

func decode[T any](kind string, key, raw []byte) (T, error) {
	var r record[T]
	if err := json.Unmarshal(raw, &r); err != nil {
		return r.Data, fmt.Errorf("inventory: %s %q is unreadable: %w", kind, key, err)
	}
	if r.V != schemaVersion {
		return r.Data, fmt.Errorf("inventory: %s %q has schema version %d, this strata reads %d; use a matching strata version", kind, key, r.V, schemaVersion)
	}
	return r.Data, nil
}

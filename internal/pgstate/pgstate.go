package pgstate

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/stratastack/strata/internal/wait"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/internal/state"
)

// schema is made on first use, when a statement finds no table.
const schema = `
CREATE TABLE IF NOT EXISTS strata_stacks (
  name    text PRIMARY KEY,
  record  jsonb,
  seed    bytea NOT NULL,
  updated timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS strata_locks (
  name   text PRIMARY KEY,
  holder text NOT NULL,
  job    text NOT NULL,
  since  timestamptz NOT NULL
);`

// Backend is a PostgreSQL connection keeping stacks. It is one session,
// so the locks it takes last until Close; it is not safe for concurrent
// use.
type Backend struct {
	conn *pgx.Conn
	aead cipher.AEAD
	// row is the stack's row read with its lock, for Load; seeds are new
	// seeds of stacks without a row, stored by their first Save.
	row   *row
	seeds map[string]*secrets.Seed
	// Poll is the pause between tries for a held lock.
	Poll time.Duration
}

var _ state.Backend = (*Backend)(nil)

// Open connects to the database at url (postgres://...) and seals seeds
// with key. An empty key is refused: seeds are never stored in clear.
func Open(ctx context.Context, url, key string) (*Backend, error) {
	if key == "" {
		return nil, errors.New("state: the postgres backend keeps each stack's secret seed encrypted: set STRATA_STATE_KEY (the same on every runner)")
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("state: %s: %w", redact(url), err)
	}
	return open(ctx, cfg, key)
}

func open(ctx context.Context, cfg *pgx.ConnConfig, key string) (*Backend, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state: connecting to %s: %w", redact(cfg.ConnString()), err)
	}
	sum := sha256.Sum256([]byte(key))
	block, _ := aes.NewCipher(sum[:])
	aead, _ := cipher.NewGCM(block)
	return &Backend{conn: conn, aead: aead, Poll: 500 * time.Millisecond, seeds: map[string]*secrets.Seed{}}, nil
}

// redact drops a password from a URL for messages.
func redact(url string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "the STRATA_STATE database"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Close ends the session, and with it every lock it holds.
func (b *Backend) Close() error { return b.conn.Close(context.Background()) }

// withSchema runs f, making the tables first when f finds none.
func (b *Backend) withSchema(ctx context.Context, f func() error) error {
	err := f()
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		if _, err := b.conn.Exec(ctx, schema); err != nil {
			return fmt.Errorf("state: making strata's tables: %w", err)
		}
		return f()
	}
	return err
}

// row is a stack's row as read: found false when there is none.
type row struct {
	name   string
	found  bool
	record []byte
	sealed []byte
}

// lockKey is the advisory lock's key for a stack.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("strata:" + name))
	return int64(h.Sum64())
}

// Lock takes the stack's advisory lock, trying every Poll for up to maxWait,
// and records who holds it since when; held by another session past maxWait,
// it fails naming that holder. One round trip when the lock is free.
func (b *Backend) Lock(ctx context.Context, name string, who state.Holder, maxWait time.Duration) (func(), error) {
	deadline := time.Now().Add(maxWait)
	for {
		var (
			got            bool
			holder, job    *string
			since          *time.Time
			record, sealed []byte
		)
		err := b.withSchema(ctx, func() error {
			return b.conn.QueryRow(ctx, `
WITH l AS (SELECT pg_try_advisory_lock($1) AS got),
     w AS (INSERT INTO strata_locks (name, holder, job, since)
           SELECT $2, $3, $4, now() FROM l WHERE got
           ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, job = EXCLUDED.job, since = EXCLUDED.since
           RETURNING 1)
SELECT (SELECT got FROM l), k.holder, k.job, k.since, s.record, s.seed
FROM (SELECT 1) AS one
LEFT JOIN strata_locks k ON k.name = $2
LEFT JOIN strata_stacks s ON s.name = $2`, lockKey(name), name, who.Who, who.Job).Scan(&got, &holder, &job, &since, &record, &sealed)
		})
		if err != nil {
			return nil, fmt.Errorf("state: locking stack %q: %w", name, err)
		}
		if got {
			// The row read with the lock is current while the lock is held.
			b.row = &row{name: name, found: sealed != nil, record: record, sealed: sealed}
			return func() {
				b.row = nil
				_, _ = b.conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey(name))
			}, nil
		}
		if time.Now().After(deadline) {
			h := state.Holder{}
			if holder != nil {
				h.Who, h.Job = *holder, *job
			}
			var at time.Time
			if since != nil {
				at = *since
			}
			return nil, &state.LockedError{Stack: name, Holder: h, Since: at, Waited: maxWait}
		}
		if err := wait.Sleep(ctx, b.Poll); err != nil {
			return nil, err
		}
	}
}

// Load reads the stack's record (nil when none) and its seed: from the
// row its Lock read, else in one query. A stack without a row gets a new
// seed, stored sealed by its first Save.
func (b *Backend) Load(ctx context.Context, name string) (*state.Stack, *secrets.Seed, error) {
	r := b.row
	if r == nil || r.name != name {
		r = &row{name: name}
		err := b.withSchema(ctx, func() error {
			return b.conn.QueryRow(ctx, `SELECT record, seed FROM strata_stacks WHERE name = $1`, name).Scan(&r.record, &r.sealed)
		})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, nil, fmt.Errorf("state: reading stack %q: %w", name, err)
		default:
			r.found = true
		}
	}
	if !r.found {
		seed := b.seeds[name]
		if seed == nil {
			var err error
			if seed, err = secrets.Generate(); err != nil {
				return nil, nil, err
			}
			b.seeds[name] = seed
		}
		return nil, seed, nil
	}
	seed, err := b.open(name, r.sealed)
	if err != nil {
		return nil, nil, err
	}
	if r.record == nil {
		return nil, seed, nil
	}
	var s state.Stack
	if err := json.Unmarshal(r.record, &s); err != nil {
		return nil, nil, fmt.Errorf("state: stack %q's record is corrupt: %w", name, err)
	}
	return &s, seed, nil
}

// Save writes the stack's record, and the seed Load made for a stack
// without a row: one statement.
func (b *Backend) Save(ctx context.Context, s *state.Stack) error {
	record, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var sealed []byte
	if seed := b.seeds[s.Name]; seed != nil {
		sealed = b.seal(s.Name, seed)
	}
	err = b.withSchema(ctx, func() error {
		if sealed != nil {
			_, err := b.conn.Exec(ctx, `INSERT INTO strata_stacks (name, record, seed) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET record = EXCLUDED.record, updated = now()`, s.Name, record, sealed)
			return err
		}
		tag, err := b.conn.Exec(ctx, `UPDATE strata_stacks SET record = $2, updated = now() WHERE name = $1`, s.Name, record)
		if err == nil && tag.RowsAffected() == 0 {
			err = errors.New("no row: the stack was not loaded first")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("state: saving stack %q: %w", s.Name, err)
	}
	delete(b.seeds, s.Name)
	b.row = nil // read again when needed
	return nil
}

// Import writes a record and a seed as they are (state migrate).
func (b *Backend) Import(ctx context.Context, s *state.Stack, seed *secrets.Seed) error {
	record, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.withSchema(ctx, func() error {
		_, err := b.conn.Exec(ctx, `INSERT INTO strata_stacks (name, record, seed) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET record = EXCLUDED.record, seed = EXCLUDED.seed, updated = now()`, s.Name, record, b.seal(s.Name, seed))
		return err
	})
}

// Remove forgets the stack's record and keeps its seed: a stack brought
// up again keeps its secrets.
func (b *Backend) Remove(ctx context.Context, name string) error {
	return b.withSchema(ctx, func() error {
		_, err := b.conn.Exec(ctx, `UPDATE strata_stacks SET record = NULL, updated = now() WHERE name = $1`, name)
		return err
	})
}

// All reads every stack with a record, by name.
func (b *Backend) All(ctx context.Context) ([]*state.Stack, error) {
	var out []*state.Stack
	err := b.withSchema(ctx, func() error {
		rows, err := b.conn.Query(ctx, `SELECT record FROM strata_stacks WHERE record IS NOT NULL ORDER BY name`)
		if err != nil {
			return err
		}
		out = nil
		for rows.Next() {
			var record []byte
			if err := rows.Scan(&record); err != nil {
				return err
			}
			var s state.Stack
			if err := json.Unmarshal(record, &s); err != nil {
				return err
			}
			out = append(out, &s)
		}
		return rows.Err()
	})
	return out, err
}

// seal encrypts a seed bound to its stack's name: nonce || ciphertext.
func (b *Backend) seal(name string, seed *secrets.Seed) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return b.aead.Seal(nonce, nonce, []byte(seed.Hex()), []byte(name))
}

func (b *Backend) open(name string, sealed []byte) (*secrets.Seed, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, fmt.Errorf("state: stack %q's sealed seed is too short", name)
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("state: STRATA_STATE_KEY does not open stack %q's seed: it was stored with another key; nothing was changed", name)
	}
	return secrets.Parse(string(plain))
}

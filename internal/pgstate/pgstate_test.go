package pgstate

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/internal/pgstate/pgtest"
	"github.com/stratastack/strata/internal/state"
)

const key = "correct horse battery staple"

// counter counts the statements a connection sends: its round trips.
type counter struct{ n atomic.Int32 }

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func openCounted(t *testing.T, url, k string) (*Backend, *counter) {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	cfg.Tracer = c
	b, err := open(t.Context(), cfg, k)
	if err != nil {
		t.Fatal(err)
	}
	b.Poll = 50 * time.Millisecond
	t.Cleanup(func() { b.Close() })
	return b, c
}

// TestRecords: a stack's record and seed survive a new session; removing
// the record keeps the seed; All lists what has a record.
func TestRecords(t *testing.T) {
	url := pgtest.Start(t)
	ctx := t.Context()
	b, _ := openCounted(t, url, key)
	rec, seed, err := b.Load(ctx, "ci-1")
	if err != nil || rec != nil || seed == nil {
		t.Fatalf("Load of a new stack = %v, %v, %v", rec, seed, err)
	}
	want := &state.Stack{Name: "ci-1", Path: "/w/ci.strata.hcl", Created: time.Now().UTC().Truncate(time.Second), TTL: 2 * time.Hour,
		Machines: []engine.Machine{{ID: "vm-1", State: "running"}}}
	if err := b.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	b2, _ := openCounted(t, url, key)
	got, seed2, err := b2.Load(ctx, "ci-1")
	if err != nil || got == nil || got.Path != want.Path || got.TTL != want.TTL || len(got.Machines) != 1 || seed2.Hex() != seed.Hex() {
		t.Fatalf("Load in a new session = %+v, seed kept %v, %v", got, seed2 != nil && seed2.Hex() == seed.Hex(), err)
	}
	if all, err := b2.All(ctx); err != nil || len(all) != 1 || all[0].Name != "ci-1" {
		t.Fatalf("All = %v, %v", all, err)
	}
	if err := b2.Remove(ctx, "ci-1"); err != nil {
		t.Fatal(err)
	}
	if all, _ := b2.All(ctx); len(all) != 0 {
		t.Errorf("All after Remove = %v", all)
	}
	if rec, seed3, err := b2.Load(ctx, "ci-1"); err != nil || rec != nil || seed3.Hex() != seed.Hex() {
		t.Errorf("after Remove: record %v, seed kept %v, %v", rec, seed3 != nil && seed3.Hex() == seed.Hex(), err)
	}
}

// TestSealed: the seed is never in the database in clear; another key
// fails saying so and changes nothing; no key is refused.
func TestSealed(t *testing.T) {
	url := pgtest.Start(t)
	ctx := t.Context()
	b, _ := openCounted(t, url, key)
	_, seed, err := b.Load(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx, &state.Stack{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := b.conn.QueryRow(ctx, `SELECT seed FROM strata_stacks WHERE name = 's'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(seed.Hex())) || bytes.Contains(bytes.ToLower(raw), []byte(seed.Hex()[:16])) {
		t.Fatal("the seed is stored in clear")
	}
	other, _ := openCounted(t, url, "another key")
	if _, _, err := other.Load(ctx, "s"); err == nil || !strings.Contains(err.Error(), "STRATA_STATE_KEY does not open") {
		t.Fatalf("Load with another key = %v", err)
	}
	var after []byte
	_ = b.conn.QueryRow(ctx, `SELECT seed FROM strata_stacks WHERE name = 's'`).Scan(&after)
	if !bytes.Equal(raw, after) {
		t.Error("a failed Load changed the sealed seed")
	}
	if _, err := Open(ctx, url, ""); err == nil || !strings.Contains(err.Error(), "STRATA_STATE_KEY") {
		t.Errorf("Open without a key = %v", err)
	}
}

// TestLock: a second session waits for a held stack and then fails naming
// the holder; another stack is free; when the holder's session ends (a
// runner killed) the lock is free.
func TestLock(t *testing.T) {
	url := pgtest.Start(t)
	ctx := t.Context()
	a, _ := openCounted(t, url, key)
	b, _ := openCounted(t, url, key)
	holder := state.Holder{Who: "ci@runner-1 pid 42", Job: "https://ci.example/jobs/7"}
	if _, err := a.Lock(ctx, "shared", holder, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := b.Lock(ctx, "shared", state.Holder{Who: "other"}, 300*time.Millisecond)
	var locked *state.LockedError
	if !errors.As(err, &locked) || locked.Holder != holder || locked.Since.IsZero() || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("Lock of a held stack = %v after %s", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "ci@runner-1 pid 42 (https://ci.example/jobs/7) since ") {
		t.Errorf("the error does not name the holder: %v", err)
	}
	release, err := b.Lock(ctx, "other-stack", state.Holder{Who: "other"}, 0)
	if err != nil {
		t.Fatalf("another stack: %v", err)
	}
	release()
	// The holder dies: its session ends, and the waiting run gets the lock.
	got := make(chan error, 1)
	go func() {
		_, err := b.Lock(ctx, "shared", state.Holder{Who: "other"}, 10*time.Second)
		got <- err
	}()
	time.Sleep(200 * time.Millisecond)
	a.Close()
	if err := <-got; err != nil {
		t.Fatalf("Lock after the holder's session ended: %v", err)
	}
}

// TestRoundTrips: strata up costs at most three round trips, for a new
// stack and for a recorded one: lock (which reads the row), load, save
// before the apply, save after.
func TestRoundTrips(t *testing.T) {
	url := pgtest.Start(t)
	ctx := t.Context()
	setup, _ := openCounted(t, url, key)
	if _, _, err := setup.Load(ctx, "makes-the-tables"); err != nil {
		t.Fatal(err)
	}
	for _, stack := range []string{"rt", "rt"} { // new, then recorded
		b, c := openCounted(t, url, key)
		release, err := b.Lock(ctx, stack, state.Holder{Who: "me"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		rec, _, err := b.Load(ctx, stack)
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			rec = &state.Stack{Name: stack}
		}
		for range 2 {
			if err := b.Save(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		if n := c.n.Load(); n > 3 {
			t.Errorf("%d round trips for lock, load and two saves; want at most 3", n)
		}
		release()
		b.Close()
	}
}

package state

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestFilesLock: a second run waits for a held stack and then fails
// naming the holder; released, the lock is free; other stacks are free
// all along.
func TestFilesLock(t *testing.T) {
	f := Files{Dir: Dir(t.TempDir()), Poll: 20 * time.Millisecond}
	ctx := t.Context()
	holder := Holder{Who: "ci@runner pid 7", Job: "https://ci.example/jobs/1"}
	release, err := f.Lock(ctx, "s", holder, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Lock(ctx, "s", Holder{Who: "other"}, 100*time.Millisecond)
	var locked *LockedError
	if !errors.As(err, &locked) || locked.Holder != holder || locked.Since.IsZero() {
		t.Fatalf("Lock of a held stack = %v", err)
	}
	if !strings.Contains(err.Error(), `stack "s" is locked by ci@runner pid 7 (https://ci.example/jobs/1) since`) {
		t.Errorf("message: %v", err)
	}
	other, err := f.Lock(ctx, "t", Holder{Who: "other"}, 0)
	if err != nil {
		t.Fatalf("another stack: %v", err)
	}
	other()
	release()
	again, err := f.Lock(ctx, "s", Holder{Who: "other"}, 0)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}

// TestFilesRecords: Load makes the seed once and keeps it; Import writes a
// record and seed that Load then returns.
func TestFilesRecords(t *testing.T) {
	f := Files{Dir: Dir(t.TempDir())}
	ctx := t.Context()
	rec, seed, err := f.Load(ctx, "a")
	if err != nil || rec != nil || seed == nil {
		t.Fatalf("Load = %v, %v, %v", rec, seed, err)
	}
	if _, again, _ := f.Load(ctx, "a"); again.Hex() != seed.Hex() {
		t.Error("the seed changed between loads")
	}
	dst := Files{Dir: Dir(t.TempDir())}
	if err := dst.Import(ctx, &Stack{Name: "a", Path: "/p"}, seed); err != nil {
		t.Fatal(err)
	}
	got, gotSeed, err := dst.Load(ctx, "a")
	if err != nil || got == nil || got.Path != "/p" || gotSeed.Hex() != seed.Hex() {
		t.Fatalf("after Import: %+v, same seed %v, %v", got, gotSeed != nil && gotSeed.Hex() == seed.Hex(), err)
	}
}

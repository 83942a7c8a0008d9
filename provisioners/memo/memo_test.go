package memo

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestGet(t *testing.T) {
	var m Memo
	var calls atomic.Int32
	compute := func() (int, error) { calls.Add(1); return 42, nil }
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if v, err := Get(&m, "k", compute); v != 42 || err != nil {
				t.Errorf("Get = %d, %v", v, err)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("computed %d times, want once", calls.Load())
	}
	m.Forget("k")
	Get(&m, "k", compute)
	if calls.Load() != 2 {
		t.Fatalf("after Forget: computed %d times, want twice", calls.Load())
	}
	fails := 0
	failing := func() (string, error) { fails++; return "", errors.New("no") }
	Get(&m, "bad", failing)
	if _, err := Get(&m, "bad", failing); err == nil || fails != 2 {
		t.Fatalf("a failure was remembered: %v, %d calls", err, fails)
	}
}

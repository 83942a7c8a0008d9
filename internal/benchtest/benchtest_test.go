package benchtest

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestFanOut(t *testing.T) {
	var running, most, calls atomic.Int32
	boom := errors.New("boom")
	err := FanOut(50, 4, func(i int) error {
		calls.Add(1)
		if n := running.Add(1); n > most.Load() {
			most.Store(n)
		}
		defer running.Add(-1)
		if i == 7 {
			return boom
		}
		return nil
	})
	if calls.Load() != 50 || most.Load() > 4 || !errors.Is(err, boom) {
		t.Fatalf("calls %d, at most %d at once, err %v", calls.Load(), most.Load(), err)
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("STRATA_X", "12")
	t.Setenv("STRATA_Y", "-1")
	if Env("STRATA_X", 3) != 12 || Env("STRATA_Y", 3) != 3 || Env("STRATA_UNSET_Z", 3) != 3 {
		t.Fatal("Env")
	}
}

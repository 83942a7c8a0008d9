package web

import (
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/api"
)

func TestPageTimeline(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	hist := func(pairs ...any) []api.Transition {
		var h []api.Transition
		for i := 0; i < len(pairs); i += 2 {
			h = append(h, api.Transition{State: pairs[i].(api.State), At: at(pairs[i+1].(float64))})
		}
		return h
	}
	const (
		reg    = api.StateRegistered
		dhcp   = api.StateDHCP
		script = api.StateScriptFetched
		kernel = api.StateKernelFetched
		ready  = api.StateReady
		failed = api.StateError
	)
	type want struct {
		reached, skipped string // one letter per step: D S K P, '.' for not
		next             string
		ready, err       bool
		stuck            bool
		last             float64
		since            []time.Duration
	}
	cases := []struct {
		name string
		h    []api.Transition
		now  float64
		off  bool
		want want
	}{
		{"no history", nil, 0, false, want{reached: "....", skipped: "....", next: "DHCP"}},
		{"registered, fresh", hist(reg, 0.0), 30, false,
			want{reached: "....", skipped: "....", next: "DHCP", last: 0}},
		{"registered, no DHCP for too long", hist(reg, 0.0), 61, false,
			want{reached: "....", skipped: "....", next: "DHCP", stuck: true, last: 0}},
		{"registered too long but powered off", hist(reg, 0.0), 600, true,
			want{reached: "....", skipped: "....", next: "DHCP", last: 0}},
		{"whole chain", hist(reg, 0.0, dhcp, 5.0, script, 5.5, kernel, 7.0, ready, 20.0), 1000, false,
			want{reached: "DSKP", skipped: "....", ready: true, last: 20,
				since: []time.Duration{5 * time.Second, 500 * time.Millisecond, 1500 * time.Millisecond, 13 * time.Second}}},
		{"stuck after its kernel", hist(reg, 0.0, dhcp, 5.0, script, 5.5, kernel, 7.0), 68, false,
			want{reached: "DSK.", skipped: "....", next: "phone-home", stuck: true, last: 7}},
		{"just under the threshold", hist(reg, 0.0, dhcp, 5.0), 65, false,
			want{reached: "D...", skipped: "....", next: "script", last: 5}},
		{"kernel from elsewhere: never seen, phone-home reached", hist(reg, 0.0, dhcp, 1.0, script, 2.0, ready, 9.0), 9, false,
			want{reached: "DS.P", skipped: "..K.", ready: true, last: 9}},
		{"reboot: a new DHCP starts a new boot", hist(reg, 0.0, dhcp, 1.0, script, 2.0, kernel, 3.0, ready, 9.0, dhcp, 100.0), 101, false,
			want{reached: "D...", skipped: "....", next: "script", last: 100}},
		{"re-registered: the old boot is gone", hist(reg, 0.0, dhcp, 1.0, ready, 9.0, reg, 50.0), 55, false,
			want{reached: "....", skipped: "....", next: "DHCP", last: 50}},
		{"error is not stuck", hist(reg, 0.0, dhcp, 1.0, failed, 2.0), 1000, false,
			want{reached: "D...", skipped: "....", err: true, last: 2}},
		{"DHCP first seen without registration in history", hist(dhcp, 0.0, script, 1.0), 2, false,
			want{reached: "DS..", skipped: "....", next: "kernel", last: 1}},
	}
	letters := "DSKP"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := bootTimeline(c.h, at(c.now), time.Minute, c.off)
			var reached, skipped []byte
			for i, s := range tl.Steps {
				r, k := byte('.'), byte('.')
				if s.Reached {
					r = letters[i]
				}
				if s.Skipped {
					k = letters[i]
				}
				reached, skipped = append(reached, r), append(skipped, k)
			}
			if string(reached) != c.want.reached || string(skipped) != c.want.skipped {
				t.Errorf("reached %s skipped %s, want %s %s", reached, skipped, c.want.reached, c.want.skipped)
			}
			if tl.Next != c.want.next || tl.Ready != c.want.ready || tl.Error != c.want.err || tl.Stuck != c.want.stuck {
				t.Errorf("next %q ready %t error %t stuck %t, want %q %t %t %t", tl.Next, tl.Ready, tl.Error, tl.Stuck,
					c.want.next, c.want.ready, c.want.err, c.want.stuck)
			}
			if len(c.h) > 0 && !tl.Last.Equal(at(c.want.last)) {
				t.Errorf("last progress %v, want %v", tl.Last, at(c.want.last))
			}
			for i, d := range c.want.since {
				if tl.Steps[i].Since != d {
					t.Errorf("step %s took %v, want %v", tl.Steps[i].Label, tl.Steps[i].Since, d)
				}
			}
		})
	}
}

func TestPageStackTags(t *testing.T) {
	got := stackTags(map[string]string{"strata:stack": "edge", "strata:role": "master", "owner": "ops", "strata:": "x", "strata:pool": "nodes"})
	want := []tag{{"pool", "nodes"}, {"role", "master"}, {"stack", "edge"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

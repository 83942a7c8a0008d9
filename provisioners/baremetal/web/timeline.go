package web

import (
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/api"
)

// DefaultStuckAfter is how long a machine may go without a boot step
// before the status page marks it stuck. Real servers spend minutes in
// firmware before they PXE-boot, and cloud-init may install packages before
// it phones home; the provisioner gives a whole boot 15 minutes.
const DefaultStuckAfter = 10 * time.Minute

// bootSteps are the steps of a PXE boot the page shows, in order, with
// what each is called there.
var bootSteps = [...]struct {
	state api.State
	label string
}{
	{api.StateDHCP, "DHCP"},
	{api.StateScriptFetched, "script"},
	{api.StateKernelFetched, "kernel"},
	{api.StateReady, "phone-home"},
}

// step is one boot step of a machine's current boot.
type step struct {
	Label   string
	At      time.Time // zero when not reached
	Reached bool
	// Skipped: a later step was reached without this one being seen
	// (a kernel fetched from another server, a DHCP answer not ours).
	Skipped bool
	// Since is the time from the previous reached step (or from the
	// start of the boot for the first).
	Since time.Duration
	// Waiting: the step the machine is waiting for.
	Waiting bool
}

// timeline is a machine's current boot, derived from its history.
type timeline struct {
	Steps []step
	// Next is the label of the step the machine is waiting for; empty
	// when it is ready or in error.
	Next string
	// Last is when the machine last made progress.
	Last  time.Time
	Ready bool
	Error bool
	// Stuck: not ready, and no progress for longer than the threshold.
	Stuck bool
}

// bootTimeline derives the current boot from a machine's history (oldest
// first). A boot starts at the last "registered" or "dhcp" transition:
// registering anew and a machine asking DHCP again both begin a boot, and
// the steps before belong to an earlier one. A step's time is when the boot
// first reached it. A machine is stuck when it is neither ready nor
// powered off (off is false when the power state is unknown) and its last
// transition is older than stuckAfter; one in error is always shown as
// such, not as stuck.
func bootTimeline(history []api.Transition, now time.Time, stuckAfter time.Duration, off bool) timeline {
	start := 0
	for i, t := range history {
		if t.State == api.StateRegistered || t.State == api.StateDHCP {
			start = i
		}
	}
	var tl timeline
	cur := history[start:]
	if len(cur) > 0 {
		tl.Last = cur[len(cur)-1].At
		tl.Ready = cur[len(cur)-1].State == api.StateReady
		tl.Error = cur[len(cur)-1].State == api.StateError
	}
	tl.Steps = make([]step, len(bootSteps))
	furthest := -1
	for i, bs := range bootSteps {
		tl.Steps[i].Label = bs.label
		for _, t := range cur {
			if t.State == bs.state {
				tl.Steps[i].At, tl.Steps[i].Reached = t.At, true
				furthest = i
				break
			}
		}
	}
	// Time to the first step counts from registration when the boot
	// began there, which is when the provisioner powers the machine on.
	prev := time.Time{}
	if len(cur) > 0 {
		prev = cur[0].At
		if cur[0].State == api.StateDHCP && start > 0 && history[start-1].State == api.StateRegistered {
			prev = history[start-1].At
		}
	}
	for i := range tl.Steps {
		s := &tl.Steps[i]
		if !s.Reached {
			s.Skipped = i < furthest
			continue
		}
		if !prev.IsZero() && s.At.After(prev) {
			s.Since = s.At.Sub(prev)
		}
		prev = s.At
	}
	if !tl.Ready && !tl.Error {
		next := min(furthest+1, len(bootSteps)-1)
		tl.Next = bootSteps[next].label
		tl.Steps[next].Waiting = true
		tl.Stuck = !off && !tl.Last.IsZero() && now.Sub(tl.Last) > stuckAfter
	}
	return tl
}

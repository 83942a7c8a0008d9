package inventory

import (
	"context"
	"sync"
)

// progressQueue bounds what Progress holds before Record waits: boot
// steps of a few hundred machines booting at once.
const progressQueue = 1024

// Progress records boot steps (dhcp, script-fetched, kernel-fetched) in
// the background, in the order they were reported, so that answering a
// machine never waits on a disk write: a DHCP reply or an iPXE script held
// up by an fsync is a slower boot, and DHCP answers one packet at a time.
// What is queued when the server stops is written by Close; a crash loses
// at most those steps, never a registration or a phone-home, which stay
// synchronous.
type Progress struct {
	store *Store
	onErr func(name string, st State, err error)
	ch    chan step
	done  chan struct{}
	once  sync.Once
}

type step struct {
	name string
	st   State
}

// NewProgress starts a recorder writing to s; onErr (which may be nil)
// hears about steps that could not be recorded.
func (s *Store) NewProgress(onErr func(name string, st State, err error)) *Progress {
	p := &Progress{store: s, onErr: onErr, ch: make(chan step, progressQueue), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *Progress) run() {
	defer close(p.done)
	ctx := context.Background() // not a request's: the step happened, whoever asked
	for s := range p.ch {
		// A step the machine is already at (a DHCP DISCOVER and its
		// REQUEST, a client retrying) is not written again: it is the same
		// step, and a read costs no fsync.
		if m, err := p.store.GetMachine(ctx, s.name); err == nil && m.State == s.st {
			continue
		}
		if _, err := p.store.SetState(ctx, s.name, s.st); err != nil && p.onErr != nil {
			p.onErr(s.name, s.st, err)
		}
	}
}

// Record queues a boot step of the named machine. It waits only when the
// queue is full. Record after Close panics.
func (p *Progress) Record(name string, st State) {
	p.ch <- step{name, st}
}

// Close writes what is queued and stops the recorder.
func (p *Progress) Close() {
	p.once.Do(func() { close(p.ch) })
	<-p.done
}

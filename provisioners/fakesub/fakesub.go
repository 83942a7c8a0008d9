package fakesub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/vsphere"
	"github.com/stratastack/strata/stacks"
)

// Substrate is an in-memory substrate standing in for a vsphere one. Its
// zero value is not ready for use: make one with New. It is safe for
// concurrent use.
type Substrate struct {
	mu         sync.Mutex
	vms        map[string]provisioners.Instance // by id
	userData   map[string][]byte                // by machine name
	events     []string
	next       int
	opens      int
	openErr    error
	delay      time.Duration
	createErr  map[string]error // machine name -> permanent create failure
	deleteErr  map[string]error // machine name -> permanent delete failure
	transients map[string]int   // machine name -> transient create failures left

	inFlight, maxInFlight atomic.Int32
}

var _ provisioners.Provisioner = (*Substrate)(nil)

// New returns an empty substrate.
func New() *Substrate {
	return &Substrate{
		vms:        map[string]provisioners.Instance{},
		userData:   map[string][]byte{},
		createErr:  map[string]error{},
		deleteErr:  map[string]error{},
		transients: map[string]int{},
	}
}

// Open counts an open of a substrate block and returns s, or the error set
// with FailOpen. It has the shape of engine.OpenFunc.
func (s *Substrate) Open(context.Context, *stacks.Substrate) (provisioners.Provisioner, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens++
	if s.openErr != nil {
		return nil, s.openErr
	}
	return s, nil
}

// FailOpen makes every Open fail with err (refused credentials, a missing
// template); nil lets them succeed again.
func (s *Substrate) FailOpen(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.openErr = err
}

// SetDelay makes every Create wait d (or until its context ends) first.
func (s *Substrate) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// FailCreate makes every create of the machine named name fail for good
// with err; nil lets it succeed again.
func (s *Substrate) FailCreate(name string, err error) { s.setErr(s.createErr, name, err) }

// FailDelete makes every delete of the machine named name fail for good
// with err; nil lets it succeed again.
func (s *Substrate) FailDelete(name string, err error) { s.setErr(s.deleteErr, name, err) }

func (s *Substrate) setErr(m map[string]error, name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(m, name)
		return
	}
	m[name] = err
}

// FailTransiently makes the next n creates of the machine named name fail
// with a transient error (a busy server), which the engine retries.
func (s *Substrate) FailTransiently(name string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transients[name] = n
}

// enter counts a call in flight until the returned function is called.
func (s *Substrate) enter() func() {
	n := s.inFlight.Add(1)
	for {
		old := s.maxInFlight.Load()
		if n <= old || s.maxInFlight.CompareAndSwap(old, n) {
			break
		}
	}
	return func() { s.inFlight.Add(-1) }
}

// Spec is the vsphere substrate's.
func (s *Substrate) Spec() provisioners.Spec { return vsphere.Spec() }

// Create makes a pending machine with id vm-N.
func (s *Substrate) Create(ctx context.Context, mc provisioners.Machine) (provisioners.Instance, error) {
	defer s.enter()()
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return provisioners.Instance{}, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.createErr[mc.Name]; err != nil {
		return provisioners.Instance{}, err
	}
	if s.transients[mc.Name] > 0 {
		s.transients[mc.Name]--
		return provisioners.Instance{}, provisioners.Transient(errors.New("503 busy"))
	}
	s.next++
	in := provisioners.Instance{ID: fmt.Sprintf("vm-%d", s.next), Name: mc.Name, Tags: maps.Clone(mc.Tags), State: provisioners.StatePending}
	s.vms[in.ID] = in
	s.userData[mc.Name] = mc.UserData
	s.events = append(s.events, "create "+mc.Name)
	return in, nil
}

// Ready marks a machine running with an address derived from its id:
// vm-1 gets 10.0.0.2, vm-2 10.0.0.3, and so on.
func (s *Substrate) Ready(ctx context.Context, id string) (provisioners.Instance, error) {
	defer s.enter()()
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.vms[id]
	if !ok {
		return in, fmt.Errorf("%s is gone", id)
	}
	var n int
	fmt.Sscanf(id, "vm-%d", &n)
	in.State, in.Addresses = provisioners.StateRunning, []string{fmt.Sprintf("10.0.%d.%d", n/250, n%250+1)}
	s.vms[id] = in
	s.events = append(s.events, "ready "+in.Name)
	return in, nil
}

// Read returns a machine, or one in state gone when there is none.
func (s *Substrate) Read(ctx context.Context, id string) (provisioners.Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.vms[id]
	if !ok {
		return provisioners.Instance{ID: id, State: provisioners.StateGone}, nil
	}
	return in, nil
}

// Delete removes a machine; deleting one that does not exist succeeds.
func (s *Substrate) Delete(ctx context.Context, id string) error {
	defer s.enter()()
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.vms[id]
	if !ok {
		return nil
	}
	if err := s.deleteErr[in.Name]; err != nil {
		return err
	}
	s.events = append(s.events, "delete "+in.Name)
	delete(s.userData, in.Name)
	delete(s.vms, id)
	return nil
}

// List returns the machines that carry all of tags, by id.
func (s *Substrate) List(ctx context.Context, tags map[string]string) ([]provisioners.Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []provisioners.Instance
	for _, in := range s.vms {
		match := in.Tags[provisioners.TagStack] != ""
		for k, v := range tags {
			match = match && in.Tags[k] == v
		}
		if match {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Tag merges tags into a machine's.
func (s *Substrate) Tag(ctx context.Context, id string, tags map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.vms[id]
	if !ok {
		return fmt.Errorf("fakesub: no machine %s", id)
	}
	in.Tags = maps.Clone(in.Tags)
	maps.Copy(in.Tags, tags)
	s.vms[id] = in
	s.events = append(s.events, "tag "+in.Name)
	return nil
}

// Names lists the names of the machines that exist, sorted; a name held
// by two machines is listed twice.
func (s *Substrate) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, in := range s.vms {
		out = append(out, in.Name)
	}
	sort.Strings(out)
	return out
}

// IDs maps the names of the machines that exist to their ids.
func (s *Substrate) IDs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for id, in := range s.vms {
		out[in.Name] = id
	}
	return out
}

// Count is the number of machines that exist.
func (s *Substrate) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.vms)
}

// Events is the log of what happened, in order: "create NAME",
// "ready NAME" and "delete NAME".
func (s *Substrate) Events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// UserData is the user data the machine named name was created with, while
// it exists.
func (s *Substrate) UserData(name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userData[name]
}

// Opens is the number of calls to Open.
func (s *Substrate) Opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// MaxInFlight is the most Create, Ready and Delete calls that ran at once.
func (s *Substrate) MaxInFlight() int { return int(s.maxInFlight.Load()) }

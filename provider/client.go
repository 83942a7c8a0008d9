package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// settings are the provider block resolved against the environment.
type settings struct {
	VSphere   vsphereSettings
	OpenStack openstackSettings
	AWS       awsSettings
	BareMetal baremetalSettings
}

// Each kind's Unknown is set when its block held a value Terraform did
// not know yet (it depends on another resource); checks that need the
// values wait for apply, when it is known.

type vsphereSettings struct {
	Server, User, Password string
	Insecure               bool
	Unknown                bool
}

type openstackSettings struct {
	Cloud, AuthURL, UserName, Password, ProjectName string
	UserDomainName, ProjectDomainName, Region       string
	Insecure                                        bool
	Unknown                                         bool
}

type awsSettings struct {
	Region, Profile string
	Unknown         bool
}

type baremetalSettings struct {
	BootServer, Token string
	Unknown           bool
}

// substrateKind is what the provider can do with one substrate kind.
type substrateKind struct {
	// open connects to a substrate; nil means this provider version has no
	// provisioner for the kind.
	open func(ctx context.Context, cfg *settings, sub *stacks.Substrate) (provisioners.Provisioner, error)
	// unknown reports whether the kind's provider settings hold a value
	// Terraform does not know yet, so connecting must wait for apply.
	unknown func(cfg *settings) bool
}

// errUnsupportedKind marks a substrate kind the provider cannot open.
var errUnsupportedKind = errors.New("not supported by this provider version yet")

func unsupportedKind(kind string) error {
	return fmt.Errorf("substrate kind %q is %w", kind, errUnsupportedKind)
}

// client is what Configure hands to resources and data sources.
type client struct {
	settings    settings
	parallelism int
	kinds       stacks.Kinds
	substrates  map[string]substrateKind
}

// open connects to one substrate of a stack.
func (c *client) open(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
	k, ok := c.substrates[sub.Kind]
	if !ok || k.open == nil {
		return nil, unsupportedKind(sub.Kind)
	}
	return k.open(ctx, &c.settings, sub)
}

// supported lists the kinds this provider version provisions.
func (c *client) supported() []string {
	var out []string
	for k, v := range c.substrates {
		if v.open != nil {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// session opens substrates for one operation and closes (logs out of)
// them when the operation is done.
type session struct {
	c      *client
	mu     sync.Mutex
	opened []provisioners.Provisioner
}

var _ engine.Opener = (*session)(nil)

func (s *session) Open(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
	prov, err := s.c.open(ctx, sub)
	if err == nil {
		s.mu.Lock()
		s.opened = append(s.opened, prov)
		s.mu.Unlock()
	}
	return prov, err
}

func (s *session) close(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, prov := range s.opened {
		if cl, ok := prov.(interface{ Close() error }); ok {
			if err := cl.Close(); err != nil {
				tflog.Debug(ctx, "closing a substrate connection: "+err.Error())
			}
		}
	}
	s.opened = nil
}

// problem is one reason a stack cannot be applied, at a place in the stack
// file when there is one.
type problem struct {
	at      *stacks.Substrate
	summary string
	detail  string
}

// preflight says everything that would stop an apply of p before it made a
// machine: substrate kinds without a provisioner, plan steps the engine
// cannot run yet, and substrates that cannot be opened (unreachable,
// refused credentials, a missing datacenter, template, datastore or
// network) when connect is set. Opening is skipped for a kind whose
// provider settings are not known yet; apply, which opens every substrate
// before it makes anything, needs no connect.
func (c *client) preflight(ctx context.Context, p *plan.Plan, connect bool) []problem {
	var out []problem
	var openable []*stacks.Substrate
	for _, sub := range p.Source().Substrates {
		k, ok := c.substrates[sub.Kind]
		if !ok || k.open == nil {
			out = append(out, problem{at: sub, summary: "Unsupported substrate kind",
				detail: fmt.Sprintf("substrate.%s.%s: %v; this version provisions %s. To run a layer on machines made by another provider, render their bootstrap with the strata_bootstrap data source.",
					sub.Kind, sub.Name, unsupportedKind(sub.Kind), strings.Join(c.supported(), ", "))})
			continue
		}
		if k.unknown == nil || !k.unknown(&c.settings) {
			openable = append(openable, sub)
		}
	}
	if err := engine.Check(p); err != nil {
		out = append(out, problem{summary: "Stack cannot be applied yet", detail: err.Error()})
	}
	if len(out) > 0 || !connect {
		return out
	}
	sess := &session{c: c}
	defer sess.close(ctx)
	for _, sub := range openable {
		if _, err := sess.Open(ctx, sub); err != nil {
			out = append(out, problem{at: sub, summary: "Cannot use substrate " + sub.Kind + "." + sub.Name,
				detail: fmt.Sprintf("substrate.%s.%s: %v", sub.Kind, sub.Name, err)})
		}
	}
	return out
}

// engine returns an engine for one operation and the function that ends
// it. Progress goes to tflog on ctx; total is the number of machines the
// operation expects to bring up (0 when unknown), and observe, when set,
// sees every event too.
func (c *client) engine(ctx context.Context, total int, observe func(engine.Event)) (*engine.Engine, func()) {
	var created, ready, deleted atomic.Int64
	sess := &session{c: c}
	e := engine.New(sess, engine.Options{
		Parallelism: c.parallelism,
		Report: func(ev engine.Event) {
			if observe != nil {
				observe(ev)
			}
			fields := map[string]any{"action": ev.Action, "machine": ev.Machine}
			switch ev.Action {
			case "retry":
				fields["attempt"] = ev.Attempt
				if ev.Err != nil {
					fields["error"] = ev.Err.Error()
				}
				tflog.Warn(ctx, fmt.Sprintf("retrying %s after a transient error", ev.Machine), fields)
				return
			case "create":
				fields["created"] = created.Add(1)
			case "ready":
				n := ready.Add(1)
				fields["ready"] = n
				if total > 0 {
					tflog.Info(ctx, fmt.Sprintf("%s is ready (%d/%d)", ev.Machine, n, total), fields)
					return
				}
			case "delete":
				fields["deleted"] = deleted.Add(1)
			}
			tflog.Info(ctx, ev.Action+" "+ev.Machine, fields)
		},
	})
	return e, func() { sess.close(ctx) }
}

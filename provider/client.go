package provider

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// settings are the provider block resolved against the environment.
type settings struct {
	// env holds each substrate kind's settings.
	env map[string]provisioners.Env
	// unknown is set for a kind whose block held a value Terraform did not
	// know yet (it depends on another resource); checks that need the
	// values wait for apply, when it is known.
	unknown map[string]bool
}

// unsupportedKind is the error for a kind the registry has no provisioner
// for.
func unsupportedKind(kind string) error {
	return fmt.Errorf("substrate kind %q is not supported by this provider version yet", kind)
}

// client is what Configure hands to resources and data sources.
type client struct {
	settings    settings
	parallelism int
	kinds       stacks.Kinds
	// author is who the machines this provider makes say made them.
	author string
	// opener opens a substrate of a supported kind: the registry with the
	// resolved settings, or the in-memory substrate of the provider's tests.
	opener func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error)
}

// configure sets *c to the client Terraform hands a resource or data
// source as provider data, once the provider is configured.
func configure(c **client, providerData any, diags *diag.Diagnostics) {
	if providerData == nil {
		return
	}
	got, ok := providerData.(*client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *provider.client, got %T. This is a bug in the provider.", providerData))
		return
	}
	*c = got
}

// open connects to one substrate of a stack. The engine closes what it
// opened when an operation ends; other callers close it themselves.
func (c *client) open(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
	if c.kinds.Substrates[sub.Kind].Open == nil {
		return nil, unsupportedKind(sub.Kind)
	}
	return c.opener(ctx, sub)
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
// network) when probe is set. Opening is skipped for a kind whose
// provider settings are not known yet; apply, which opens every substrate
// before it makes anything, needs no probe.
func (c *client) preflight(ctx context.Context, p *plan.Plan, probe bool) []problem {
	var out []problem
	var openable []*stacks.Substrate
	for _, sub := range p.Source().Substrates {
		if c.kinds.Substrates[sub.Kind].Open == nil {
			out = append(out, problem{at: sub, summary: "Unsupported substrate kind",
				detail: fmt.Sprintf("substrate.%s.%s: %v; this version provisions %s. To run a layer on machines made by another provider, render their bootstrap with the strata_bootstrap data source.",
					sub.Kind, sub.Name, unsupportedKind(sub.Kind), strings.Join(c.kinds.Provisioned(), ", "))})
			continue
		}
		if !c.settings.unknown[sub.Kind] {
			openable = append(openable, sub)
		}
	}
	if err := engine.Check(p); err != nil {
		out = append(out, problem{summary: "Stack cannot be applied yet", detail: err.Error()})
	}
	if len(out) > 0 || !probe {
		return out
	}
	for _, sub := range openable {
		prov, err := c.open(ctx, sub)
		if err != nil {
			out = append(out, problem{at: sub, summary: "Cannot use substrate " + sub.Kind + "." + sub.Name,
				detail: fmt.Sprintf("substrate.%s.%s: %v", sub.Kind, sub.Name, err)})
			continue
		}
		if cl, ok := prov.(io.Closer); ok {
			if err := cl.Close(); err != nil {
				tflog.Debug(ctx, "closing a substrate connection: "+err.Error())
			}
		}
	}
	return out
}

// engine returns an engine for one operation; it closes the substrates it
// opens when the operation returns. Progress goes to tflog on ctx; total is
// the number of machines the operation expects to bring up (0 when
// unknown), and observe, when set, sees every event too.
func (c *client) engine(ctx context.Context, total int, observe func(engine.Event)) *engine.Engine {
	var created, ready, deleted atomic.Int64
	return engine.New(engine.OpenFunc(c.open), engine.Options{
		Parallelism: c.parallelism,
		Report: func(ev engine.Event) {
			if observe != nil {
				observe(ev)
			}
			fields := map[string]any{"action": ev.Action, "machine": ev.Machine}
			switch ev.Action {
			case engine.ActionRetry:
				fields["attempt"] = ev.Attempt
				if ev.Err != nil {
					fields["error"] = ev.Err.Error()
				}
				tflog.Warn(ctx, fmt.Sprintf("retrying %s after a transient error", ev.Machine), fields)
				return
			case engine.ActionCreate:
				fields["created"] = created.Add(1)
			case engine.ActionReady:
				n := ready.Add(1)
				fields["ready"] = n
				if total > 0 {
					tflog.Info(ctx, fmt.Sprintf("%s is ready (%d/%d)", ev.Machine, n, total), fields)
					return
				}
			case engine.ActionDelete:
				fields["deleted"] = deleted.Add(1)
			}
			tflog.Info(ctx, ev.Action+" "+ev.Machine, fields)
		},
	})
}

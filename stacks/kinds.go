package stacks

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/layers"
)

// Kinds are the substrate and layer kinds a stack may use: the registry
// (internal/catalog builds the built-in one) that validation, plans, the
// engine's opener, the CLI and the provider all read.
type Kinds struct {
	Layers     *layers.Set
	Substrates map[string]provisioners.Kind
}

// Provisioned lists the substrate kinds that can make machines, sorted.
func (k Kinds) Provisioned() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(k.Substrates)) {
		if k.Substrates[name].Open != nil {
			out = append(out, name)
		}
	}
	return out
}

// Unprovisioned fails, before anything is made, when s uses a substrate
// kind that cannot make machines yet.
func (k Kinds) Unprovisioned(s *Stack) error {
	for _, sub := range s.Substrates {
		if k.Substrates[sub.Kind].Open == nil {
			return fmt.Errorf("substrate %s.%s: kind %q %s", sub.Kind, sub.Name, sub.Kind, k.unsupported())
		}
	}
	return nil
}

// Open connects to a substrate block with its kind's resolved settings.
func (k Kinds) Open(ctx context.Context, env provisioners.Env, sub *Substrate) (provisioners.Provisioner, error) {
	open := k.Substrates[sub.Kind].Open
	if open == nil {
		return nil, fmt.Errorf("substrate kind %q %s", sub.Kind, k.unsupported())
	}
	return open(ctx, env, provisioners.Target{Name: sub.Name, Settings: sub.Settings, Access: sub.Access})
}

// unsupported ends the message about a kind without a provisioner.
func (k Kinds) unsupported() string {
	return "is not supported by this version of strata yet (supported: " + strings.Join(k.Provisioned(), ", ") + ")"
}

// Environment resolves every substrate kind's settings from the
// environment alone, as the CLI does; problems name the variable.
func (k Kinds) Environment(getenv func(string) string) (map[string]provisioners.Env, []provisioners.Problem) {
	out := map[string]provisioners.Env{}
	var problems []provisioners.Problem
	for name, kind := range k.Substrates {
		env, p := kind.Resolve(nil, getenv)
		out[name] = env
		problems = append(problems, p...)
	}
	return out, problems
}

package provisioners

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/stratastack/strata/stacks/schema"
)

// Kind is everything front ends need about one substrate kind, so that
// adding a kind is adding its package and one line to the registry
// (internal/catalog): what a stack file may write (Spec), where its
// credentials come from (Settings: the provider block's attributes, each
// falling back to environment variables), and how to open a provisioner.
type Kind struct {
	Spec Spec
	// Doc describes the kind's block in the provider configuration.
	Doc string
	// Settings are that block's attributes, which the CLI reads from the
	// environment alone.
	Settings []Setting
	// Open connects to one substrate block of the kind. Nil while the kind
	// has no provisioner: stacks on it validate and plan, and applying them
	// fails before anything is made.
	Open func(ctx context.Context, env Env, t Target) (Provisioner, error)
}

// Setting is one credential or connection setting of a kind.
type Setting struct {
	Name string
	Doc  string
	// Env lists the environment variables the setting falls back to, the
	// first one set winning.
	Env       []string
	Sensitive bool
	// Bool settings take true or false (or 1 or 0); others are strings.
	Bool bool
}

// Env is what a kind opens provisioners with.
type Env struct {
	// Settings holds each Setting's value: the provider block's when it
	// wrote one, else the environment's; "" when neither has it.
	Settings map[string]string
	// Getenv reads what is not a setting or is read only when used (BMC
	// passwords, clouds.yaml's location). os.Getenv in a main.
	Getenv func(string) string
}

// Bool reads a Bool setting; Resolve has vetted it.
func (e Env) Bool(name string) bool {
	b, _ := strconv.ParseBool(e.Settings[name])
	return b
}

// Target is the substrate block a provisioner is opened for.
type Target struct {
	Name     string
	Settings schema.Values
	// Access is how to reach a substrate a layer became (stacks.Substrate
	// documents the keys); nil for a block of the stack file.
	Access map[string]string
}

// Resolve fills k's settings: written holds the values a provider block
// wrote (absent when it wrote none), the environment the rest. A Bool
// setting that does not parse is a Problem naming the setting.
func (k Kind) Resolve(written map[string]string, getenv func(string) string) (Env, []Problem) {
	env := Env{Settings: map[string]string{}, Getenv: getenv}
	var problems []Problem
	for _, s := range k.Settings {
		v, ok := written[s.Name]
		from := k.Spec.Kind + "." + s.Name
		if !ok {
			for _, e := range s.Env {
				if v = getenv(e); v != "" {
					from = e
					break
				}
			}
		}
		if s.Bool && v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				problems = append(problems, Problem{Attr: s.Name, Summary: "Invalid " + from,
					Detail: fmt.Sprintf("%s=%q is not a boolean: write true or false (or 1 or 0).", from, v)})
			}
		}
		env.Settings[s.Name] = v
	}
	return env, problems
}

// EnvDoc is the sentence that documents a setting's environment variables.
func (s Setting) EnvDoc() string {
	if len(s.Env) == 0 {
		return ""
	}
	quoted := make([]string, len(s.Env))
	for i, v := range s.Env {
		quoted[i] = "`" + v + "`"
	}
	return " Defaults to the " + strings.Join(quoted, " or ") + " environment variable."
}

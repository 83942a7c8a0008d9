// Command strata validates, plans and renders Strata stacks.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/cli"
)

const usage = `Usage: strata COMMAND PATH [flags]

Commands:
  validate PATH [-var k=v]... [-var-file F]...          check a stack; exit 1 with diagnostics
  plan PATH [-var k=v]... [-var-file F]... [-json]      what the stack would make
  render PATH -node POOL/INDEX | -layer KIND.NAME[/ROLE] the bootstrap of one machine, or a hosted layer's objects

PATH is a stack file (.hcl or .json) or a folder of *.strata.hcl / *.strata.json files.
`

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		return cli.Usage
	}
	cmd := args[0]
	fs := flag.NewFlagSet("strata "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var vars, varFiles multi
	fs.Var(&vars, "var", "set a variable: NAME=VALUE (repeatable)")
	fs.Var(&varFiles, "var-file", "read variables from a .tfvars-style file (repeatable)")
	asJSON := fs.Bool("json", false, "plan: print one JSON document")
	node := fs.String("node", "", "render: the machine POOL/INDEX")
	layer := fs.String("layer", "", "render: a hosted layer KIND.NAME, or one role KIND.NAME/ROLE")
	stateDir := fs.String("state-dir", ".strata", "where per-stack state and secret seeds are kept")
	// Flags may follow the path, as in the documented usage.
	var path string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return cli.Usage
		}
		if fs.NArg() == 0 {
			break
		}
		if path != "" {
			fmt.Fprintf(stderr, "strata %s: one PATH only (got %q and %q)\n", cmd, path, fs.Arg(0))
			return cli.Usage
		}
		path, rest = fs.Arg(0), fs.Args()[1:]
	}
	if path == "" {
		fmt.Fprintf(stderr, "strata %s: missing PATH\n\n%s", cmd, usage)
		return cli.Usage
	}
	a := cli.Stack{Path: path, Vars: vars, VarFiles: varFiles}
	out := cli.IO{Out: stdout, Err: stderr, Width: 100}
	kinds := catalog.Kinds()
	switch cmd {
	case "validate":
		return cli.Validate(ctx, a, kinds, out)
	case "plan":
		return cli.Plan(ctx, a, *asJSON, kinds, out)
	case "render":
		return cli.Render(ctx, a, cli.RenderArgs{Node: *node, Layer: *layer, StateDir: *stateDir}, kinds, out)
	}
	fmt.Fprintf(stderr, "strata: unknown command %q\n\n%s", cmd, usage)
	return cli.Usage
}

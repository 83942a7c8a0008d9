// Command strata validates, plans and renders Strata stacks.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/ci"
	"github.com/stratastack/strata/internal/cli"
	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/internal/state"
	"github.com/stratastack/strata/internal/version"
	"github.com/stratastack/strata/stacks"
)

const usageText = `Usage: strata COMMAND PATH [flags]

Commands:
  validate PATH [-var k=v]... [-var-file F]...          check a stack; exit 1 with diagnostics
  plan PATH [-var k=v]... [-var-file F]... [-json]      what the stack would make
  render PATH -node POOL/INDEX | -layer KIND.NAME[/ROLE] the bootstrap of one machine, or a hosted layer's objects
  graph PATH [-o F.svg|F.png|F.dot] [-state URL|DIR]    the stack as a picture: DOT on stdout (| dot -Tsvg), SVG/PNG
                                                        through Graphviz's dot; -state colours what a record says exists
  up PATH [-var k=v]... [-parallelism N] [-ttl 2h]      bring the stack up (or in line with its file)
  down PATH | down -expired [PATH]                      remove the stack's machines / every expired stack: recorded, and on PATH's substrates
  status [PATH] | status -all PATH                      the stack's machines / every recorded stack / every stack on PATH's substrates
  state migrate -from A -to B                           copy every recorded stack and its seed between backends
  version                                               this build's version, commit, Go version and platform
  sim vsphere [-listen ADDR]                            run a vSphere simulator with a template, for trying strata locally
  sim aws                                               moto's EC2 server (moto_server) on loopback with subnets, a security group and a key pair
  sim marathon [-listen ADDR]                           a Marathon v2 test server, standing in for a mesos layer's API
  sim kubernetes -stack S -layer-name L [-nodes N]      a real Kubernetes control plane with kwok nodes serving stack S's CA (make kube-deps)
  boot serve [-data DIR] [-http ADDR] [-tftp ADDR] ...  the bare-metal boot server (strata boot serve -h lists its flags)
  lab up | down | status | exec                         a local PXE lab of QEMU VMs with IPMI BMCs (strata lab lists its flags)

Settings and credentials come from the environment, per substrate kind:
%s
OpenStack also reads clouds.yaml where its CLI does (OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack,
/etc/openstack). BMC passwords come from STRATA_BMC_PASSWORD (or the variable a machine's bmc_password_env names).
State and secret seeds are kept in -state-dir (.strata).

PATH is a stack file (.hcl or .json) or a folder of *.strata.hcl / *.strata.json files.
`

// usage is the help text, with the environment variables every
// registered substrate kind reads.
func usage(kinds stacks.Kinds) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(kinds.Substrates)) {
		var vars []string
		for _, s := range kinds.Substrates[name].Settings {
			vars = append(vars, strings.Join(s.Env, " or "))
		}
		fmt.Fprintf(&b, "  %-10s %s\n", name, strings.Join(vars, ", "))
	}
	return fmt.Sprintf(usageText, strings.TrimSuffix(b.String(), "\n"))
}

// buildVersion and buildCommit are set by the build (-ldflags "-X
// main.buildVersion=$(cat VERSION) -X main.buildCommit=$(git rev-parse HEAD)").
var buildVersion, buildCommit = "dev", ""

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	kinds := catalog.Kinds()
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprint(stderr, usage(kinds))
		return cli.Usage
	}
	cmd := args[0]
	switch cmd {
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "strata "+version.Of(buildVersion, buildCommit).String())
		return cli.OK
	case "boot":
		return bootCmd(ctx, args[1:], stdout, stderr)
	case "lab":
		return labCmd(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("strata "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var vars, varFiles multi
	fs.Var(&vars, "var", "set a variable: NAME=VALUE (repeatable)")
	fs.Var(&varFiles, "var-file", "read variables from a .tfvars-style file (repeatable)")
	asJSON := fs.Bool("json", false, "plan: print one JSON document")
	node := fs.String("node", "", "render: the machine POOL/INDEX")
	layer := fs.String("layer", "", "render: a hosted layer KIND.NAME, or one role KIND.NAME/ROLE")
	output := fs.String("o", "", "graph: write FILE (.svg, .png or .dot, by its extension) instead of DOT on stdout")
	stateDir := fs.String("state-dir", ".strata", "where per-stack state and secret seeds are kept (the default backend)")
	stateURL := fs.String("state", os.Getenv("STRATA_STATE"), "the state backend: a folder, or postgres://USER@HOST/DB (default $STRATA_STATE; seeds sealed with $STRATA_STATE_KEY)")
	lockTimeout := fs.Duration("lock-timeout", 5*time.Minute, "up/down: how long to wait for another run's lock on the stack")
	from := fs.String("from", "", "state migrate: the backend to copy from (a folder or postgres://...)")
	to := fs.String("to", "", "state migrate: the backend to copy to")
	parallelism := fs.Int64("parallelism", engine.DefaultParallelism, "up/down: concurrent calls per substrate (at least 1)")
	ttl := fs.Duration("ttl", 0, "up: the stack expires after this long (status reports it, down -expired removes it)")
	expired := fs.Bool("expired", false, "down: remove every stack whose TTL ran out: recorded ones, then those PATH's substrates hold (found by their tags)")
	all := fs.Bool("all", false, "status: every stack that PATH's substrates hold, found by their tags, with its expiry and author")
	listen := fs.String("listen", "127.0.0.1:0", "sim: address to serve on")
	simStack := fs.String("stack", "", "sim kubernetes: the stack whose CA the cluster serves")
	simLayer := fs.String("layer-name", "", "sim kubernetes: the kubernetes layer of that stack")
	simNodes := fs.Int("nodes", 3, "sim kubernetes: kwok nodes")
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
	if err := engine.CheckParallelism(*parallelism); err != nil {
		fmt.Fprintf(stderr, "strata %s: -%v\n", cmd, err)
		return cli.Usage
	}
	out := cli.IO{Out: stdout, Err: stderr, Width: 100}
	st := cli.StateArgs{Dir: *stateDir, URL: *stateURL, Key: os.Getenv("STRATA_STATE_KEY"), Holder: state.HolderFrom(os.Getenv), LockTimeout: *lockTimeout}
	if cmd == "state" {
		if path != "migrate" || *from == "" || *to == "" {
			fmt.Fprintln(stderr, "usage: strata state migrate -from BACKEND -to BACKEND (a folder or postgres://...; STRATA_STATE_KEY seals seeds in a database)")
			return cli.Usage
		}
		return cli.Migrate(ctx, cli.StateArgs{Dir: *stateDir, URL: *from, Key: st.Key}, cli.StateArgs{Dir: *stateDir, URL: *to, Key: st.Key}, out)
	}
	if cmd == "sim" {
		return cli.Sim(ctx, path, cli.SimArgs{Addr: *listen, Stack: *simStack, Layer: *simLayer, StateDir: *stateDir, Nodes: *simNodes}, out)
	}
	optionalPath := cmd == "status" || (cmd == "down" && *expired)
	if path == "" && !optionalPath {
		fmt.Fprintf(stderr, "strata %s: missing PATH\n\n%s", cmd, usage(kinds))
		return cli.Usage
	}
	a := cli.Stack{Path: path, Vars: vars, VarFiles: varFiles}
	env, problems := kinds.Environment(os.Getenv)
	apply := cli.ApplyArgs{
		State: st, Parallelism: int(*parallelism), TTL: *ttl, Expired: *expired, All: *all, Author: ci.Author(os.Getenv),
		Env: env, Live: isTerminal(stderr),
	}
	if cmd == "up" || cmd == "down" || cmd == "status" {
		for _, p := range problems {
			fmt.Fprintf(stderr, "strata %s: %s\n", cmd, p.Detail)
		}
		if len(problems) > 0 {
			return cli.Usage
		}
	}
	switch cmd {
	case "up":
		return cli.Up(ctx, a, apply, kinds, out)
	case "down":
		return cli.Down(ctx, a, apply, kinds, out)
	case "status":
		return cli.Status(ctx, a, apply, kinds, out)
	case "validate":
		return cli.Validate(ctx, a, kinds, out)
	case "plan":
		return cli.Plan(ctx, a, *asJSON, kinds, out)
	case "render":
		return cli.Render(ctx, a, cli.RenderArgs{Node: *node, Layer: *layer, State: st}, kinds, out)
	case "graph":
		// Colour by a record only when a backend is named (-state or
		// STRATA_STATE), as the picture of a file alone is the common case.
		return cli.Graph(ctx, a, cli.GraphArgs{Output: *output, Colour: *stateURL != "", State: st}, kinds, out)
	}
	fmt.Fprintf(stderr, "strata: unknown command %q\n\n%s", cmd, usage(kinds))
	return cli.Usage
}

// isTerminal reports whether w is a character device, where a redrawn
// progress line makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

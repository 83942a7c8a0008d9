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
	"syscall"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/cli"
	"github.com/stratastack/strata/internal/connect"
	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/provisioners/baremetal"
	"github.com/stratastack/strata/provisioners/openstack"
	"github.com/stratastack/strata/provisioners/vsphere"
)

const usage = `Usage: strata COMMAND PATH [flags]

Commands:
  validate PATH [-var k=v]... [-var-file F]...          check a stack; exit 1 with diagnostics
  plan PATH [-var k=v]... [-var-file F]... [-json]      what the stack would make
  render PATH -node POOL/INDEX | -layer KIND.NAME[/ROLE] the bootstrap of one machine, or a hosted layer's objects
  up PATH [-var k=v]... [-parallelism N] [-ttl 2h]      bring the stack up (or in line with its file)
  down PATH | down -expired                             remove the stack's machines / every expired stack
  status [PATH]                                         the stack's machines as the substrate reports them / every recorded stack
  sim vsphere [-listen ADDR]                            run a vSphere simulator with a template, for trying strata locally
  boot serve [-data DIR] [-http ADDR] [-tftp ADDR] ...  the bare-metal boot server (strata boot serve -h lists its flags)
  lab up | down | status | exec                         a local PXE lab of QEMU VMs with IPMI BMCs (strata lab lists its flags)

Credentials come from the environment: VSPHERE_SERVER, VSPHERE_USER, VSPHERE_PASSWORD,
VSPHERE_ALLOW_UNVERIFIED_SSL; OpenStack's OS_CLOUD with clouds.yaml (OS_CLIENT_CONFIG_FILE, ./,
~/.config/openstack, /etc/openstack) or the other OS_* variables; STRATA_BOOT_TOKEN (the boot server API) and STRATA_BMC_PASSWORD
(or the variable a machine's bmc_password_env names). State and secret seeds are kept in -state-dir (.strata).

PATH is a stack file (.hcl or .json) or a folder of *.strata.hcl / *.strata.json files.
`

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
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		return cli.Usage
	}
	cmd := args[0]
	switch cmd {
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
	stateDir := fs.String("state-dir", ".strata", "where per-stack state and secret seeds are kept")
	parallelism := fs.Int64("parallelism", engine.DefaultParallelism, "up/down: concurrent calls per substrate (at least 1)")
	ttl := fs.Duration("ttl", 0, "up: the stack expires after this long (status reports it, down -expired removes it)")
	expired := fs.Bool("expired", false, "down: remove every stack whose TTL ran out")
	listen := fs.String("listen", "127.0.0.1:0", "sim: address to serve on")
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
	if cmd == "sim" {
		return cli.Sim(ctx, path, *listen, out)
	}
	optionalPath := cmd == "status" || (cmd == "down" && *expired)
	if path == "" && !optionalPath {
		fmt.Fprintf(stderr, "strata %s: missing PATH\n\n%s", cmd, usage)
		return cli.Usage
	}
	a := cli.Stack{Path: path, Vars: vars, VarFiles: varFiles}
	kinds := catalog.Kinds()
	apply := cli.ApplyArgs{
		StateDir: *stateDir, Parallelism: int(*parallelism), TTL: *ttl, Expired: *expired,
		Connect: connect.Config{VSphere: vsphere.Config{
			Server:   os.Getenv("VSPHERE_SERVER"),
			User:     os.Getenv("VSPHERE_USER"),
			Password: os.Getenv("VSPHERE_PASSWORD"),
			Insecure: os.Getenv("VSPHERE_ALLOW_UNVERIFIED_SSL") == "true" || os.Getenv("VSPHERE_ALLOW_UNVERIFIED_SSL") == "1",
		}, BareMetal: baremetal.Config{
			BootToken:   os.Getenv("STRATA_BOOT_TOKEN"),
			BMCPassword: connect.BMCPasswords(os.Getenv),
		}, OpenStack: openstack.ConfigFromEnv(os.Getenv)},
		Live: isTerminal(stderr),
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
		return cli.Render(ctx, a, cli.RenderArgs{Node: *node, Layer: *layer, StateDir: *stateDir}, kinds, out)
	}
	fmt.Fprintf(stderr, "strata: unknown command %q\n\n%s", cmd, usage)
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

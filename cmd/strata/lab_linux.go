package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/stratastack/strata/internal/cli"
	"github.com/stratastack/strata/provisioners/baremetal/lab"
)

const labUsage = `Usage: strata lab COMMAND [-dir DIR] [flags]

  up [-vms 3] [-memory 256] [-name strata-lab]   a PXE lab: QEMU VMs with IPMI BMCs and a boot server (root)
  down                                          power everything off and remove the lab (also after a crash)
  status [-json]                                the lab's VMs, BMCs and boot server
  exec -- COMMAND...                            run a command inside the lab's network

The lab keeps its state, logs and kernel cache in -dir (default .strata/lab).
`

// labCmd parses `strata lab` flags. Only here are the environment and the
// executable's path read.
func labCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return cli.Usage
	}
	sub := args[0]
	fs := flag.NewFlagSet("strata lab "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", filepath.Join(".strata", "lab"), "the lab's folder")
	vms := fs.Int("vms", lab.DefaultVMs, "up: number of VMs")
	mem := fs.Int("memory", lab.DefaultMemoryMB, "up: MiB of memory per VM")
	name := fs.String("name", lab.DefaultName, "up: the lab's name (its network namespace)")
	subnet := fs.String("subnet", "192.168.77.0/24", "up: the boot network")
	link := fs.String("link", "169.254.77.0/30", "up: the /30 between this host and the lab, over which the boot server's API is reached")
	bmcPort := fs.Int("bmc-port", lab.DefaultBMCPort, "up: UDP port of the first BMC on 127.0.0.1")
	noBoot := fs.Bool("no-boot-server", false, "up: leave the boot server out (bring your own into the lab's network with strata lab exec)")
	asJSON := fs.Bool("json", false, "status: print JSON")
	vm := fs.Int("vm", 0, "chassis: the VM")
	if err := fs.Parse(args[1:]); err != nil {
		return cli.Usage
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "strata lab: %v\n", err)
		return cli.Usage
	}
	out := cli.IO{In: os.Stdin, Out: stdout, Err: stderr}
	switch sub {
	case "up":
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "strata lab: %v\n", err)
			return cli.Invalid
		}
		sn, err := netip.ParsePrefix(*subnet)
		if err != nil {
			fmt.Fprintf(stderr, "strata lab up: -subnet: %v\n", err)
			return cli.Usage
		}
		ln, err := netip.ParsePrefix(*link)
		if err != nil {
			fmt.Fprintf(stderr, "strata lab up: -link: %v\n", err)
			return cli.Usage
		}
		return cli.LabUp(ctx, lab.Config{Name: *name, Dir: abs, VMs: *vms, MemoryMB: *mem, Subnet: sn, Link: ln, BMCPort: *bmcPort, Strata: self, NoBootServer: *noBoot}, out)
	case "down":
		return cli.LabDown(ctx, abs, out)
	case "status":
		return cli.LabStatus(abs, *asJSON, out)
	case "exec":
		return cli.LabExec(ctx, abs, fs.Args(), out)
	case "run":
		return cli.LabRun(ctx, abs, out)
	case "chassis":
		return cli.LabChassis(ctx, abs, *vm, fs.Args(), out)
	}
	fmt.Fprintf(stderr, "strata lab: unknown command %q\n\n%s", sub, labUsage)
	return cli.Usage
}

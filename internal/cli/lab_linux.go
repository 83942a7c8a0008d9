package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"text/tabwriter"

	"github.com/stratastack/strata/provisioners/baremetal/lab"
)

// LabUp brings a lab up and prints how to use it.
func LabUp(ctx context.Context, cfg lab.Config, io IO) int {
	st, err := lab.Up(ctx, cfg, io.Err)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	fmt.Fprintf(io.Out, "lab %s is up: %d VMs, powered off until their BMCs turn them on\n\n", st.Name, len(st.VMs))
	fmt.Fprintf(io.Out, "boot server  %s   (the VMs reach it at %s)\n", st.BootServer, st.PublicURL)
	fmt.Fprintf(io.Out, "credentials  . %s   (STRATA_BOOT_TOKEN, STRATA_BMC_PASSWORD; BMC user %s)\n\n", lab.Env(cfg.Dir), lab.BMCUser)
	labTable(io, st)
	return OK
}

func labTable(io IO, st lab.State) {
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VM\tMAC\tBMC\tPOWER\tBOOT DEVICE\tCONSOLE")
	for _, v := range st.VMs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.MAC, v.BMC, v.Power(), v.BootDevice, v.Console)
	}
	tw.Flush()
}

// LabDown takes a lab down.
func LabDown(ctx context.Context, dir string, io IO) int {
	was, err := lab.Down(ctx, dir)
	switch {
	case err != nil:
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	case !was:
		fmt.Fprintf(io.Out, "no lab is up in %s\n", dir)
	default:
		fmt.Fprintf(io.Out, "lab in %s is down: VMs, BMCs, boot server and network removed\n", dir)
	}
	return OK
}

// LabStatus prints a lab's state, as a table or as JSON.
func LabStatus(dir string, asJSON bool, io IO) int {
	st, ok, err := lab.ReadState(dir)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	if asJSON {
		if !ok {
			fmt.Fprintln(io.Out, "null")
			return OK
		}
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintln(io.Out, string(b))
		return OK
	}
	if !ok {
		fmt.Fprintf(io.Out, "no lab is up in %s\n", dir)
		return OK
	}
	ready := "starting"
	if st.Ready {
		ready = "ready"
	}
	fmt.Fprintf(io.Out, "lab %s: %s, supervisor pid %d, since %s\n", st.Name, ready, st.Supervisor, st.Started.Format("15:04:05"))
	fmt.Fprintf(io.Out, "boot server %s (pid %d, %d restarts, log %s)\n\n", st.BootServer, st.Boot.PID, st.Boot.Restarts, st.Boot.Log)
	labTable(io, st)
	return OK
}

// LabExec runs a command inside the lab's network namespace and returns
// its exit code.
func LabExec(ctx context.Context, dir string, argv []string, io IO) int {
	if len(argv) == 0 {
		fmt.Fprintln(io.Err, "strata lab exec: give a command, e.g. strata lab exec -- ip addr")
		return Usage
	}
	cmd, err := lab.Command(ctx, dir, argv...)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	cmd.Stdout, cmd.Stderr = io.Out, io.Err
	cmd.Stdin = io.In
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	return OK
}

// LabRun is the supervisor (`strata lab run`, started by `lab up`).
func LabRun(ctx context.Context, dir string, io IO) int {
	if err := lab.Run(ctx, dir, slog.New(slog.NewTextHandler(io.Err, nil))); err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	return OK
}

// LabChassis is the program a lab BMC runs (`strata lab chassis`).
func LabChassis(ctx context.Context, dir string, vm int, args []string, io IO) int {
	lines, err := lab.Chassis(ctx, dir, vm, args)
	if len(lines) > 0 {
		fmt.Fprintln(io.Out, strings.Join(lines, "\n"))
	}
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	return OK
}

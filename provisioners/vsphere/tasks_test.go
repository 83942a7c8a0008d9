package vsphere

import (
	"context"
	"errors"
	"testing"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/stratastack/strata/provisioners/vsphere/vcsim"
)

func TestWaitTask(t *testing.T) {
	sim := startSim(t, vcsim.Options{})
	p := open(t, sim, substrate())
	ctx := t.Context()
	in, err := p.Create(ctx, machine("tasks", "w", 0))
	if err != nil {
		t.Fatal(err)
	}
	vm := object.NewVirtualMachine(p.client, vmRef(in.ID))

	// A task that succeeds returns its info.
	task, err := vm.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := p.waitTask(ctx, task.Reference())
	if err != nil || info == nil || info.State != types.TaskInfoStateSuccess {
		t.Fatalf("power off: %+v, %v", info, err)
	}

	// A task that fails returns its fault, which callers match on.
	task, err = vm.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err = p.waitTask(ctx, task.Reference())
	if !fault.Is(err, &types.InvalidPowerState{}) || info == nil || info.State != types.TaskInfoStateError {
		t.Fatalf("powering off a VM that is off: %+v, %v; want InvalidPowerState", info, err)
	}

	// A wait whose context is done stops with the context's error.
	task, err = vm.PowerOn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.waitTask(done, task.Reference()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

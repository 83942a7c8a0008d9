package vsphere

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/stratastack/strata/provisioners"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Create clones the machine's template into its stack's folder, tagged
// and carrying its bootstrap from the start, and powers it on. A VM of
// that name already in the folder (a crashed or repeated run) is adopted
// instead, as long as it belongs to the same stack.
func (p *Provisioner) Create(ctx context.Context, m provisioners.Machine) (provisioners.Instance, error) {
	stack := m.Tags[provisioners.TagStack]
	if m.Name == "" || stack == "" {
		return provisioners.Instance{}, fmt.Errorf("vsphere: machine %q needs a name and a %s tag", m.Name, provisioners.TagStack)
	}
	ec, err := extraConfig(m)
	if err != nil {
		return provisioners.Instance{}, err
	}
	tmplName := cmp.Or(m.Pool.String("template"), p.template)
	if tmplName == "" {
		return provisioners.Instance{}, fmt.Errorf("vsphere: machine %s: neither its pool nor the substrate block sets a template", m.Name)
	}
	tmpl, err := p.lookupTemplate(ctx, tmplName)
	if err != nil {
		return provisioners.Instance{}, err
	}
	ds, err := p.lookupDatastore(ctx, cmp.Or(m.Pool.String("datastore"), p.datastore))
	if err != nil {
		return provisioners.Instance{}, err
	}
	netName := cmp.Or(m.Pool.String("network"), p.network)
	backing, err := p.lookupNetwork(ctx, netName)
	if err != nil {
		return provisioners.Instance{}, err
	}
	folder, err := p.stackFolder(ctx, stack)
	if err != nil {
		return provisioners.Instance{}, err
	}

	pool := p.pool
	spec := types.VirtualMachineCloneSpec{
		Location: types.VirtualMachineRelocateSpec{Pool: &pool, Datastore: ds},
		Config: &types.VirtualMachineConfigSpec{
			NumCPUs:     int32(m.CPUs),
			MemoryMB:    int64(m.MemoryMB),
			ExtraConfig: ec,
		},
		PowerOn: true,
	}
	if backing != nil {
		if tmpl.nic == nil {
			return provisioners.Instance{}, fmt.Errorf("vsphere: template %q has no network adapter to attach to network %q", tmplName, netName)
		}
		nic := shallowCopy(tmpl.nic)
		nic.GetVirtualDevice().Backing = backing
		spec.Location.DeviceChange = append(spec.Location.DeviceChange, &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: nic,
		})
	}
	// Disks only grow: a machine asking for less than the template has
	// keeps the template's size.
	if want := int64(m.DiskGB) << 20; tmpl.disk != nil && want > tmpl.disk.CapacityInKB {
		disk := shallowCopy(tmpl.disk)
		disk.CapacityInKB, disk.CapacityInBytes = want, want<<10
		spec.Config.DeviceChange = append(spec.Config.DeviceChange, &types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: disk,
		})
	}

	task, err := tmpl.vm.Clone(ctx, folder, m.Name, spec)
	var info *types.TaskInfo
	if err == nil {
		info, err = p.waitTask(ctx, task.Reference())
	}
	if err == nil && info == nil {
		// A cancelled wait can come back with neither a result nor an error.
		if err = ctx.Err(); err == nil {
			err = fmt.Errorf("vsphere: clone %q: the task returned no result", m.Name)
		}
	}
	var dup *types.DuplicateName
	if _, ok := fault.As(err, &dup); ok {
		return p.adopt(ctx, dup.Object, stack, m.Name)
	}
	if fault.Is(err, &types.ManagedObjectNotFound{}) {
		// A cached template or stack folder was removed or replaced under
		// the same name: look both up afresh on the retry.
		p.memo.Forget("template\x00"+tmplName, "folder\x00"+stack)
		return provisioners.Instance{}, provisioners.Transient(fmt.Errorf("vsphere: clone %q from template %q: %w", m.Name, tmplName, err))
	}
	if err != nil {
		return provisioners.Instance{}, fail(err, "clone %q from template %q", m.Name, tmplName)
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		return provisioners.Instance{}, fmt.Errorf("vsphere: clone %q returned %T, not a VM reference", m.Name, info.Result)
	}
	p.setCustomAttributes(ctx, ref, m.Tags)
	return provisioners.Instance{ID: ref.Value, Name: m.Name, Tags: maps.Clone(m.Tags), State: provisioners.StatePending}, nil
}

// adopt returns the VM that already holds a machine's name in its stack
// folder, refusing one strata did not make for that stack.
func (p *Provisioner) adopt(ctx context.Context, ref types.ManagedObjectReference, stack, name string) (provisioners.Instance, error) {
	if ref.Type != "VirtualMachine" {
		return provisioners.Instance{}, fmt.Errorf("vsphere: cannot make VM %q: a %s of that name is in folder strata-%s", name, ref.Type, stack)
	}
	in, err := p.Read(ctx, ref.Value)
	switch {
	case err != nil:
		return in, err
	case in.State == provisioners.StateGone: // deleted since the clone failed: cloning again will do
		return in, provisioners.Transient(fmt.Errorf("vsphere: VM %q (%s) vanished while being adopted", name, ref.Value))
	case in.Tags[provisioners.TagStack] != stack:
		return provisioners.Instance{}, fmt.Errorf("vsphere: a VM named %q (%s) is already in folder strata-%s but was not made by strata for stack %q; rename or remove it", name, ref.Value, stack, stack)
	}
	return in, nil
}

// setCustomAttributes mirrors tags into custom attributes of the same
// name where vCenter has them. Best effort: the ExtraConfig tags are what
// List relies on.
func (p *Provisioner) setCustomAttributes(ctx context.Context, ref types.ManagedObjectReference, tags map[string]string) {
	if len(p.fields) == 0 {
		return
	}
	m := object.NewCustomFieldsManager(p.client)
	for tag, v := range tags {
		if key, ok := p.fields[tag]; ok {
			_ = m.Set(ctx, ref, key, v)
		}
	}
}

// Read reports a VM; one that no longer exists is provisioners.StateGone, not an error.
func (p *Provisioner) Read(ctx context.Context, id string) (provisioners.Instance, error) {
	ref := vmRef(id)
	var vm mo.VirtualMachine
	err := property.DefaultCollector(p.client).RetrieveOne(ctx, ref, vmProps(), &vm)
	if fault.Is(err, &types.ManagedObjectNotFound{}) {
		return provisioners.Instance{ID: id, State: provisioners.StateGone}, nil
	}
	if err != nil {
		return provisioners.Instance{}, fail(err, "read VM %s", id)
	}
	return instance(vm), nil
}

// Ready powers the VM on if it is off and waits, up to the configured
// ReadyTimeout, until the guest reports an address.
func (p *Provisioner) Ready(ctx context.Context, id string) (provisioners.Instance, error) {
	in, err := p.Read(ctx, id)
	if err != nil {
		return in, err
	}
	switch in.State {
	case provisioners.StateRunning:
		return in, nil
	case provisioners.StateGone:
		return in, fmt.Errorf("vsphere: VM %s is gone", id)
	case provisioners.StateError:
		return in, fmt.Errorf("vsphere: VM %s (%s) is not usable: vCenter reports it disconnected, orphaned or inaccessible", in.Name, id)
	case provisioners.StateStopped:
		vm := object.NewVirtualMachine(p.client, vmRef(id))
		task, err := vm.PowerOn(ctx)
		if err == nil {
			_, err = p.waitTask(ctx, task.Reference())
		}
		if err != nil && !fault.Is(err, &types.InvalidPowerState{}) { // someone else powered it on
			return in, fail(err, "power on VM %s (%s)", in.Name, id)
		}
	}

	wctx, cancel := context.WithTimeout(ctx, p.readyTimeout)
	defer cancel()
	var on bool
	var guest types.GuestInfo
	err = property.Wait(wctx, property.DefaultCollector(p.client), vmRef(id),
		[]string{"runtime.powerState", "guest.ipAddress", "guest.net"},
		func(changes []types.PropertyChange) bool {
			for _, c := range changes {
				switch c.Name {
				case "runtime.powerState":
					on = c.Val == types.VirtualMachinePowerStatePoweredOn
				case "guest.ipAddress":
					guest.IpAddress, _ = c.Val.(string)
				case "guest.net":
					nets, _ := c.Val.(types.ArrayOfGuestNicInfo)
					guest.Net = nets.GuestNicInfo
				}
			}
			return on && len(addresses(&guest)) > 0
		})
	switch {
	case err == nil:
		return p.Read(ctx, id)
	case ctx.Err() != nil:
		return in, ctx.Err()
	case errors.Is(wctx.Err(), context.DeadlineExceeded):
		return in, fmt.Errorf("vsphere: VM %s (%s) reported no IP address within %s; the template needs VMware Tools (open-vm-tools) and the network DHCP", in.Name, id, p.readyTimeout)
	case fault.Is(err, &types.ManagedObjectNotFound{}):
		return provisioners.Instance{ID: id, State: provisioners.StateGone}, fmt.Errorf("vsphere: VM %s (%s) was removed while starting", in.Name, id)
	}
	return in, fail(err, "wait for VM %s (%s) to start", in.Name, id)
}

// Delete powers the VM off and destroys it. A VM that is already gone is
// not an error; one without strata tags is refused, so a wrong ID cannot
// take someone else's VM.
func (p *Provisioner) Delete(ctx context.Context, id string) error {
	in, err := p.Read(ctx, id)
	if err != nil || in.State == provisioners.StateGone {
		return err
	}
	if _, ok := in.Tags[provisioners.TagStack]; !ok {
		return fmt.Errorf("vsphere: refusing to delete VM %s (%s): it carries no %s tag, so strata did not make it", in.Name, id, provisioners.TagStack)
	}
	// Powering off an already-off VM fails harmlessly; asking is cheaper
	// than reading the power state first.
	vm := object.NewVirtualMachine(p.client, vmRef(id))
	task, err := vm.PowerOff(ctx)
	if err == nil {
		_, err = p.waitTask(ctx, task.Reference())
	}
	if err != nil && !fault.Is(err, &types.InvalidPowerState{}) && !fault.Is(err, &types.ManagedObjectNotFound{}) {
		return fail(err, "power off VM %s (%s)", in.Name, id)
	}
	task, err = vm.Destroy(ctx)
	if err == nil {
		_, err = p.waitTask(ctx, task.Reference())
	}
	if err != nil && !fault.Is(err, &types.ManagedObjectNotFound{}) {
		return fail(err, "destroy VM %s (%s)", in.Name, id)
	}
	return nil
}

// List finds every VM in the datacenter carrying all of tags (every
// strata VM when tags is empty) with one property collector retrieval,
// wherever users may have moved them.
func (p *Provisioner) List(ctx context.Context, tags map[string]string) ([]provisioners.Instance, error) {
	var vms []mo.VirtualMachine
	if err := p.retrieveVMs(ctx, vmProps(), &vms); err != nil {
		return nil, fail(err, "list VMs in datacenter %s", p.dcName)
	}
	var out []provisioners.Instance
	for _, vm := range vms {
		if vm.Config == nil || vm.Config.Template {
			continue // a VM still being made has no config yet; templates are never machines
		}
		in := instance(vm)
		if len(in.Tags) > 0 && matches(in.Tags, tags) {
			out = append(out, in)
		}
	}
	return out, nil
}

func vmRef(id string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VirtualMachine", Value: id}
}

// Tag sets tags in the VM's ExtraConfig (a reconfigure replaces the keys
// it is given and keeps the rest) and in custom attributes where vCenter
// has them.
func (p *Provisioner) Tag(ctx context.Context, id string, tags map[string]string) error {
	ec, err := tagOptions(tags)
	if err != nil {
		return err
	}
	task, err := object.NewVirtualMachine(p.client, vmRef(id)).Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: ec})
	if err == nil {
		_, err = p.waitTask(ctx, task.Reference())
	}
	if err != nil {
		return fail(err, "tag VM %s", id)
	}
	p.setCustomAttributes(ctx, vmRef(id), tags)
	return nil
}

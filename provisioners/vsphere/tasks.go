package vsphere

import (
	"context"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// waitTask waits for a task to finish by reading its info, first at once,
// then at growing intervals up to a second. govmomi's Task.Wait instead
// creates a property collector, a filter and a WaitForUpdatesEx per task
// and destroys them after: five round trips for a task that is often done
// by the first read, and one collector per waiting machine on vCenter,
// which fans every inventory change out to each of them.
func (p *Provisioner) waitTask(ctx context.Context, ref types.ManagedObjectReference) (*types.TaskInfo, error) {
	pc := property.DefaultCollector(p.client)
	delay := 10 * time.Millisecond
	for {
		var t mo.Task
		if err := pc.RetrieveOne(ctx, ref, []string{"info"}, &t); err != nil {
			return nil, err
		}
		switch t.Info.State {
		case types.TaskInfoStateSuccess:
			return &t.Info, nil
		case types.TaskInfoStateError:
			return &t.Info, task.Error{LocalizedMethodFault: t.Info.Error, Description: t.Info.Description}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

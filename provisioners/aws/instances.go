package aws

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stratastack/strata/internal/wait"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stratastack/strata/provisioners"
)

// live are the instance states that are a machine (not being removed).
var live = []string{"pending", "running", "stopping", "stopped"}

// consistency is how long an instance just launched may be missing from
// DescribeInstances (EC2 is eventually consistent).
const consistency = time.Minute

// describe reads one instance; ok is false when EC2 does not have it.
func (p *Provisioner) describe(ctx context.Context, id string) (types.Instance, bool, error) {
	out, err := p.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	switch c := code(err); {
	case c == "InvalidInstanceID.NotFound":
		return types.Instance{}, false, nil
	case c == "InvalidInstanceID.Malformed":
		return types.Instance{}, false, fmt.Errorf("aws: %q is not an EC2 instance id", id)
	case err != nil:
		return types.Instance{}, false, p.fail(ctx, err, "read instance %s", id)
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if sdk.ToString(i.InstanceId) == id {
				p.remember(i)
				return i, true, nil
			}
		}
	}
	return types.Instance{}, false, nil
}

// Read reports an instance; one that is gone or terminating is
// StateGone, not an error.
func (p *Provisioner) Read(ctx context.Context, id string) (provisioners.Instance, error) {
	i, ok, err := p.describe(ctx, id)
	if err != nil {
		return provisioners.Instance{}, err
	}
	if !ok {
		return provisioners.Instance{ID: id, State: provisioners.StateGone}, nil
	}
	return instance(i), nil
}

// Ready waits, up to ReadyTimeout, until the instance is running; a
// stopped one is started. One that ends before running (no capacity, a
// bad volume) fails with EC2's state reason.
func (p *Provisioner) Ready(ctx context.Context, id string) (provisioners.Instance, error) {
	wctx, cancel := context.WithTimeout(ctx, p.readyTimeout)
	defer cancel()
	start, started := time.Now(), false
	var last types.Instance
	err := poll(wctx, p.pollInterval, func() (bool, error) {
		i, ok, err := p.describe(wctx, id)
		if err != nil || !ok {
			if err == nil && time.Since(start) > consistency {
				err = fmt.Errorf("aws: instance %s is not in %s", id, p.region)
			}
			return false, err
		}
		last = i
		switch stateName(i) {
		case types.InstanceStateNameRunning:
			return true, nil
		case types.InstanceStateNameStopped:
			if !started {
				started = true
				if _, err := p.ec2.StartInstances(wctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
					return false, p.fail(wctx, err, "start instance %s", id)
				}
			}
		case types.InstanceStateNameShuttingDown, types.InstanceStateNameTerminated:
			return false, fmt.Errorf("aws: instance %s (%s) ended before it ran: %s", id, nameOf(i), reason(i))
		}
		return false, nil
	})
	switch {
	case err == nil:
		return instance(last), nil
	case ctx.Err() != nil:
		return instance(last), ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil:
		return instance(last), fmt.Errorf("aws: instance %s (%s) is still %s after %s in %s%s", id, nameOf(last), stateName(last), p.readyTimeout, p.region, reasonSuffix(last))
	}
	return instance(last), err
}

// Delete terminates the instance and waits, up to DeleteTimeout, until
// it is terminated. One already gone is not an error; one without a
// strata:stack tag is refused (a wrong id cannot take someone else's).
func (p *Provisioner) Delete(ctx context.Context, id string) error {
	var i types.Instance
	if _, known := p.ours.Load(id); !known {
		var ok bool
		var err error
		i, ok, err = p.describe(ctx, id)
		if err != nil || !ok || stateName(i) == types.InstanceStateNameTerminated {
			return err
		}
		if tag(i, provisioners.TagStack) == "" {
			return fmt.Errorf("aws: refusing to terminate instance %s (%s): it carries no %s tag, so strata did not make it", id, nameOf(i), provisioners.TagStack)
		}
	}
	out, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if code(err) == "InvalidInstanceID.NotFound" {
		return nil
	}
	if err != nil {
		return p.fail(ctx, err, "terminate instance %s (%s)", id, nameOf(i))
	}
	for _, c := range out.TerminatingInstances {
		if c.CurrentState != nil && c.CurrentState.Name == types.InstanceStateNameTerminated {
			p.ours.Delete(id)
			return nil
		}
	}
	wctx, cancel := context.WithTimeout(ctx, p.deleteTimeout)
	defer cancel()
	last := i
	err = poll(wctx, p.pollInterval, func() (bool, error) {
		cur, ok, err := p.describe(wctx, id)
		if ok {
			last = cur
		}
		return err == nil && (!ok || stateName(cur) == types.InstanceStateNameTerminated), err
	})
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil:
		// Terminating again is safe and may help.
		return provisioners.Transient(fmt.Errorf("aws: instance %s (%s) is still %s %s after it was terminated in %s", id, nameOf(last), stateName(last), p.deleteTimeout, p.region))
	case err == nil:
		p.ours.Delete(id)
	}
	return err
}

// List finds every live instance carrying all of tags (every strata
// instance when tags is empty), page by page.
func (p *Provisioner) List(ctx context.Context, tags map[string]string) ([]provisioners.Instance, error) {
	filters := []types.Filter{{Name: sdk.String("instance-state-name"), Values: live}}
	if len(tags) == 0 {
		filters = append(filters, types.Filter{Name: sdk.String("tag-key"), Values: []string{provisioners.TagStack}})
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		filters = append(filters, types.Filter{Name: sdk.String("tag:" + k), Values: []string{tags[k]}})
	}
	var out []provisioners.Instance
	pg := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{Filters: filters, MaxResults: sdk.Int32(1000)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, p.fail(ctx, err, "list instances tagged %v", tags)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				p.remember(i)
				if in := instance(i); in.State != provisioners.StateGone && matches(in.Tags, tags) {
					out = append(out, in)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b provisioners.Instance) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// find is the live instance of a stack's machine, by its tags.
func (p *Provisioner) find(ctx context.Context, stack, name string) (provisioners.Instance, bool, error) {
	got, err := p.List(ctx, map[string]string{provisioners.TagStack: stack, "Name": name})
	if err != nil || len(got) == 0 {
		return provisioners.Instance{}, false, err
	}
	return got[0], true, nil
}

// remember notes an instance strata made, for Delete.
func (p *Provisioner) remember(i types.Instance) {
	if tag(i, provisioners.TagStack) != "" && state(stateName(i)) != provisioners.StateGone {
		p.ours.Store(sdk.ToString(i.InstanceId), struct{}{})
	}
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func instance(i types.Instance) provisioners.Instance {
	tags := map[string]string{}
	for _, t := range i.Tags {
		tags[sdk.ToString(t.Key)] = sdk.ToString(t.Value)
	}
	return provisioners.Instance{ID: sdk.ToString(i.InstanceId), Name: tags["Name"], Tags: tags, Addresses: addresses(i), State: state(stateName(i))}
}

func stateName(i types.Instance) types.InstanceStateName {
	if i.State == nil {
		return types.InstanceStateNamePending
	}
	return i.State.Name
}

// state maps EC2's instance state to a substrate-neutral one.
func state(s types.InstanceStateName) string {
	switch s {
	case types.InstanceStateNameRunning:
		return provisioners.StateRunning
	case types.InstanceStateNameStopping, types.InstanceStateNameStopped:
		return provisioners.StateStopped
	case types.InstanceStateNameShuttingDown, types.InstanceStateNameTerminated:
		return provisioners.StateGone
	}
	return provisioners.StatePending
}

// addresses are the instance's IPs, private first (peers reach it by
// them, and names do not resolve across AWS): the primary private IPv4,
// every interface's private IPv4s in device order, IPv6, then public.
func addresses(i types.Instance) []string {
	var out []string
	add := func(ip *string) {
		if s := sdk.ToString(ip); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	add(i.PrivateIpAddress)
	nics := slices.Clone(i.NetworkInterfaces)
	slices.SortStableFunc(nics, func(a, b types.InstanceNetworkInterface) int {
		return cmp.Compare(deviceIndex(a), deviceIndex(b))
	})
	for _, n := range nics {
		add(n.PrivateIpAddress)
		for _, a := range n.PrivateIpAddresses {
			add(a.PrivateIpAddress)
		}
	}
	for _, n := range nics {
		for _, a := range n.Ipv6Addresses {
			add(a.Ipv6Address)
		}
	}
	add(i.Ipv6Address)
	add(i.PublicIpAddress)
	return out
}

func deviceIndex(n types.InstanceNetworkInterface) int32 {
	if n.Attachment == nil {
		return 0
	}
	return sdk.ToInt32(n.Attachment.DeviceIndex)
}

func tag(i types.Instance, key string) string {
	for _, t := range i.Tags {
		if sdk.ToString(t.Key) == key {
			return sdk.ToString(t.Value)
		}
	}
	return ""
}

func nameOf(i types.Instance) string { return cmp.Or(tag(i, "Name"), "no Name tag") }

// reason is EC2's state reason (Server.InsufficientInstanceCapacity,
// Client.VolumeLimitExceeded, ...) with a hint when one helps.
func reason(i types.Instance) string {
	if i.StateReason == nil {
		return cmp.Or(sdk.ToString(i.StateTransitionReason), "EC2 gives no reason")
	}
	c, msg := sdk.ToString(i.StateReason.Code), sdk.ToString(i.StateReason.Message)
	return hint(strings.TrimPrefix(c, "Server."), msg)
}

func reasonSuffix(i types.Instance) string {
	if i.StateReason == nil {
		return ""
	}
	return ": " + reason(i)
}

// poll calls f until it is done or fails: at once, then after 100 ms,
// doubling up to every max.
func poll(ctx context.Context, max time.Duration, f func() (bool, error)) error {
	delay := 100 * time.Millisecond
	for {
		done, err := f()
		if done || err != nil {
			return err
		}
		if err := wait.Sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, max)
	}
}

// Tag sets tags on an instance: CreateTags replaces the values of keys it
// has.
func (p *Provisioner) Tag(ctx context.Context, id string, tags map[string]string) error {
	in := &ec2.CreateTagsInput{Resources: []string{id}}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: sdk.String(k), Value: sdk.String(tags[k])})
	}
	if _, err := p.ec2.CreateTags(ctx, in); err != nil {
		return p.fail(ctx, err, "tag instance %s", id)
	}
	return nil
}

package openstack

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/schema"
)

// Nova's limits: metadata keys and values (its API schema), items per
// server (the default metadata_items quota), base64 user_data.
const (
	maxMetadataLen   = 255
	maxMetadataItems = 128
	maxUserData      = 65535
)

// server is a Nova server as gophercloud decodes it (with the extended
// status: task state, power state).
type server = servers.Server

// metadata checks tags against Nova's rules for server metadata, so a
// bad tag fails naming itself rather than as Nova's schema error.
func metadata(tags map[string]string) (map[string]string, error) {
	if len(tags) > maxMetadataItems {
		return nil, fmt.Errorf("openstack: %d tags, but Nova keeps at most %d metadata items per server", len(tags), maxMetadataItems)
	}
	key := regexp.MustCompile(`^[a-zA-Z0-9\-_:. ]{1,255}$`)
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		if !key.MatchString(k) {
			return nil, fmt.Errorf("openstack: tag %q cannot be Nova metadata: keys are 1 to %d letters, digits, '-', '_', ':', '.' or spaces", k, maxMetadataLen)
		}
		if n := utf8.RuneCountInString(v); n > maxMetadataLen {
			return nil, fmt.Errorf("openstack: tag %q: its value is %d characters; Nova metadata values hold at most %d", k, n, maxMetadataLen)
		}
	}
	return maps.Clone(tags), nil
}

// userData is the machine's user-data as Nova wants it: base64, at most
// 64 KiB encoded.
func userData(name string, b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	enc := base64.StdEncoding.EncodeToString(b)
	if len(enc) > maxUserData {
		return nil, fmt.Errorf("openstack: user_data of %s is %d bytes (%d in base64); Nova takes at most %d bytes of base64", name, len(b), len(enc), maxUserData)
	}
	// Already base64, so gophercloud passes it through unchanged.
	return []byte(enc), nil
}

// Create makes a server for the machine, tagged (Nova metadata) and
// carrying its user-data from the start. A server of that name already
// tagged for the same stack (a repeated or timed-out Create) is adopted
// instead of duplicated.
func (p *Provisioner) Create(ctx context.Context, m provisioners.Machine) (provisioners.Instance, error) {
	stack := m.Tags[provisioners.TagStack]
	if m.Name == "" || stack == "" {
		return provisioners.Instance{}, fmt.Errorf("openstack: machine %q needs a name and a %s tag", m.Name, provisioners.TagStack)
	}
	group := groupName(m.Group)
	tags := m.Tags
	if group != "" {
		// recorded so that Delete, which has only the server, can release the group
		tags = maps.Clone(m.Tags)
		tags[provisioners.TagGroup] = group
	}
	md, err := metadata(tags)
	if err != nil {
		return provisioners.Instance{}, err
	}
	ud, err := userData(m.Name, m.UserData)
	if err != nil {
		return provisioners.Instance{}, err
	}
	if in, ok, err := p.existing(ctx, m.Name, stack); err != nil || ok {
		return in, err
	}

	imgRef, imgAttr := settingOf(m.Pool, "image", p.sub.image)
	if imgRef == "" {
		return provisioners.Instance{}, fmt.Errorf("openstack: machine %s has no image: set image in its pool or in the substrate block", m.Name)
	}
	img, err := p.lookupImage(ctx, imgRef)
	if err != nil {
		return provisioners.Instance{}, fmt.Errorf("%w (%s, machine %s)", err, imgAttr, m.Name)
	}
	all, err := p.flavorList(ctx)
	if err != nil {
		return provisioners.Instance{}, err
	}
	// The image's own minimums count too: Nova refuses a smaller flavor.
	fl, err := pickFlavor(all, m.Pool.String("flavor"), need{CPUs: m.CPUs, MemoryMB: max(m.MemoryMB, img.MinRAM), DiskGB: max(m.DiskGB, img.MinDisk)})
	if err != nil {
		return provisioners.Instance{}, fmt.Errorf("%w (machine %s)", err, m.Name)
	}
	netRef, netAttr := settingOf(m.Pool, "network", p.sub.network)
	net, err := p.lookupNetwork(ctx, cmp.Or(netRef, networkAuto))
	if err != nil {
		return provisioners.Instance{}, fmt.Errorf("%w (%s, machine %s)", err, netAttr, m.Name)
	}
	var hints servers.SchedulerHintOptsBuilder
	if group != "" {
		id, err := p.serverGroup(ctx, group, policyOf(m.Pool))
		if err != nil {
			return provisioners.Instance{}, err
		}
		hints = servers.SchedulerHintOpts{Group: id}
	}

	opts := servers.CreateOpts{
		Name: m.Name, ImageRef: img.ID, FlavorRef: fl.ID,
		SecurityGroups: p.sub.securityGroups, AvailabilityZone: p.sub.zone,
		Metadata: md, UserData: ud,
	}
	switch net {
	case networkNone, networkAuto:
		opts.Networks = net
	default:
		opts.Networks = []servers.Network{{UUID: net}}
	}
	var build servers.CreateOptsBuilder = opts
	if p.sub.keyName != "" {
		build = keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: p.sub.keyName}
	}
	s, err := servers.Create(ctx, p.compute, build, hints).Extract()
	if err != nil {
		if group != "" && mentionsGroup(err) {
			// The group went away under us (another run removed it): make
			// it again on the retry.
			p.forgetGroup(group)
			return provisioners.Instance{}, provisioners.Transient(fail(err, "create server %q in %s", m.Name, p.where))
		}
		return provisioners.Instance{}, fail(err, "create server %q (flavor %s, image %s) in %s", m.Name, fl.Name, img.Name, p.where)
	}
	return provisioners.Instance{ID: s.ID, Name: m.Name, Tags: md, State: provisioners.StatePending}, nil
}

// settingOf is a pool setting or else the substrate's, and which it was,
// for messages.
func settingOf(pool schema.Values, name, substrate string) (string, string) {
	if v := pool.String(name); v != "" {
		return v, "the pool's " + name
	}
	return substrate, "the substrate's " + name
}

func mentionsGroup(err error) bool {
	code, body, _ := response(err)
	msg := strings.ToLower(apiMessage(body))
	return (code == http.StatusBadRequest || code == http.StatusNotFound) && strings.Contains(msg, "group")
}

// existing finds a live server of the name tagged for the stack. Nova
// filters names by regular expression, so the name is quoted and
// matched exactly afterwards.
func (p *Provisioner) existing(ctx context.Context, name, stack string) (provisioners.Instance, bool, error) {
	var found []server
	err := servers.List(p.compute, servers.ListOpts{Name: "^" + regexp.QuoteMeta(name) + "$"}).EachPage(ctx, func(_ context.Context, page pagination.Page) (bool, error) {
		var ss []server
		err := servers.ExtractServersInto(page, &ss)
		found = append(found, ss...)
		return true, err
	})
	if err != nil {
		return provisioners.Instance{}, false, fail(err, "look for an existing server %q in %s", name, p.where)
	}
	for _, s := range found {
		if s.Name == name && s.Metadata[provisioners.TagStack] == stack {
			if st := state(s.Status); st != provisioners.StateGone && st != provisioners.StateError {
				return instance(s), true, nil
			}
		}
	}
	return provisioners.Instance{}, false, nil
}

// get reads one server; ok is false when Nova no longer has it.
func (p *Provisioner) get(ctx context.Context, id string) (server, bool, error) {
	var s server
	err := servers.Get(ctx, p.compute, id).ExtractInto(&s)
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fail(err, "read server %s in %s", id, p.where)
	}
	return s, state(s.Status) != provisioners.StateGone, nil
}

// Read reports a server; one that no longer exists is provisioners.StateGone, not an
// error.
func (p *Provisioner) Read(ctx context.Context, id string) (provisioners.Instance, error) {
	s, ok, err := p.get(ctx, id)
	if err != nil {
		return provisioners.Instance{}, err
	}
	if !ok {
		return provisioners.Instance{ID: id, State: provisioners.StateGone}, nil
	}
	return instance(s), nil
}

// Ready waits, up to the configured ReadyTimeout, until the server is
// ACTIVE; a stopped one (SHUTOFF, SUSPENDED, PAUSED, SHELVED) is started.
// ACTIVE is ready whether or not it has an address: a server on network
// "none" never gets one.
func (p *Provisioner) Ready(ctx context.Context, id string) (provisioners.Instance, error) {
	wctx, cancel := context.WithTimeout(ctx, p.readyTimeout)
	defer cancel()
	var s server
	woken := false
	err := poll(wctx, func() (bool, error) {
		var ok bool
		var err error
		if s, ok, err = p.get(wctx, id); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("openstack: server %s is gone from %s", id, p.where)
			}
			return false, err
		}
		switch s.Status {
		case "ACTIVE":
			return true, nil
		case "ERROR":
			if q, ok := quotaMessage(s.Fault.Message); ok {
				return false, p.refused(ctx, s, q)
			}
			return false, fmt.Errorf("openstack: server %q (%s) failed in %s: %s", s.Name, id, p.where, fault(s))
		}
		if !woken && s.TaskState == "" {
			if wake := wakeAction(s.Status); wake != nil {
				woken = true
				if err := wake(wctx, p.compute, id); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
					return false, fail(err, "start server %q (%s, %s)", s.Name, id, s.Status)
				}
			}
		}
		return false, nil
	})
	switch {
	case err == nil:
		return instance(s), nil
	case ctx.Err() != nil:
		return instance(s), ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil:
		return instance(s), fmt.Errorf("openstack: server %q (%s) is still %s%s after %s in %s", s.Name, id, s.Status, task(s), p.readyTimeout, p.where)
	}
	return instance(s), err
}

// refused handles a server Nova accepted and then failed on its quota
// recheck (creates racing for the last room): it can never start, so it
// is deleted, letting a run after the quota is raised make it afresh.
func (p *Provisioner) refused(ctx context.Context, s server, quota string) error {
	msg := fmt.Sprintf("openstack: server %q (%s) in %s: %s", s.Name, s.ID, p.where, quota)
	if err := p.Delete(ctx, s.ID); err != nil {
		return fmt.Errorf("%s; deleting the refused server failed too: %w", msg, err)
	}
	return errors.New(msg + "; the refused server was deleted")
}

// wakeAction is the call that brings a stopped server back.
func wakeAction(status string) func(context.Context, *gophercloud.ServiceClient, string) error {
	switch status {
	case "SHUTOFF":
		return func(ctx context.Context, c *gophercloud.ServiceClient, id string) error {
			return servers.Start(ctx, c, id).ExtractErr()
		}
	case "SUSPENDED":
		return func(ctx context.Context, c *gophercloud.ServiceClient, id string) error {
			return servers.Resume(ctx, c, id).ExtractErr()
		}
	case "PAUSED":
		return func(ctx context.Context, c *gophercloud.ServiceClient, id string) error {
			return servers.Unpause(ctx, c, id).ExtractErr()
		}
	case "SHELVED", "SHELVED_OFFLOADED":
		return func(ctx context.Context, c *gophercloud.ServiceClient, id string) error {
			return servers.Unshelve(ctx, c, id, servers.UnshelveOpts{}).ExtractErr()
		}
	}
	return nil
}

// fault is why a server is in ERROR, in Nova's words.
func fault(s server) string {
	if s.Fault.Message == "" {
		return "Nova reports status ERROR and gives no reason (an admin can see it in the nova-conductor and nova-compute logs)"
	}
	msg := s.Fault.Message
	if s.Fault.Code != 0 {
		msg = fmt.Sprintf("%s (fault code %d)", msg, s.Fault.Code)
	}
	return msg
}

func task(s server) string {
	if s.TaskState == "" {
		return ""
	}
	return " (task " + s.TaskState + ")"
}

// poll calls f until it is done or fails: after 250 ms, then 500 ms,
// then every second for the first minute (servers on a quick cloud are
// ACTIVE in seconds), then every 5 s (slow ones are not polled hard for
// minutes).
func poll(ctx context.Context, f func() (bool, error)) error {
	start, delay := time.Now(), 250*time.Millisecond
	for {
		done, err := f()
		if done || err != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, time.Second)
		if time.Since(start) > time.Minute {
			delay = 5 * time.Second
		}
	}
}

// Delete deletes the server and waits, up to DeleteTimeout, until Nova no
// longer has it; a server already gone is not an error, one without a
// strata:stack tag is refused (so a wrong id cannot take someone else's
// server). When the last member of a role's server group is gone, the
// group goes too.
func (p *Provisioner) Delete(ctx context.Context, id string) error {
	s, ok, err := p.get(ctx, id)
	if err != nil || !ok {
		return err
	}
	if s.Metadata[provisioners.TagStack] == "" {
		return fmt.Errorf("openstack: refusing to delete server %q (%s): it carries no %s metadata, so strata did not make it", s.Name, id, provisioners.TagStack)
	}
	if err := servers.Delete(ctx, p.compute, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return fail(err, "delete server %q (%s) in %s", s.Name, id, p.where)
	}
	wctx, cancel := context.WithTimeout(ctx, p.deleteTimeout)
	defer cancel()
	last := s
	err = poll(wctx, func() (bool, error) {
		cur, ok, err := p.get(wctx, id)
		if ok {
			last = cur
		}
		return !ok, err
	})
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil:
		msg := fmt.Sprintf("openstack: server %q (%s) is still %s%s %s after it was deleted in %s", s.Name, id, last.Status, task(last), p.deleteTimeout, p.where)
		if last.Status == "ERROR" {
			msg += ": " + fault(last)
		}
		return provisioners.Transient(errors.New(msg)) // deleting again is safe and may help
	case err != nil:
		return err
	}
	if group := s.Metadata[provisioners.TagGroup]; group != "" {
		return p.releaseGroup(ctx, group, id)
	}
	return nil
}

// List finds every server in the project carrying all of tags (every
// strata server when tags is empty). Nova cannot filter by metadata, so
// this is one paginated listing of the project's servers, filtered here.
func (p *Provisioner) List(ctx context.Context, tags map[string]string) ([]provisioners.Instance, error) {
	var out []provisioners.Instance
	err := servers.List(p.compute, servers.ListOpts{}).EachPage(ctx, func(_ context.Context, page pagination.Page) (bool, error) {
		var ss []server
		if err := servers.ExtractServersInto(page, &ss); err != nil {
			return false, err
		}
		for _, s := range ss {
			if s.Metadata[provisioners.TagStack] == "" || state(s.Status) == provisioners.StateGone || !matches(s.Metadata, tags) {
				continue
			}
			out = append(out, instance(s))
		}
		return true, nil
	})
	if err != nil {
		return nil, fail(err, "list servers in %s", p.where)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].ID < out[j].ID
	})
	return out, nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func instance(s server) provisioners.Instance {
	return provisioners.Instance{ID: s.ID, Name: s.Name, Tags: maps.Clone(s.Metadata), Addresses: addresses(s), State: state(s.Status)}
}

// state maps Nova's status to a substrate-neutral state. Transitions of
// a running server (rebooting, resizing, migrating) count as running;
// UNKNOWN (its cell is down) as pending, since it usually comes back.
func state(status string) string {
	switch status {
	case "ACTIVE", "REBOOT", "HARD_REBOOT", "RESIZE", "VERIFY_RESIZE", "REVERT_RESIZE", "MIGRATING", "PASSWORD", "RESCUE":
		return provisioners.StateRunning
	case "SHUTOFF", "STOPPED", "SUSPENDED", "PAUSED", "SHELVED", "SHELVED_OFFLOADED":
		return provisioners.StateStopped
	case "ERROR":
		return provisioners.StateError
	case "DELETED", "SOFT_DELETED":
		return provisioners.StateGone
	}
	return provisioners.StatePending // BUILD, REBUILD, UNKNOWN
}

// addresses are the server's IPs, the ones peers reach it by first:
// access IPs (set by an operator for that purpose), then fixed IPv4,
// fixed IPv6, then floating IPs; networks in name order. A server on
// network "none" has none.
func addresses(s servers.Server) []string {
	type addr struct {
		ip   string
		rank int
	}
	var all []addr
	for _, ip := range []string{s.AccessIPv4, s.AccessIPv6} {
		if ip != "" {
			all = append(all, addr{ip, 0})
		}
	}
	for _, net := range slices.Sorted(maps.Keys(s.Addresses)) {
		list, _ := s.Addresses[net].([]any)
		for _, a := range list {
			m, _ := a.(map[string]any)
			ip, _ := m["addr"].(string)
			if ip == "" {
				continue
			}
			rank := 1
			if fmt.Sprint(m["version"]) == "6" { // a float64 or a json.Number
				rank = 2
			}
			if t, _ := m["OS-EXT-IPS:type"].(string); t == "floating" {
				rank = 3
			}
			all = append(all, addr{ip, rank})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].rank < all[j].rank })
	var out []string
	for _, a := range all {
		if !slices.Contains(out, a.ip) {
			out = append(out, a.ip)
		}
	}
	return out
}

// Tag sets tags as server metadata: Nova's metadata update merges, keeping
// the keys it is not given.
func (p *Provisioner) Tag(ctx context.Context, id string, tags map[string]string) error {
	md, err := metadata(tags)
	if err != nil {
		return err
	}
	if _, err := servers.UpdateMetadata(ctx, p.compute, id, servers.MetadataOpts(md)).Extract(); err != nil {
		return fail(err, "tag server %s in %s", id, p.where)
	}
	return nil
}

package openstack

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/stratastack/strata/stacks/schema"
)

const defaultGroupPolicy = "soft-anti-affinity"

// groupName is the server group of a machine that should be spread
// (provisioners.Machine.Group: the members of a quorum or control-plane
// role), strata-<group>, or "" for none. Only those roles are grouped:
// workers are many and replaceable, and Nova's default
// server_group_members quota (10) would cap their pools.
func groupName(group string) string {
	if group == "" {
		return ""
	}
	return "strata-" + group
}

// policyOf is a pool's server_group_policy.
func policyOf(pool schema.Values) string {
	return cmp.Or(pool.String("server_group_policy"), defaultGroupPolicy)
}

type groupInfo struct{ id, policy string }

func policyOfGroup(g servergroups.ServerGroup) string {
	if g.Policy != nil && *g.Policy != "" {
		return *g.Policy
	}
	if len(g.Policies) > 0 {
		return g.Policies[0]
	}
	return ""
}

// findGroups lists the project's server groups of a name (Nova allows
// several; two runs racing can make two).
func (p *Provisioner) findGroups(ctx context.Context, name string) ([]servergroups.ServerGroup, error) {
	all, err := servergroups.List(p.compute, servergroups.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, fail(err, "list server groups in %s", p.where)
	}
	gs, err := servergroups.ExtractServerGroups(all)
	if err != nil {
		return nil, fail(err, "list server groups in %s", p.where)
	}
	var out []servergroups.ServerGroup
	for _, g := range gs {
		if g.Name == name {
			out = append(out, g)
		}
	}
	return out, nil
}

// serverGroup returns the id of the named group with policy, found or
// made. Of several with the name, the fullest (then the lowest id) is
// used, so every run and every member agrees. A group of that name with
// another policy and members is an error (servers cannot change group);
// an empty one is replaced.
func (p *Provisioner) serverGroup(ctx context.Context, name, policy string) (string, error) {
	p.groupMu.Lock()
	defer p.groupMu.Unlock()
	if g, ok := p.groups[name]; ok && g.policy == policy {
		return g.id, nil
	}
	found, err := p.findGroups(ctx, name)
	if err != nil {
		return "", err
	}
	var same []servergroups.ServerGroup
	for _, g := range found {
		if policyOfGroup(g) == policy {
			same = append(same, g)
			continue
		}
		if len(g.Members) > 0 {
			return "", fmt.Errorf("openstack: server group %q (%s) in %s has policy %s and %d members, but the pool's server_group_policy is %s; servers cannot move between groups: set server_group_policy = %q, or remove the role's servers first",
				name, g.ID, p.where, policyOfGroup(g), len(g.Members), policy, policyOfGroup(g))
		}
		if err := p.deleteGroup(ctx, g); err != nil {
			return "", err
		}
	}
	if len(same) > 0 {
		g := slices.MinFunc(same, func(a, b servergroups.ServerGroup) int {
			return cmp.Or(cmp.Compare(len(b.Members), len(a.Members)), strings.Compare(a.ID, b.ID))
		})
		p.groups[name] = groupInfo{g.ID, policy}
		return g.ID, nil
	}
	opts := servergroups.CreateOpts{Name: name, Policy: policy}
	if !p.policyField {
		opts = servergroups.CreateOpts{Name: name, Policies: []string{policy}}
	}
	g, err := servergroups.Create(ctx, p.compute, opts).Extract()
	if err != nil {
		return "", fail(err, "create server group %q (%s) in %s", name, policy, p.where)
	}
	p.groups[name] = groupInfo{g.ID, policy}
	return g.ID, nil
}

func (p *Provisioner) forgetGroup(name string) {
	p.groupMu.Lock()
	defer p.groupMu.Unlock()
	delete(p.groups, name)
}

// releaseGroup removes the named groups that have no member left but the
// server just deleted, so destroying a stack leaves no group behind. Nova
// drops a deleted server from its group a moment after the server is
// gone, so members are checked for being alive: of several servers
// deleted at once, the last one gone removes the group.
func (p *Provisioner) releaseGroup(ctx context.Context, name, deleted string) error {
	p.groupMu.Lock()
	defer p.groupMu.Unlock()
	found, err := p.findGroups(ctx, name)
	if err != nil {
		return err
	}
	for _, g := range found {
		alive := false
		for _, m := range g.Members {
			if m == deleted {
				continue
			}
			_, ok, err := p.get(ctx, m)
			if err != nil {
				return err
			}
			if alive = ok; alive {
				break
			}
		}
		if alive {
			continue
		}
		if err := p.deleteGroup(ctx, g); err != nil {
			return err
		}
		delete(p.groups, name)
	}
	return nil
}

func (p *Provisioner) deleteGroup(ctx context.Context, g servergroups.ServerGroup) error {
	err := servergroups.Delete(ctx, p.compute, g.ID).ExtractErr()
	if err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return fail(err, "delete server group %q (%s) in %s", g.Name, g.ID, p.where)
	}
	return nil
}

package openstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/hypervisors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/openstack/cloudtest"
	"github.com/stratastack/strata/provisioners/provtest"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/zclconf/go-cty/cty"
)

// These tests run against the local test cloud of acceptance/openstack
// (Keystone, Glance, Placement, Nova with the fake driver, Neutron).

func liveConfig(t testing.TB, cloud string) Config {
	return Config{Cloud: cloud, CloudsFile: cloudtest.CloudsFile(t), ReadyTimeout: time.Minute, DeleteTimeout: time.Minute}
}

func openLive(t testing.TB, cfg Config, sub schema.Values) *Provisioner {
	t.Helper()
	p, err := Open(t.Context(), cfg, sub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// values builds decoded settings the way a stack file would give them.
func values(kv ...string) schema.Values {
	v := schema.Values{Attrs: map[string]cty.Value{}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Attrs[kv[i]] = cty.StringVal(kv[i+1])
	}
	return v
}

// testSubstrate is a substrate block for the test cloud.
func testSubstrate(kv ...string) schema.Values {
	return values(append([]string{"image", "cirros-tiny", "network", "none"}, kv...)...)
}

// newStack is a stack name no other test (or test run) uses, with every
// server and server group tagged for it removed when the test ends, even
// if it fails.
func newStack(t testing.TB, p *Provisioner) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	stack := "t" + hex.EncodeToString(b)
	t.Cleanup(func() { sweep(t, p, stack) })
	return stack
}

func sweep(t testing.TB, p *Provisioner, stack string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	left, err := p.List(ctx, map[string]string{provisioners.TagStack: stack})
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	if err := parallel(len(left), func(i int) error { return p.Delete(ctx, left[i].ID) }); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, g := range groupsOf(t, ctx, p, stack) {
		_ = p.deleteGroup(ctx, g)
	}
}

// groupsOf lists the server groups strata made for stack.
func groupsOf(t testing.TB, ctx context.Context, p *Provisioner, stack string) []servergroups.ServerGroup {
	t.Helper()
	all, err := servergroups.List(p.compute, servergroups.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := servergroups.ExtractServerGroups(all)
	if err != nil {
		t.Fatal(err)
	}
	var out []servergroups.ServerGroup
	for _, g := range gs {
		if strings.HasPrefix(g.Name, "strata-"+stack+"-") {
			out = append(out, g)
		}
	}
	return out
}

// machine is one machine of a role; masters and control planes spread, as
// the plan says of them (provisioners.Machine.Group).
func machine(stack, layer, role string, i int, pool schema.Values) provisioners.Machine {
	name := fmt.Sprintf("%s-%s-%d", stack, role, i)
	group := ""
	if role == "master" || role == "control-plane" {
		group = stack + "-" + layer + "-" + role
	}
	return provisioners.Machine{
		Group: group,
		Name:  name,
		Tags: map[string]string{
			provisioners.TagStack: stack, "strata:pool": role + "s", "strata:index": strconv.Itoa(i),
			provisioners.TagLayer: layer, provisioners.TagRole: role,
		},
		CPUs: 1, MemoryMB: 512, DiskGB: 1,
		Pool:     pool,
		UserData: fmt.Appendf(nil, "#cloud-config\nhostname: %s\n", name),
	}
}

// parallel runs f(0..n-1) at once and joins their errors.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func ids(ins []provisioners.Instance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.ID)
	}
	slices.Sort(out)
	return out
}

// adminView is what the admin sees of a server: user_data is hidden from
// its owner by Nova's default policy.
type adminView struct {
	Name         string            `json:"name"`
	UserData     string            `json:"OS-EXT-SRV-ATTR:user_data"`
	Metadata     map[string]string `json:"metadata"`
	ServerGroups []string          `json:"server_groups"`
	Host         string            `json:"OS-EXT-SRV-ATTR:host"`
}

func TestLiveLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := openLive(t, liveConfig(t, "strata"), testSubstrate())
	admin := openLive(t, liveConfig(t, "strata-admin"), values())
	stack := newStack(t, p)
	if p.Microversion() != maxMicroversion {
		t.Errorf("microversion %s, want %s (Zed offers 2.93)", p.Microversion(), maxMicroversion)
	}

	// Three masters (grouped) and two agents (not).
	var ms []provisioners.Machine
	for i := range 3 {
		ms = append(ms, machine(stack, "mesos.core", "master", i, values()))
	}
	for i := range 2 {
		ms = append(ms, machine(stack, "mesos.core", "agent", i, values()))
	}
	made := make([]provisioners.Instance, len(ms))
	start := time.Now()
	if err := parallel(len(ms), func(i int) (err error) {
		if made[i], err = p.Create(ctx, ms[i]); err != nil {
			return err
		}
		made[i], err = p.Ready(ctx, made[i].ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d servers ACTIVE in %s", len(ms), time.Since(start).Round(time.Millisecond))

	groups := groupsOf(t, ctx, p, stack)
	if len(groups) != 1 || groups[0].Name != "strata-"+stack+"-mesos.core-master" {
		t.Fatalf("server groups %+v, want one for the masters", groups)
	}
	g := groups[0]
	if policyOfGroup(g) != "soft-anti-affinity" || len(g.Members) != 3 {
		t.Errorf("group %s: policy %q, members %v", g.Name, policyOfGroup(g), g.Members)
	}
	for i, in := range made {
		m := ms[i]
		if in.State != provisioners.StateRunning || in.Name != m.Name || len(in.Addresses) != 0 || in.Tags[provisioners.TagRole] != m.Tags[provisioners.TagRole] {
			t.Errorf("%s: %+v", m.Name, in)
		}
		var v adminView
		if err := servers.Get(ctx, admin.compute, in.ID).ExtractInto(&v); err != nil {
			t.Fatal(err)
		}
		ud, err := base64.StdEncoding.DecodeString(v.UserData)
		if err != nil || string(ud) != string(m.UserData) {
			t.Errorf("%s: user_data %q (%v), want %q", m.Name, ud, err, m.UserData)
		}
		for k, want := range m.Tags {
			if v.Metadata[k] != want {
				t.Errorf("%s: metadata %s = %q, want %q", m.Name, k, v.Metadata[k], want)
			}
		}
		wantGroups := []string{}
		if m.Tags[provisioners.TagRole] == "master" {
			wantGroups = []string{g.ID}
		}
		if !slices.Equal(v.ServerGroups, wantGroups) {
			t.Errorf("%s: server groups %v, want %v", m.Name, v.ServerGroups, wantGroups)
		}
	}

	// A repeated Create (a retry after a timeout) adopts, not duplicates.
	again, err := p.Create(ctx, ms[0])
	if err != nil || again.ID != made[0].ID {
		t.Errorf("repeated Create = %+v, %v; want %s", again, err, made[0].ID)
	}

	for _, tc := range []struct {
		tags map[string]string
		want []provisioners.Instance
	}{
		{map[string]string{provisioners.TagStack: stack}, made},
		{map[string]string{provisioners.TagStack: stack, provisioners.TagRole: "master"}, made[:3]},
		{map[string]string{provisioners.TagStack: stack, "strata:index": "1"}, []provisioners.Instance{made[1], made[4]}},
		{map[string]string{provisioners.TagStack: stack + "-other"}, nil},
	} {
		got, err := p.List(ctx, tc.tags)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), ids(tc.want)) {
			t.Errorf("List(%v) = %v, want %v", tc.tags, ids(got), ids(tc.want))
		}
	}

	// A TTL extended re-tags: the new expiry replaces the old, the rest stays.
	if err := provtest.Retag(ctx, p, made[0].ID, stack); err != nil {
		t.Error(err)
	}

	start = time.Now()
	if err := parallel(len(made), func(i int) error { return p.Delete(ctx, made[i].ID) }); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d servers deleted in %s", len(made), time.Since(start).Round(time.Millisecond))
	for _, in := range made {
		if got, err := p.Read(ctx, in.ID); err != nil || got.State != provisioners.StateGone {
			t.Errorf("after Delete, Read(%s) = %+v, %v", in.ID, got, err)
		}
		if err := p.Delete(ctx, in.ID); err != nil {
			t.Errorf("Delete of a gone server: %v", err)
		}
	}
	if left := groupsOf(t, ctx, p, stack); len(left) != 0 {
		t.Errorf("server groups left: %+v", left)
	}
	if left, err := p.List(ctx, map[string]string{provisioners.TagStack: stack}); err != nil || len(left) != 0 {
		t.Errorf("servers left: %+v, %v", left, err)
	}
}

func TestLiveMissingImageAndFlavor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := openLive(t, liveConfig(t, "strata"), testSubstrate())
	stack := newStack(t, p)
	for _, tc := range []struct {
		name string
		pool schema.Values
		cpus int
		want []string
	}{
		{"image", values("image", "no-such-image"), 1, []string{`image "no-such-image" not found in project "strata"`, "cirros-tiny", "debian-12"}},
		{"flavor", values("flavor", "m9.huge"), 1, []string{`flavor "m9.huge" (the pool's flavor) not found`, "m1.tiny (1 vCPU, 512 MiB, 1 GiB)", "m1.xlarge"}},
		{"fit", values(), 64, []string{"no flavor has at least 64 vCPUs", "m1.xlarge (8 vCPU, 16384 MiB, 160 GiB)", "set the pool's flavor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := machine(stack, "mesos.core", "master", 0, tc.pool) // a master: no server group may leak either
			m.CPUs = tc.cpus
			_, err := p.Create(ctx, m)
			if err == nil {
				t.Fatal("Create succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if provisioners.IsTransient(err) {
				t.Errorf("error is transient: %v", err)
			}
		})
	}
	if left, err := p.List(ctx, map[string]string{provisioners.TagStack: stack}); err != nil || len(left) != 0 {
		t.Errorf("servers made: %+v, %v", left, err)
	}
	if left := groupsOf(t, ctx, p, stack); len(left) != 0 {
		t.Errorf("server groups made: %+v", left)
	}

	// A wrong name in the substrate block fails at Open.
	_, err := Open(ctx, liveConfig(t, "strata"), testSubstrate("image", "no-such-image"))
	if err == nil || !strings.Contains(err.Error(), `image "no-such-image" not found`) {
		t.Errorf("Open with a missing image: %v", err)
	}
	_, err = Open(ctx, liveConfig(t, "strata"), testSubstrate("network", "no-such-net"))
	if err == nil || !strings.Contains(err.Error(), `network "no-such-net" not found`) || !strings.Contains(err.Error(), "none") {
		t.Errorf("Open with a missing network: %v", err)
	}
}

// The strata-quota project holds 2 instances. Creates racing for the
// last room pass Nova's first check and fail its recheck (the server goes
// ERROR; Ready deletes it), and the recheck may fail more than the excess.
// Once 2 are up, the next is refused at once. Either way the error names
// the quota and only the servers that came up remain.
func TestLiveQuota(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := openLive(t, liveConfig(t, "strata-quota"), testSubstrate())
	// Anything else in the project would make this test about someone
	// else's servers: sweep what earlier runs left, fail on the rest.
	sweepProject(t, p)
	stack := newStack(t, p)
	quotaErr := func(err error) {
		t.Helper()
		t.Log(err)
		for _, w := range []string{"quota exceeded for instances", "of 2 used", "raise the project's quota"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if provisioners.IsTransient(err) {
			t.Errorf("a quota error is transient: %v", err)
		}
	}
	upNow := func(want []provisioners.Instance) {
		t.Helper()
		got, err := p.List(ctx, map[string]string{provisioners.TagStack: stack})
		if err != nil || !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("List = %v, %v; want the servers that came up %v", ids(got), err, ids(want))
		}
	}
	bringUp := func(i int) (provisioners.Instance, error) {
		in, err := p.Create(ctx, machine(stack, "mesos.core", "agent", i, values()))
		if err == nil {
			in, err = p.Ready(ctx, in.ID)
		}
		return in, err
	}

	made := make([]provisioners.Instance, 3)
	errs := make([]error, 3)
	_ = parallel(3, func(i int) error {
		made[i], errs[i] = bringUp(i)
		return nil
	})
	var up []provisioners.Instance
	for i, err := range errs {
		if err != nil {
			quotaErr(err)
		} else {
			up = append(up, made[i])
		}
	}
	if len(up) > 2 {
		t.Fatalf("%d servers came up on a quota of 2", len(up))
	}
	upNow(up)

	// Top up to the quota one at a time; the next is refused at once.
	next := 3
	for ; len(up) < 2; next++ {
		in, err := bringUp(next)
		if err != nil {
			t.Fatal(err)
		}
		up = append(up, in)
	}
	_, err := p.Create(ctx, machine(stack, "mesos.core", "agent", next, values()))
	if err == nil {
		t.Fatal("a server beyond the quota was made")
	}
	quotaErr(err)
	if !strings.Contains(err.Error(), "2 of 2 used, 1 more requested") {
		t.Errorf("error %q does not say 2 of 2 used", err)
	}
	upNow(up)
}

// projectServers lists every server in the provisioner's project.
func projectServers(t testing.TB, p *Provisioner) []servers.Server {
	t.Helper()
	all, err := servers.List(p.compute, servers.ListOpts{}).AllPages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := servers.ExtractServers(all)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// testStack matches the stack names newStack makes.
var testStack = regexp.MustCompile(`^t[0-9a-f]{8}$`)

// sweepProject removes, the way terraform-provider-aws's sweepers do, what
// earlier runs of these tests left in p's project when they were killed
// before their cleanup: servers and groups of test stacks. Any other
// server fails the test, named, so it is never mistaken for this run's.
func sweepProject(t testing.TB, p *Provisioner) {
	t.Helper()
	stale := map[string]bool{}
	for _, s := range projectServers(t, p) {
		if st := s.Metadata[provisioners.TagStack]; testStack.MatchString(st) {
			stale[st] = true
		}
	}
	for st := range stale {
		t.Logf("sweeping servers an earlier run left for stack %s", st)
		sweep(t, p, st)
	}
	var left []string
	for _, s := range projectServers(t, p) {
		left = append(left, fmt.Sprintf("%s (%s, %s, stack %q)", s.Name, s.ID, s.Status, s.Metadata[provisioners.TagStack]))
	}
	if len(left) > 0 {
		t.Fatalf("the project holds servers no test run of this package made, so its quota is not the test's: %s", strings.Join(left, "; "))
	}
}

// A hard anti-affinity group with more members than hosts: Nova accepts
// the last server, then puts it in ERROR; Ready says why.
func TestLiveHardAntiAffinityFault(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := openLive(t, liveConfig(t, "strata"), testSubstrate())
	admin := openLive(t, liveConfig(t, "strata-admin"), values())
	all, err := hypervisors.List(admin.compute, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hvs, err := hypervisors.ExtractHypervisors(all)
	if err != nil {
		t.Fatal(err)
	}
	hosts := len(hvs)
	stack := newStack(t, p)
	pool := values("server_group_policy", "anti-affinity")
	for i := range hosts {
		in, err := p.Create(ctx, machine(stack, "k8s.k", "control-plane", i, pool))
		if err == nil {
			_, err = p.Ready(ctx, in.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	in, err := p.Create(ctx, machine(stack, "k8s.k", "control-plane", hosts, pool))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Ready(ctx, in.ID)
	if err == nil || !strings.Contains(err.Error(), "No valid host was found") || provisioners.IsTransient(err) {
		t.Fatalf("Ready of member %d of a hard anti-affinity group on %d hosts: %v", hosts+1, hosts, err)
	}
	if got, _ := p.Read(ctx, in.ID); got.State != provisioners.StateError {
		t.Errorf("state %q, want error", got.State)
	}

	// The same role asking for another policy cannot join the group.
	_, err = p.Create(ctx, machine(stack, "k8s.k", "control-plane", hosts+1, values()))
	if err == nil || !strings.Contains(err.Error(), "has policy anti-affinity") {
		t.Errorf("Create with another policy: %v", err)
	}
}

func TestLiveApplicationCredential(t *testing.T) {
	t.Parallel()
	p := openLive(t, liveConfig(t, "strata-appcred"), testSubstrate())
	if _, err := p.List(t.Context(), map[string]string{provisioners.TagStack: "none-such"}); err != nil {
		t.Fatal(err)
	}
}

func TestLiveLoginErrors(t *testing.T) {
	t.Parallel()
	const secret = "not-the-password-7f3a"
	cfg := liveConfig(t, "strata")
	cfg.Password = secret
	_, err := Open(t.Context(), cfg, values())
	want := `openstack: OpenStack refused the credentials of user "strata" in project "strata" at http://127.0.0.1:5000/v3`
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), secret) {
		t.Errorf("wrong password: %v; want %q, without the password", err, want)
	}

	cfg = liveConfig(t, "strata-appcred")
	cfg.ApplicationCredentialSecret = secret
	_, err = Open(t.Context(), cfg, values())
	if err == nil || !strings.Contains(err.Error(), "refused the credentials of application credential") || strings.Contains(err.Error(), secret) {
		t.Errorf("wrong secret: %v", err)
	}

	cfg = liveConfig(t, "strata")
	cfg.Region = "Nowhere"
	_, err = Open(t.Context(), cfg, values())
	if err == nil || !strings.Contains(err.Error(), `no compute endpoint for region "Nowhere"`) || !strings.Contains(err.Error(), "RegionOne/public") {
		t.Errorf("missing region: %v", err)
	}

	cfg = liveConfig(t, "strata")
	cfg.AuthURL = "http://127.0.0.1:1/v3" // nothing listens on port 1
	_, err = Open(t.Context(), cfg, values())
	if err == nil || !strings.Contains(err.Error(), "cannot reach Keystone at http://127.0.0.1:1/v3") {
		t.Errorf("unreachable Keystone: %v", err)
	}

	_, err = Open(t.Context(), liveConfig(t, "no-such-cloud"), values())
	if err == nil || !strings.Contains(err.Error(), `cloud "no-such-cloud" is not in `) || !strings.Contains(err.Error(), "strata, strata-admin, strata-appcred, strata-quota") {
		t.Errorf("unknown cloud: %v", err)
	}
}

// A cloud is up for pools once a compute service is: the test cloud's
// three fake computes are, to the admin; a member may not list services,
// which is no verdict.
func TestLiveComputeUp(t *testing.T) {
	ctx := context.Background()
	for _, cloud := range []string{"strata-admin", "strata"} {
		p := openLive(t, liveConfig(t, cloud), values())
		if err := p.ComputeUp(ctx); err != nil {
			t.Errorf("%s: %v", cloud, err)
		}
	}
}

package vsphere

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/provtest"
	"github.com/stratastack/strata/provisioners/vsphere/vcsim"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/zclconf/go-cty/cty"
)

func startSim(t testing.TB, opts vcsim.Options) *vcsim.Sim {
	t.Helper()
	sim, err := vcsim.Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

// values builds decoded settings the way a stack file would give them.
func values(kv ...string) schema.Values {
	v := schema.Values{Attrs: map[string]cty.Value{}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Attrs[kv[i]] = cty.StringVal(kv[i+1])
	}
	return v
}

// substrate is a block naming everything the simulator has, with kv
// replacing or adding settings ("" removes one).
func substrate(kv ...string) schema.Values {
	v := values("datacenter", vcsim.Datacenter, "cluster", vcsim.Cluster, "datastore", vcsim.Datastore,
		"network", vcsim.Network, "template", vcsim.DefaultTemplate)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(v.Attrs, kv[i])
		} else {
			v.Attrs[kv[i]] = cty.StringVal(kv[i+1])
		}
	}
	return v
}

func config(sim *vcsim.Sim) Config {
	return Config{Server: sim.URL(), User: sim.User(), Password: sim.Password(), Insecure: true}
}

func open(t testing.TB, sim *vcsim.Sim, sub schema.Values) *Provisioner {
	t.Helper()
	p, err := Open(t.Context(), config(sim), sub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func machine(stack, pool string, i int) provisioners.Machine {
	return provisioners.Machine{
		Name: fmt.Sprintf("%s-%s-%d", stack, pool, i),
		Tags: map[string]string{
			"strata:stack": stack, "strata:pool": pool, "strata:index": strconv.Itoa(i),
			"strata:layer": "kubernetes.k", "strata:role": "worker",
		},
		CPUs: 2, MemoryMB: 3072, DiskGB: 40,
		UserData: fmt.Appendf(nil, "#cloud-config\nhostname: %s-%s-%d\n", stack, pool, i),
	}
}

// inventory is a direct govmomi view of the simulator, to check what the
// provisioner made without trusting its own Read.
func inventory(t testing.TB, sim *vcsim.Sim) *govmomi.Client {
	t.Helper()
	c, err := sim.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	return c
}

func vmInfo(t testing.TB, c *govmomi.Client, id string) mo.VirtualMachine {
	t.Helper()
	var vm mo.VirtualMachine
	ref := vmRef(id)
	if err := object.NewVirtualMachine(c.Client, ref).Properties(t.Context(), ref,
		[]string{"name", "parent", "config.extraConfig", "config.hardware", "customValue"}, &vm); err != nil {
		t.Fatal(err)
	}
	return vm
}

func extra(vm mo.VirtualMachine) map[string]string {
	out := map[string]string{}
	for _, o := range vm.Config.ExtraConfig {
		v := o.GetOptionValue()
		out[v.Key], _ = v.Value.(string)
	}
	return out
}

// parallel runs f(0..n-1) on n goroutines and returns the first error.
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

func TestLifecycle(t *testing.T) {
	ctx := t.Context()
	sim := startSim(t, vcsim.Options{})
	p := open(t, sim, substrate())
	c := inventory(t, sim)

	const n = 8
	made := make([]provisioners.Instance, n)
	err := parallel(n, func(i int) (err error) {
		made[i], err = p.Create(ctx, machine("lab", "workers", i))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := vmInfo(t, c, mustTemplate(t, c))
	for i, in := range made {
		m := machine("lab", "workers", i)
		if in.ID == "" || in.Name != m.Name || in.State != provisioners.StatePending || in.Tags["strata:index"] != strconv.Itoa(i) {
			t.Errorf("Create %d = %+v", i, in)
		}
		vm := vmInfo(t, c, in.ID)
		ec := extra(vm)
		for k, v := range m.Tags {
			if key := tagKeyPrefix + strings.TrimPrefix(k, "strata:"); ec[key] != v {
				t.Errorf("%s: %s = %q, want %q", m.Name, key, ec[key], v)
			}
		}
		ud, err := base64.StdEncoding.DecodeString(ec["guestinfo.userdata"])
		if err != nil || string(ud) != string(m.UserData) || ec["guestinfo.userdata.encoding"] != "base64" {
			t.Errorf("%s: userdata %q (%v), encoding %q", m.Name, ud, err, ec["guestinfo.userdata.encoding"])
		}
		md, _ := base64.StdEncoding.DecodeString(ec["guestinfo.metadata"])
		var meta map[string]string
		if err := json.Unmarshal(md, &meta); err != nil || meta["instance-id"] != m.Name || meta["local-hostname"] != m.Name {
			t.Errorf("%s: metadata %s (%v)", m.Name, md, err)
		}
		if hw := vm.Config.Hardware; hw.NumCPU != 2 || hw.MemoryMB != 3072 {
			t.Errorf("%s: %d CPUs, %d MB", m.Name, hw.NumCPU, hw.MemoryMB)
		}
		if got := firstDiskKB(vm); got != 40<<20 && firstDiskKB(tmpl) < 40<<20 {
			t.Errorf("%s: disk %d KB, want %d", m.Name, got, 40<<20)
		}
		if folder, _ := find.InventoryPath(ctx, c.Client, *vm.Parent); folder != "/DC0/vm/strata-lab" {
			t.Errorf("%s is in %s", m.Name, folder)
		}
	}

	// Another stack's machine must not show up in this stack's List.
	other, err := p.Create(ctx, machine("other", "workers", 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tags map[string]string
		want int
	}{
		{map[string]string{"strata:stack": "lab"}, n},
		{map[string]string{"strata:stack": "lab", "strata:index": "3"}, 1},
		{map[string]string{"strata:stack": "lab", "strata:pool": "masters"}, 0},
		{nil, n + 1}, // every strata VM, not the simulator's own
	} {
		got, err := p.List(ctx, tc.tags)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Errorf("List(%v) = %d VMs, want %d", tc.tags, len(got), tc.want)
		}
	}
	listed, _ := p.List(ctx, map[string]string{"strata:stack": "lab"})
	if !slices.Equal(ids(listed), ids(made)) {
		t.Errorf("List = %v, want %v", ids(listed), ids(made))
	}
	// A TTL extended re-tags: the new expiry replaces the old, the rest stays.
	if err := provtest.Retag(ctx, p, made[0].ID, "lab"); err != nil {
		t.Error(err)
	}

	for _, in := range listed {
		if in.Tags["strata:role"] != "worker" || in.State != provisioners.StatePending && in.State != provisioners.StateRunning {
			t.Errorf("listed %+v", in)
		}
	}

	ready := make([]provisioners.Instance, n)
	if err := parallel(n, func(i int) (err error) {
		ready[i], err = p.Ready(ctx, made[i].ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, in := range ready {
		if in.State != provisioners.StateRunning || len(in.Addresses) == 0 || seen[in.Addresses[0]] {
			t.Errorf("Ready = %+v (addresses must be distinct)", in)
			continue
		}
		seen[in.Addresses[0]] = true
	}

	if err := parallel(n, func(i int) error { return p.Delete(ctx, made[i].ID) }); err != nil {
		t.Fatal(err)
	}
	if left, err := p.List(ctx, map[string]string{"strata:stack": "lab"}); err != nil || len(left) != 0 {
		t.Errorf("after Delete, List = %v, %v", left, err)
	}
	if in, err := p.Read(ctx, made[0].ID); err != nil || in.State != provisioners.StateGone {
		t.Errorf("Read deleted = %+v, %v", in, err)
	}
	if err := p.Delete(ctx, made[0].ID); err != nil {
		t.Errorf("deleting a deleted VM: %v", err)
	}
	if in, err := p.Read(ctx, other.ID); err != nil || in.State != provisioners.StatePending && in.State != provisioners.StateRunning {
		t.Errorf("other stack's VM: %+v, %v", in, err)
	}
}

func mustTemplate(t testing.TB, c *govmomi.Client) string {
	t.Helper()
	f := find.NewFinder(c.Client, true)
	vm, err := f.VirtualMachine(t.Context(), "/DC0/vm/"+vcsim.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	return vm.Reference().Value
}

func firstDiskKB(vm mo.VirtualMachine) int64 {
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			return disk.CapacityInKB
		}
	}
	return 0
}

// TestCreateAdopts: a repeated Create, even a concurrent one, returns the
// VM already made; a foreign VM holding the name is refused.
func TestCreateAdopts(t *testing.T) {
	ctx := t.Context()
	sim := startSim(t, vcsim.Options{})
	p := open(t, sim, substrate())
	c := inventory(t, sim)

	m := machine("adopt", "db", 0)
	first, err := p.Create(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	again := make([]provisioners.Instance, 4)
	if err := parallel(len(again), func(i int) (err error) {
		again[i], err = p.Create(ctx, m)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, in := range again {
		if in.ID != first.ID || in.Tags["strata:pool"] != "db" {
			t.Errorf("second Create = %+v, want ID %s", in, first.ID)
		}
	}
	// Concurrent first Creates of one name: one clones, the rest adopt.
	twin := machine("adopt", "db", 1)
	got := make([]provisioners.Instance, 4)
	if err := parallel(len(got), func(i int) (err error) {
		got[i], err = p.Create(ctx, twin)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, in := range got {
		if in.ID != got[0].ID {
			t.Errorf("concurrent Creates made %s and %s", got[0].ID, in.ID)
		}
	}
	if all, _ := p.List(ctx, map[string]string{"strata:stack": "adopt"}); len(all) != 2 {
		t.Errorf("List = %d VMs, want 2", len(all))
	}

	// A VM someone else put in the stack folder under a machine's name.
	f := find.NewFinder(c.Client, true)
	folder, err := f.Folder(ctx, "/DC0/vm/strata-adopt")
	if err != nil {
		t.Fatal(err)
	}
	src, err := f.VirtualMachine(ctx, "/DC0/vm/"+vcsim.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	pool := p.pool
	task, err := src.Clone(ctx, folder, "adopt-db-2", types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Pool: &pool}})
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Create(ctx, machine("adopt", "db", 2))
	if err == nil || !strings.Contains(err.Error(), "was not made by strata") {
		t.Errorf("Create over a foreign VM: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	sim := startSim(t, vcsim.Options{User: "alice", Password: "right"})
	cfg := config(sim)
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		return addr
	}()
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		sub  schema.Values
		want []string // substrings of the error
	}{
		{"template", nil, substrate("template", "centos-7"), []string{`template "centos-7" not found in datacenter DC0`, "ubuntu-24.04"}},
		{"template path", nil, substrate("template", "golden/centos-7"), []string{`template "golden/centos-7" not found`}},
		{"datastore", nil, substrate("datastore", "fastssd"), []string{`datastore "fastssd" not found`, "LocalDS_0"}},
		{"network", nil, substrate("network", "prod-vlan"), []string{`network "prod-vlan" not found`, "VM Network", "DC0_DVPG0"}},
		{"cluster", nil, substrate("cluster", "C9"), []string{`cluster "C9" not found`, "DC0_C0"}},
		{"resource pool", nil, substrate("cluster", "", "resource_pool", "nope"), []string{`resource pool "nope" not found`}},
		{"no compute", nil, substrate("cluster", ""), []string{"several clusters or hosts", "DC0_C0", "set cluster or resource_pool"}},
		{"datacenter", nil, substrate("datacenter", "DC7"), []string{`datacenter "DC7" not found`, "DC0"}},
		{"folder", nil, substrate("folder", "teams/infra"), []string{`folder "teams/infra" not found`}},
		{"password", func(c *Config) { c.Password = "wrong" }, substrate(), []string{`login to ` + sim.URL() + ` as "alice" failed: wrong user name or password`}},
		{"user from block", nil, substrate("user", "bob"), []string{`as "bob" failed`}},
		{"no password", func(c *Config) { c.Password = "" }, substrate(), []string{`no password for "alice"`}},
		{"unreachable", func(c *Config) { c.Server = closed }, substrate(), []string{"cannot reach vCenter at https://" + closed + "/sdk", "connection refused"}},
		{"server from block", nil, substrate("server", closed), []string{"cannot reach vCenter at https://" + closed + "/sdk"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			p, err := Open(t.Context(), c, tc.sub)
			if err == nil {
				_ = p.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

// TestPoolOverrides: a pool's template, datastore and network replace the
// substrate's, and a wrong one fails that pool's Create by name.
func TestPoolOverrides(t *testing.T) {
	ctx := t.Context()
	sim := startSim(t, vcsim.Options{})
	p := open(t, sim, substrate())
	c := inventory(t, sim)

	m := machine("pools", "dvs", 0)
	m.Pool = values("network", "DC0_DVPG0", "datastore", vcsim.Datastore)
	in, err := p.Create(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	var vm mo.VirtualMachine
	if err := object.NewVirtualMachine(c.Client, vmRef(in.ID)).Properties(ctx, vmRef(in.ID), []string{"network"}, &vm); err != nil {
		t.Fatal(err)
	}
	if len(vm.Network) != 1 || vm.Network[0].Type != "DistributedVirtualPortgroup" {
		t.Errorf("network = %v, want the DVS port group", vm.Network)
	}

	for _, tc := range []struct{ attr, val string }{
		{"template", "windows-2022"}, {"datastore", "nfs-9"}, {"network", "dmz"},
	} {
		m := machine("pools", "bad", 0)
		m.Pool = values(tc.attr, tc.val)
		_, err := p.Create(ctx, m)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s %q not found", tc.attr, tc.val)) {
			t.Errorf("pool %s = %q: %v", tc.attr, tc.val, err)
		}
	}
}

func TestReadyTimeout(t *testing.T) {
	ctx := t.Context()
	// A /30 has two guest addresses: the third VM never gets one.
	sim := startSim(t, vcsim.Options{Subnet: netip.MustParsePrefix("10.9.0.0/30")})
	cfg := config(sim)
	cfg.ReadyTimeout = 300 * time.Millisecond
	p, err := Open(ctx, cfg, substrate())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var last provisioners.Instance
	for i := range 3 {
		if last, err = p.Create(ctx, machine("dhcp", "w", i)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = p.Ready(ctx, last.ID)
	if err == nil || !strings.Contains(err.Error(), "reported no IP address within 300ms") {
		t.Errorf("Ready = %v", err)
	}
	if provisioners.IsTransient(err) {
		t.Error("a timeout is not worth a blind retry")
	}
	// Ready powers a stopped machine on (and it keeps its address).
	first, _ := p.List(ctx, map[string]string{"strata:index": "0"})
	vm := object.NewVirtualMachine(inventory(t, sim).Client, vmRef(first[0].ID))
	if task, err := vm.PowerOff(ctx); err != nil || task.Wait(ctx) != nil {
		t.Fatal(err)
	}
	if in, _ := p.Read(ctx, first[0].ID); in.State != provisioners.StateStopped || len(in.Addresses) != 0 {
		t.Errorf("powered off: %+v", in)
	}
	if in, err := p.Ready(ctx, first[0].ID); err != nil || in.State != provisioners.StateRunning || in.Addresses[0] != "10.9.0.1" {
		t.Errorf("Ready after power-off = %+v, %v", in, err)
	}
}

func TestDeleteRefusesForeignVM(t *testing.T) {
	sim := startSim(t, vcsim.Options{})
	p := open(t, sim, substrate())
	vm, err := find.NewFinder(inventory(t, sim).Client, true).VirtualMachine(t.Context(), "/DC0/vm/DC0_H0_VM0")
	if err != nil {
		t.Fatal(err)
	}
	err = p.Delete(t.Context(), vm.Reference().Value)
	if err == nil || !strings.Contains(err.Error(), "refusing to delete") {
		t.Errorf("Delete(simulator's own VM) = %v", err)
	}
}

func TestCustomAttributes(t *testing.T) {
	ctx := t.Context()
	sim := startSim(t, vcsim.Options{})
	c := inventory(t, sim)
	cfm, err := object.GetCustomFieldsManager(c.Client)
	if err != nil {
		t.Fatal(err)
	}
	def, err := cfm.Add(ctx, "strata:pool", "VirtualMachine", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := open(t, sim, substrate())
	in, err := p.Create(ctx, machine("attrs", "edge", 0))
	if err != nil {
		t.Fatal(err)
	}
	vm := vmInfo(t, c, in.ID)
	found := false
	for _, v := range vm.CustomValue {
		if s, ok := v.(*types.CustomFieldStringValue); ok && s.Key == def.Key && s.Value == "edge" {
			found = true
		}
	}
	if !found {
		t.Errorf("custom attribute strata:pool not set: %v", vm.CustomValue)
	}
}

func TestTagKeys(t *testing.T) {
	for _, tc := range []struct{ tag, key string }{
		{"strata:stack", "guestinfo.strata.tags.stack"},
		{"strata:layer", "guestinfo.strata.tags.layer"},
		{"owner", "guestinfo.strata.usertags.owner"},
		{"cost-center.v2", "guestinfo.strata.usertags.cost-center.v2"},
		{"strata:", ""},
		{"k8s.io/role", ""},
		{"", ""},
	} {
		key, err := tagKey(tc.tag)
		if key != tc.key || (err != nil) != (tc.key == "") {
			t.Errorf("tagKey(%q) = %q, %v", tc.tag, key, err)
		}
		if tc.key != "" {
			if back, ok := tagOf(key); !ok || back != tc.tag {
				t.Errorf("tagOf(%q) = %q", key, back)
			}
		}
	}
	if _, ok := tagOf("guestinfo.userdata"); ok {
		t.Error("guestinfo.userdata read as a tag")
	}
}

func TestTransient(t *testing.T) {
	soapFault := func(f types.BaseMethodFault) error {
		return soap.WrapSoapFault(&soap.Fault{Detail: struct {
			Fault types.AnyType `xml:",any,typeattr"`
		}{Fault: f}})
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"task in progress", soapFault(&types.TaskInProgress{}), true},
		{"host communication", soapFault(&types.HostCommunication{}), true},
		{"invalid login", soapFault(&types.InvalidLogin{}), false},
		{"not found", soapFault(&types.ManagedObjectNotFound{}), false},
		{"reset", &url.Error{Op: "Post", URL: "/sdk", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, true},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"503", &url.Error{Op: "POST", URL: "/sdk", Err: errors.New("503 Service Unavailable")}, true},
		{"404", &url.Error{Op: "POST", URL: "/sdk", Err: errors.New("404 Not Found")}, false},
		{"canceled", context.Canceled, false},
		{"plain", errors.New("template is corrupt"), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("%s: transient = %v, want %v", tc.name, got, tc.want)
		}
		if got := provisioners.IsTransient(fail(tc.err, "do")); got != tc.want {
			t.Errorf("%s: IsTransient(fail) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestStackFolderRace: separate provisioners (separate processes, in
// effect) making the first machines of one stack at once all succeed, in
// one folder under the configured one.
func TestStackFolderRace(t *testing.T) {
	ctx := t.Context()
	sim := startSim(t, vcsim.Options{})
	c := inventory(t, sim)
	root, err := find.NewFinder(c.Client, true).Folder(ctx, "/DC0/vm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.CreateFolder(ctx, "teams"); err != nil {
		t.Fatal(err)
	}
	const n = 4
	ps := make([]*Provisioner, n)
	for i := range ps {
		ps[i] = open(t, sim, substrate("folder", "teams"))
	}
	made := make([]provisioners.Instance, n)
	if err := parallel(n, func(i int) (err error) {
		made[i], err = ps[i].Create(ctx, machine("race", "w", i))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, in := range made {
		vm := vmInfo(t, c, in.ID)
		if folder, _ := find.InventoryPath(ctx, c.Client, *vm.Parent); folder != "/DC0/vm/teams/strata-race" {
			t.Errorf("%s is in %s", in.Name, folder)
		}
	}
	folders, err := find.NewFinder(c.Client, true).FolderList(ctx, "/DC0/vm/teams/*")
	if err != nil || len(folders) != 1 {
		t.Errorf("folders in teams: %v, %v", folders, err)
	}
}

// TestOpenPaths: settings may be inventory paths, relative to the
// datacenter's folder for their kind, or absolute.
func TestOpenPaths(t *testing.T) {
	sim := startSim(t, vcsim.Options{})
	for _, sub := range []schema.Values{
		substrate("cluster", "", "resource_pool", "DC0_C0/Resources"),
		substrate("cluster", "/DC0/host/DC0_C0", "template", "/DC0/vm/"+vcsim.DefaultTemplate),
		substrate("template", vcsim.DefaultTemplate, "network", "/DC0/network/VM Network", "datastore", "/DC0/datastore/LocalDS_0"),
		substrate("datastore", "", "network", ""), // the template's
	} {
		p, err := Open(t.Context(), config(sim), sub)
		if err != nil {
			t.Errorf("%v: %v", sub.Attrs, err)
			continue
		}
		_ = p.Close()
	}
}

// TestStaleLookups: a template replaced under the same name, or a stack
// folder removed, fails one Create as transient; the retry resolves afresh.
func TestStaleLookups(t *testing.T) {
	ctx := t.Context()
	sim := startSim(t, vcsim.Options{})
	p := open(t, sim, substrate())
	c := inventory(t, sim)
	f := find.NewFinder(c.Client, true)
	wait := func(task *object.Task, err error) {
		t.Helper()
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	in, err := p.Create(ctx, machine("stale", "w", 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	folder, err := f.Folder(ctx, "/DC0/vm/strata-stale")
	if err != nil {
		t.Fatal(err)
	}
	wait(folder.Destroy(ctx))
	old, err := f.VirtualMachine(ctx, "/DC0/vm/"+vcsim.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	root, err := f.Folder(ctx, "/DC0/vm")
	if err != nil {
		t.Fatal(err)
	}
	pool := p.pool
	wait(old.Clone(ctx, root, "next", types.VirtualMachineCloneSpec{Template: true, Location: types.VirtualMachineRelocateSpec{Pool: &pool}}))
	wait(old.Destroy(ctx))
	next, err := f.VirtualMachine(ctx, "/DC0/vm/next")
	if err != nil {
		t.Fatal(err)
	}
	wait(next.Rename(ctx, vcsim.DefaultTemplate))

	_, err = p.Create(ctx, machine("stale", "w", 1))
	if !provisioners.IsTransient(err) {
		t.Fatalf("first Create after the swap = %v, want a transient error", err)
	}
	in, err = p.Create(ctx, machine("stale", "w", 1))
	if err != nil {
		t.Fatal(err)
	}
	if vm := vmInfo(t, c, in.ID); vm.Parent == nil {
		t.Error("no parent")
	} else if path, _ := find.InventoryPath(ctx, c.Client, *vm.Parent); path != "/DC0/vm/strata-stale" {
		t.Errorf("made in %s", path)
	}
}

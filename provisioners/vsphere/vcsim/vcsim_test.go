package vcsim

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func TestCredentials(t *testing.T) {
	ctx := t.Context()
	sim, err := Start(ctx, Options{User: "alice", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if !strings.HasPrefix(sim.URL(), "https://127.0.0.1:") || !strings.HasSuffix(sim.URL(), "/sdk") {
		t.Errorf("URL() = %q", sim.URL())
	}
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{
		{"alice", "s3cret", true},
		{"alice", "wrong", false},
		{"user", "pass", false}, // vcsim's package-wide default must not leak in
	} {
		u, _ := url.Parse(sim.URL())
		u.User = url.UserPassword(tc.user, tc.pass)
		c, err := govmomi.NewClient(ctx, u, true)
		if (err == nil) != tc.ok {
			t.Errorf("login %s/%s: err = %v, want ok=%v", tc.user, tc.pass, err, tc.ok)
		}
		if err == nil {
			_ = c.Logout(ctx)
		}
	}
}

// TestGuestIPs clones the template concurrently the way any vSphere
// client would, with nothing simulator-specific, and expects each powered-on
// VM to report its own address, and none once powered off.
func TestGuestIPs(t *testing.T) {
	ctx := t.Context()
	sim, err := Start(ctx, Options{Subnet: netip.MustParsePrefix("192.168.7.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c, err := sim.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()

	f := find.NewFinder(c.Client, true)
	dc, err := f.Datacenter(ctx, Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	tmpl, err := f.VirtualMachine(ctx, sim.Template())
	if err != nil {
		t.Fatal(err)
	}
	var props mo.VirtualMachine
	if err := tmpl.Properties(ctx, tmpl.Reference(), []string{"config.template", "network"}, &props); err != nil {
		t.Fatal(err)
	}
	if !props.Config.Template {
		t.Errorf("%s is not a template", sim.Template())
	}
	cluster, err := f.ClusterComputeResource(ctx, Cluster)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := cluster.ResourcePool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}

	const n = 6
	vms := make([]*object.VirtualMachine, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ref := pool.Reference()
			task, err := tmpl.Clone(ctx, folders.VmFolder, fmt.Sprintf("vm-%d", i), types.VirtualMachineCloneSpec{
				Location: types.VirtualMachineRelocateSpec{Pool: &ref},
				PowerOn:  true,
			})
			if err == nil {
				var info *types.TaskInfo
				if info, err = task.WaitForResult(ctx); err == nil {
					vms[i] = object.NewVirtualMachine(c.Client, info.Result.(types.ManagedObjectReference))
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	seen := map[string]bool{}
	for _, vm := range vms {
		ip, err := vm.WaitForIP(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !netip.MustParsePrefix("192.168.7.0/24").Contains(netip.MustParseAddr(ip)) || seen[ip] {
			t.Errorf("%s: ip %s outside the subnet or not unique", vm.Reference().Value, ip)
		}
		seen[ip] = true
	}

	task, err := vms[0].PowerOff(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	var off mo.VirtualMachine
	if err := vms[0].Properties(ctx, vms[0].Reference(), []string{"guest.ipAddress", "guest.net"}, &off); err != nil {
		t.Fatal(err)
	}
	if off.Guest.IpAddress != "" || (len(off.Guest.Net) > 0 && len(off.Guest.Net[0].IpAddress) > 0) {
		t.Errorf("powered-off VM still reports %q %v", off.Guest.IpAddress, off.Guest.Net)
	}
}

func TestAssignExhausts(t *testing.T) {
	g := newGuestIPs(netip.MustParsePrefix("10.0.0.0/30")) // .1 and .2 usable
	a, _ := g.assign("vm-1")
	b, _ := g.assign("vm-2")
	if a.String() != "10.0.0.1" || b.String() != "10.0.0.2" {
		t.Errorf("got %s %s", a, b)
	}
	if again, _ := g.assign("vm-1"); again != a {
		t.Errorf("vm-1 changed address: %s", again)
	}
	if _, ok := g.assign("vm-3"); ok {
		t.Error("assigned the broadcast address")
	}
	g.RemoveObject(nil, types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"})
	if c, ok := g.assign("vm-3"); !ok || c != a {
		t.Errorf("freed address not reused: %s %v", c, ok)
	}
}

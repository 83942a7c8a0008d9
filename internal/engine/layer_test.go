package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/fakesub"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers/layertest"
)

// cloudStack: OpenStack on two vSphere machines, and a pool of tenants
// servers on that cloud.
const cloudStack = `stack {
  name = "c"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "ubuntu-24.04"
}
pool "infra" {
  substrate = substrate.vsphere.dc
  size      = 2
}
layer "openstack" "cloud" {
  role "controller" {
    on    = pool.infra
    count = 1
  }
  role "compute" {
    on = pool.infra
  }
}
pool "tenant" {
  substrate = layer.openstack.cloud
  size      = %d
  flavor    = "m1.small"
}
`

// layerOpener opens the vSphere block on infra and the cloud the layer
// became on cloud, recording how each open was asked to reach it.
type layerOpener struct {
	infra, cloud *fakesub.Substrate
	notUpFor     int // the cloud's opens that fail as not answering yet

	mu       sync.Mutex
	accesses []map[string]string
	deletes  []string // "infra" or "cloud", in the order deletes happened
}

func (o *layerOpener) Open(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
	if sub.Kind != "openstack" {
		return deleteLog{o.infra, o, "infra"}, nil
	}
	o.mu.Lock()
	o.accesses = append(o.accesses, sub.Access)
	fail := len(o.accesses) <= o.notUpFor
	o.mu.Unlock()
	if fail {
		return nil, provisioners.Transient(errors.New("keystone: connection refused"))
	}
	return deleteLog{o.cloud, o, "cloud"}, nil
}

// deleteLog records which substrate each delete went to.
type deleteLog struct {
	*fakesub.Substrate
	o    *layerOpener
	name string
}

func (d deleteLog) Delete(ctx context.Context, id string) error {
	err := d.Substrate.Delete(ctx, id)
	d.o.mu.Lock()
	d.o.deletes = append(d.o.deletes, d.name)
	d.o.mu.Unlock()
	return err
}

func TestPoolOnLayer(t *testing.T) {
	o := &layerOpener{infra: fakesub.New(), cloud: fakesub.New(), notUpFor: 2}
	e := New(o, Options{Parallelism: 4, BaseDelay: 1e6, MaxDelay: 5e6})
	ctx, sec := context.Background(), layertest.Secrets(t)

	res, err := e.Apply(ctx, compile(t, []byte(fmt.Sprintf(cloudStack, 3))), sec)
	if err != nil {
		t.Fatal(err)
	}
	if o.infra.Count() != 2 || o.cloud.Count() != 3 || len(res.Machines) != 5 {
		t.Fatalf("infra %d, cloud %d, result %d; want 2, 3, 5", o.infra.Count(), o.cloud.Count(), len(res.Machines))
	}
	if got := o.cloud.Names(); !slices.Equal(got, []string{"c-tenant-0", "c-tenant-1", "c-tenant-2"}) {
		t.Fatalf("the cloud holds %v", got)
	}
	// The first survey found the layer not up (no controller address) and
	// did not open it; the apply then waited out two refusals.
	if len(o.accesses) != 3 {
		t.Fatalf("%d opens of the cloud, want 3 (two while Keystone refused)", len(o.accesses))
	}
	ctl := ""
	for _, m := range res.Machines {
		if m.Role == "controller" {
			ctl = m.Addresses[0]
		}
	}
	a := o.accesses[2]
	if a["auth_url"] != "http://"+ctl+":5000/v3" || a["username"] != "admin" || a["password"] == "" || a["region"] != "RegionOne" {
		t.Fatalf("the cloud was reached as %v; want the controller's Keystone (%s) as admin", redact(a), ctl)
	}

	// A second apply finds the cloud up at once and changes only the
	// difference there.
	o.notUpFor = 0
	if _, err := e.Apply(ctx, compile(t, []byte(fmt.Sprintf(cloudStack, 1))), sec); err != nil {
		t.Fatal(err)
	}
	if o.cloud.Count() != 1 || o.infra.Count() != 2 {
		t.Fatalf("after scaling tenants to 1: cloud %d, infra %d", o.cloud.Count(), o.infra.Count())
	}

	// Destroy takes the tenants off the cloud before the cloud's machines.
	res, err = e.Destroy(ctx, compile(t, []byte(fmt.Sprintf(cloudStack, 1))), sec)
	if err != nil || o.cloud.Count() != 0 || o.infra.Count() != 0 || len(res.Removed) != 3 {
		t.Fatalf("destroy: %v; cloud %d, infra %d left; removed %v", err, o.cloud.Count(), o.infra.Count(), res.Removed)
	}
	// The scale-down deleted two tenants; then destroy one, then infra.
	if want := []string{"cloud", "cloud", "cloud", "infra", "infra"}; !slices.Equal(o.deletes, want) {
		t.Fatalf("deletes went to %v, want %v (tenants before the cloud's machines)", o.deletes, want)
	}
}

func TestPoolOnLayerGivesUp(t *testing.T) {
	o := &layerOpener{infra: fakesub.New(), cloud: fakesub.New(), notUpFor: 1 << 30}
	e := New(o, Options{Parallelism: 4, BaseDelay: 1e6, MaxDelay: 5e6, LayerTimeout: 50e6})
	res, err := e.Apply(context.Background(), compile(t, []byte(fmt.Sprintf(cloudStack, 2))), layertest.Secrets(t))
	if err == nil || !strings.Contains(err.Error(), "layer.openstack.cloud did not answer within 50ms") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error %v; want the layer's timeout with the last refusal", err)
	}
	if o.cloud.Count() != 0 || len(res.Machines) != 2 {
		t.Fatalf("cloud %d machines, result %d; want 0 and the 2 infra machines recorded", o.cloud.Count(), len(res.Machines))
	}
}

func redact(a map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		if k == "password" {
			v = "..."
		}
		out[k] = v
	}
	return out
}

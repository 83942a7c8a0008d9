package vcsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"sync"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Names in the simulated inventory, for tests and stack files to refer to.
const (
	Datacenter      = "DC0"
	Cluster         = "DC0_C0"
	Datastore       = "LocalDS_0"
	Network         = "VM Network"
	DefaultTemplate = "ubuntu-24.04"
)

// sourceVM is the VPX model's VM the template is cloned from; it sits in
// DC0_C0's root resource pool.
const sourceVM = "DC0_C0_RP0_VM0"

// Options shapes a simulator. The zero value is a good default.
type Options struct {
	// Addr is the host:port to listen on; "" means 127.0.0.1 on a free port.
	Addr string
	// User and Password are the only credentials the simulator accepts;
	// "" means "user" and "pass" (vcsim's usual ones).
	User     string
	Password string
	// Template names the VM template made in DC0; "" means DefaultTemplate.
	Template string
	// Subnet is where guest addresses come from; the zero value means
	// 10.64.0.0/16.
	Subnet netip.Prefix
}

// Sim is a running simulator. Close it when done.
type Sim struct {
	model    *simulator.Model
	server   *simulator.Server
	url      url.URL // without userinfo
	user     string
	password string
	template string
}

// Start builds the inventory, serves it over HTTPS (a self-signed
// certificate: connect with Insecure) and makes the template.
func Start(ctx context.Context, opts Options) (*Sim, error) {
	s := &Sim{user: opts.User, password: opts.Password, template: opts.Template}
	if s.user == "" {
		s.user = "user"
	}
	if s.password == "" {
		s.password = "pass"
	}
	if s.template == "" {
		s.template = DefaultTemplate
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("vcsim: listen address %q: %w", addr, err)
	}
	subnet := opts.Subnet
	if !subnet.IsValid() {
		subnet = netip.MustParsePrefix("10.64.0.0/16")
	}

	s.model = simulator.VPX()
	if err := s.model.Create(); err != nil {
		return nil, fmt.Errorf("vcsim: build inventory: %w", err)
	}
	s.model.Service.TLS = new(tls.Config)
	// Credentials live on the service's Listen URL, so they are per
	// simulator; simulator.DefaultLogin is shared by the whole process.
	s.model.Service.Listen = &url.URL{Host: addr, User: url.UserPassword(s.user, s.password)}
	s.server = s.model.Service.NewServer()
	s.url = *s.server.URL
	s.url.User = nil

	if err := s.makeTemplate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// Added after the template exists so only VMs powered on from now on
	// get addresses; the model's own VMs keep none, as before.
	s.model.Map().AddHandler(newGuestIPs(subnet))
	return s, nil
}

// URL is the SDK endpoint, https://HOST:PORT/sdk, without credentials.
func (s *Sim) URL() string { return s.url.String() }

// User is the accepted user name.
func (s *Sim) User() string { return s.user }

// Password is the accepted password.
func (s *Sim) Password() string { return s.password }

// Template is the name of the VM template in DC0.
func (s *Sim) Template() string { return s.template }

// Client returns a logged-in govmomi client, for tests that look at the
// inventory directly. Log it out when done.
func (s *Sim) Client(ctx context.Context) (*govmomi.Client, error) {
	u := s.url
	u.User = url.UserPassword(s.user, s.password)
	return govmomi.NewClient(ctx, &u, true)
}

// Close stops the server and removes the simulator's temporary files.
func (s *Sim) Close() {
	if s.server != nil {
		s.server.Close()
	}
	s.model.Remove()
}

// makeTemplate clones the model's VM into DC0's VM folder as a template
// on the cluster, datastore and "VM Network", like a real site's golden
// image.
func (s *Sim) makeTemplate(ctx context.Context) error {
	c, err := s.Client(ctx)
	if err != nil {
		return fmt.Errorf("vcsim: connect: %w", err)
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()

	f := find.NewFinder(c.Client, true)
	dc, err := f.Datacenter(ctx, Datacenter)
	if err != nil {
		return fmt.Errorf("vcsim: %w", err)
	}
	f.SetDatacenter(dc)
	src, err := f.VirtualMachine(ctx, sourceVM)
	if err != nil {
		return fmt.Errorf("vcsim: %w", err)
	}
	cluster, err := f.ClusterComputeResource(ctx, Cluster)
	if err != nil {
		return fmt.Errorf("vcsim: %w", err)
	}
	pool, err := cluster.ResourcePool(ctx)
	if err != nil {
		return fmt.Errorf("vcsim: %w", err)
	}
	ds, err := f.Datastore(ctx, Datastore)
	if err != nil {
		return fmt.Errorf("vcsim: %w", err)
	}
	network, err := f.Network(ctx, Network)
	if err != nil {
		return fmt.Errorf("vcsim: %w", err)
	}
	backing, err := network.EthernetCardBackingInfo(ctx)
	if err != nil {
		return fmt.Errorf("vcsim: %w", err)
	}
	devices, err := src.Device(ctx)
	if err != nil {
		return fmt.Errorf("vcsim: %w", err)
	}
	nics := devices.SelectByType((*types.VirtualEthernetCard)(nil))
	if len(nics) == 0 {
		return errors.New("vcsim: the model's VM has no network adapter")
	}
	nic := nics[0]
	nic.GetVirtualDevice().Backing = backing
	folders, err := dc.Folders(ctx)
	if err != nil {
		return fmt.Errorf("vcsim: %w", err)
	}

	poolRef, dsRef := pool.Reference(), ds.Reference()
	spec := types.VirtualMachineCloneSpec{
		Template: true,
		Location: types.VirtualMachineRelocateSpec{
			Pool:      &poolRef,
			Datastore: &dsRef,
			DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
				Operation: types.VirtualDeviceConfigSpecOperationEdit,
				Device:    nic,
			}},
		},
		Config: &types.VirtualMachineConfigSpec{NumCPUs: 1, MemoryMB: 1024},
	}
	task, err := src.Clone(ctx, folders.VmFolder, s.template, spec)
	if err != nil {
		return fmt.Errorf("vcsim: clone template: %w", err)
	}
	if err := task.Wait(ctx); err != nil {
		return fmt.Errorf("vcsim: clone template: %w", err)
	}
	return nil
}

// guestIPs plays the guest's DHCP client: a registry handler that gives
// a VM an address when it powers on and clears it when it powers off. Each
// VM keeps its address until it is destroyed, so a reboot reports the
// same one. When the subnet runs out, VMs simply get none, as with an
// exhausted DHCP pool.
type guestIPs struct {
	subnet netip.Prefix

	mu   sync.Mutex
	next netip.Addr            // next never-used address
	free []netip.Addr          // addresses of destroyed VMs
	byVM map[string]netip.Addr // VM moref value -> its address
}

func newGuestIPs(subnet netip.Prefix) *guestIPs {
	subnet = subnet.Masked()
	return &guestIPs{subnet: subnet, next: subnet.Addr().Next(), byVM: map[string]netip.Addr{}}
}

// Reference is the handler's key in the registry; no real object has it.
func (g *guestIPs) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "StrataGuestIPs", Value: "strata-guest-ips"}
}

func (g *guestIPs) PutObject(*simulator.Context, mo.Reference) {}

func (g *guestIPs) RemoveObject(_ *simulator.Context, ref types.ManagedObjectReference) {
	if ref.Type != "VirtualMachine" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if a, ok := g.byVM[ref.Value]; ok {
		delete(g.byVM, ref.Value)
		g.free = append(g.free, a)
	}
}

// UpdateObject runs inside the power task, which holds the VM's lock, so
// the VM can be read and updated here directly.
func (g *guestIPs) UpdateObject(ctx *simulator.Context, obj mo.Reference, changes []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok || ctx == nil || vm.Guest == nil {
		return
	}
	if !slices.ContainsFunc(changes, func(c types.PropertyChange) bool { return c.Name == "runtime.powerState" }) {
		return
	}
	var ip string
	switch vm.Runtime.PowerState {
	case types.VirtualMachinePowerStatePoweredOn:
		a, ok := g.assign(vm.Self.Value)
		if !ok {
			return
		}
		ip = a.String()
	case types.VirtualMachinePowerStatePoweredOff:
		if vm.Guest.IpAddress == "" {
			return
		}
	default:
		return // suspended: the guest's state is frozen
	}
	nets := slices.Clone(vm.Guest.Net)
	if len(nets) > 0 {
		nets[0].IpAddress = nil
		if ip != "" {
			nets[0].IpAddress = []string{ip}
		}
	}
	ctx.Update(vm, []types.PropertyChange{
		{Name: "guest.ipAddress", Val: ip},
		{Name: "summary.guest.ipAddress", Val: ip},
		{Name: "guest.net", Val: nets},
	})
}

func (g *guestIPs) assign(vm string) (netip.Addr, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a, ok := g.byVM[vm]; ok {
		return a, true
	}
	var a netip.Addr
	if n := len(g.free); n > 0 {
		a, g.free = g.free[n-1], g.free[:n-1]
	} else {
		// The subnet's last address is its broadcast address: never hand it out.
		if !g.subnet.Contains(g.next) || !g.subnet.Contains(g.next.Next()) {
			return netip.Addr{}, false
		}
		a, g.next = g.next, g.next.Next()
	}
	g.byVM[vm] = a
	return a, true
}

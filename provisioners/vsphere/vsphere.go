package vsphere

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/memo"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/session/keepalive"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Config is how to reach vCenter. The substrate block's server and user,
// when set, override Server and User.
type Config struct {
	Server   string // host, host:port or URL; https:// and /sdk are implied
	User     string
	Password string
	Insecure bool // accept any certificate (self-signed lab vCenters)
	// ReadyTimeout bounds Ready's wait for a guest address; 0 means 10 minutes.
	ReadyTimeout time.Duration
}

// Provisioner makes machines on one vSphere substrate block. It is safe
// for concurrent use.
type Provisioner struct {
	client       *vim25.Client
	keepalive    *keepalive.HandlerSOAP
	server       string // the SDK URL, for messages
	readyTimeout time.Duration

	finder *find.Finder // scoped to the datacenter
	dcName string
	vmRoot *object.Folder // the datacenter's VM folder: List's scope
	parent *object.Folder // where stack folders are made
	pool   types.ManagedObjectReference
	dcPath string
	// The substrate's template, datastore and network; a pool may
	// override each.
	template, datastore, network string
	fields                       map[string]int32

	memo memo.Memo // resolved templates, datastores, networks, stack folders
}

var _ provisioners.Provisioner = (*Provisioner)(nil)

// Open logs in to vCenter and resolves the substrate block's datacenter,
// compute, folder, template, datastore and network, so a wrong name fails
// here, before anything is made.
func Open(ctx context.Context, cfg Config, substrate schema.Values) (*Provisioner, error) {
	server := cmp.Or(substrate.String("server"), cfg.Server)
	if server == "" {
		return nil, errors.New("vsphere: no server: set server in the substrate block, VSPHERE_SERVER, or the provider's vsphere.server")
	}
	u, err := soap.ParseURL(server)
	if err != nil {
		return nil, fmt.Errorf("vsphere: server %q is neither a host name nor a URL: %w", server, err)
	}
	user, password := cmp.Or(substrate.String("user"), cfg.User), cfg.Password
	if user == "" { // credentials may ride in the URL, as govc allows
		user = u.User.Username()
	}
	if p, ok := u.User.Password(); ok && password == "" {
		password = p
	}
	u.User = nil
	where := u.String()
	if user == "" {
		return nil, fmt.Errorf("vsphere: no user for %s: set user in the substrate block, VSPHERE_USER, or the provider's vsphere.user", where)
	}
	if password == "" {
		return nil, fmt.Errorf("vsphere: no password for %q at %s: set VSPHERE_PASSWORD or password in the provider's vsphere block", user, where)
	}

	sc := soap.NewClient(u, cfg.Insecure)
	// The engine runs many calls at once; Go's default of two idle
	// connections per host would make most of them redo a TLS handshake.
	sc.DefaultTransport().MaxIdleConnsPerHost = 64
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		sc.CloseIdleConnections()
		if soap.IsCertificateUntrusted(err) {
			return nil, fmt.Errorf("vsphere: %s presents a certificate this machine does not trust: %w; install its CA, or for a lab set VSPHERE_ALLOW_UNVERIFIED_SSL=true", where, err)
		}
		return nil, fmt.Errorf("vsphere: cannot reach vCenter at %s: %w", where, err)
	}
	// vCenter drops sessions idle for 30 minutes; a long Ready wait or a
	// pause between runs must not log us out.
	ka := keepalive.NewHandlerSOAP(vc.RoundTripper, 5*time.Minute, nil)
	vc.RoundTripper = ka
	if err := session.NewManager(vc).Login(ctx, url.UserPassword(user, password)); err != nil {
		sc.CloseIdleConnections()
		if fault.Is(err, &types.InvalidLogin{}) {
			return nil, fmt.Errorf("vsphere: login to %s as %q failed: wrong user name or password", where, user)
		}
		return nil, fail(err, "login to %s as %q", where, user)
	}

	p := &Provisioner{
		client: vc, keepalive: ka, server: where,
		readyTimeout: cmp.Or(cfg.ReadyTimeout, 10*time.Minute),
	}
	if err := p.resolve(ctx, substrate); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// Close logs out. The Provisioner is unusable afterwards.
func (p *Provisioner) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := session.NewManager(p.client).Logout(ctx)
	p.keepalive.Stop()
	p.client.CloseIdleConnections()
	return err
}

// Spec is what `substrate "vsphere"` accepts.
func (p *Provisioner) Spec() provisioners.Spec { return Spec() }

func (p *Provisioner) resolve(ctx context.Context, s schema.Values) error {
	p.finder = find.NewFinder(p.client, true)
	p.dcName = s.String("datacenter")
	var dc *object.Datacenter
	var err error
	if p.dcName == "" {
		dc, err = p.finder.DefaultDatacenter(ctx)
	} else {
		dc, err = p.finder.Datacenter(ctx, p.dcName)
	}
	if err != nil {
		return p.lookupErr(ctx, err, "datacenter", p.dcName, "vCenter "+p.server, namesOf(p.finder.DatacenterList, ""))
	}
	p.dcName, p.dcPath = dc.Name(), dc.InventoryPath
	p.finder.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	if err != nil {
		return fail(err, "read datacenter %q", p.dcName)
	}
	p.vmRoot, p.parent = folders.VmFolder, folders.VmFolder
	where := "datacenter " + p.dcName

	if name := s.String("folder"); name != "" {
		// Relative paths start at the datacenter's VM folder, as in the
		// vSphere client; absolute ones are inventory paths.
		full := name
		if !strings.HasPrefix(name, "/") {
			full = path.Join(p.dcPath, "vm", name)
		}
		if p.parent, err = p.finder.Folder(ctx, full); err != nil {
			return p.lookupErr(ctx, err, "folder", name, where, namesOf(p.finder.FolderList, p.dcPath+"/vm"))
		}
	}

	switch cluster, rp := s.String("cluster"), s.String("resource_pool"); {
	case rp != "":
		pool, err := p.finder.ResourcePool(ctx, p.inDC("host", rp))
		if err != nil {
			return p.lookupErr(ctx, err, "resource pool", rp, where, namesOf(p.finder.ResourcePoolList, p.dcPath+"/host"))
		}
		p.pool = pool.Reference()
	case cluster != "":
		cr, err := p.finder.ClusterComputeResource(ctx, p.inDC("host", cluster))
		if err != nil {
			return p.lookupErr(ctx, err, "cluster", cluster, where, namesOf(p.finder.ClusterComputeResourceList, p.dcPath+"/host"))
		}
		pool, err := cr.ResourcePool(ctx)
		if err != nil {
			return fail(err, "read cluster %q", cluster)
		}
		p.pool = pool.Reference()
	default:
		pool, err := p.finder.DefaultResourcePool(ctx)
		if err != nil {
			var many *find.DefaultMultipleFoundError
			if errors.As(err, &many) {
				names := namesOf(p.finder.ComputeResourceList, p.dcPath+"/host")(ctx)
				return fmt.Errorf("vsphere: %s has several clusters or hosts (%s): set cluster or resource_pool in the substrate block", where, strings.Join(names, ", "))
			}
			return fail(err, "find a resource pool in %s", where)
		}
		p.pool = pool.Reference()
	}

	// The settings a pool may override are resolved now as well, so a
	// wrong substrate-level name fails at Open. Without pools (a janitor)
	// there may be no template; a pool without one fails validation.
	if p.template = s.String("template"); p.template != "" {
		if _, err := p.lookupTemplate(ctx, p.template); err != nil {
			return err
		}
	}
	p.datastore, p.network = s.String("datastore"), s.String("network")
	if _, err := p.lookupDatastore(ctx, p.datastore); err != nil {
		return err
	}
	if _, err := p.lookupNetwork(ctx, p.network); err != nil {
		return err
	}
	p.fields = customFields(ctx, p.client)
	return nil
}

// inDC makes a relative path (one with a '/') absolute under one of the
// datacenter's folders (vm, host, datastore, network), as the vSphere
// client shows paths; a plain name is searched for in the datacenter.
func (p *Provisioner) inDC(section, name string) string {
	if strings.HasPrefix(name, "/") || !strings.Contains(name, "/") {
		return name
	}
	return path.Join(p.dcPath, section, name)
}

// lookupErr turns a finder error into one naming what is missing and, if
// names is set, what exists instead.
func (p *Provisioner) lookupErr(ctx context.Context, err error, kind, name, where string, names func(context.Context) []string) error {
	var nf *find.NotFoundError
	var dnf *find.DefaultNotFoundError
	if !errors.As(err, &nf) && !errors.As(err, &dnf) {
		return fail(err, "find %s %q in %s", kind, name, where)
	}
	var have []string
	if names != nil {
		have = names(ctx)
	}
	if name == "" {
		return fmt.Errorf("vsphere: %s has no default %s; set %s in the substrate block (there: %s)", where, kind, strings.ReplaceAll(kind, " ", "_"), strings.Join(have, ", "))
	}
	return notFound(kind, name, where, have)
}

// namesOf lists, for an error message, the inventory paths a finder list
// function knows under base (a datacenter section such as "/DC0/host"),
// relative to it.
func namesOf[T any](list func(context.Context, string) ([]T, error), base string) func(context.Context) []string {
	return func(ctx context.Context) []string {
		objs, _ := list(ctx, "*")
		var names []string
		for _, o := range objs {
			// The finder counts distributed switches as networks; no NIC
			// can use one directly.
			if r, ok := any(o).(interface {
				Reference() types.ManagedObjectReference
			}); ok && strings.HasSuffix(r.Reference().Type, "DistributedVirtualSwitch") {
				continue
			}
			if rel, ok := strings.CutPrefix(inventoryPath(o), base+"/"); ok {
				names = append(names, rel)
			}
		}
		slices.Sort(names)
		return names
	}
}

// inventoryPath is the path the finder set on an object: a field of the
// embedded object.Common, or a method for network kinds.
func inventoryPath(o any) string {
	if n, ok := o.(interface{ GetInventoryPath() string }); ok {
		return n.GetInventoryPath()
	}
	if v := reflect.Indirect(reflect.ValueOf(o)); v.Kind() == reflect.Struct {
		if f := v.FieldByName("InventoryPath"); f.Kind() == reflect.String {
			return f.String()
		}
	}
	return ""
}

// cached is memo.Get on the provisioner's memo.
func cached[T any](p *Provisioner, key string, compute func() (T, error)) (T, error) {
	return memo.Get(&p.memo, key, compute)
}

// template is a resolved template and the devices a clone may adjust.
// Its fields are shared between goroutines: copy before changing.
type template struct {
	vm   *object.VirtualMachine
	nic  types.BaseVirtualDevice // the first network adapter, or nil
	disk *types.VirtualDisk      // the first disk, or nil
}

// lookupTemplate finds a template (or VM) by name in the datacenter with
// one property retrieval, which also lists the templates there should the
// name be wrong. A name with a '/' is a path under the datacenter's VM folder.
func (p *Provisioner) lookupTemplate(ctx context.Context, name string) (*template, error) {
	return cached(p, "template\x00"+name, func() (*template, error) {
		var ref types.ManagedObjectReference
		if strings.Contains(name, "/") {
			vm, err := p.finder.VirtualMachine(ctx, p.inDC("vm", name))
			if err != nil {
				return nil, p.lookupErr(ctx, err, "template", name, "datacenter "+p.dcName, nil)
			}
			ref = vm.Reference()
		} else {
			var vms []mo.VirtualMachine
			if err := p.retrieveVMs(ctx, []string{"name", "config.template"}, &vms); err != nil {
				return nil, fail(err, "look for template %q in datacenter %s", name, p.dcName)
			}
			var have []string
			found := 0
			for _, vm := range vms {
				isTemplate := vm.Config != nil && vm.Config.Template
				if isTemplate {
					have = append(have, vm.Name)
				}
				// Prefer a template over a plain VM of the same name.
				if vm.Name == name && (found == 0 || isTemplate) {
					ref, found = vm.Self, found+1
				}
			}
			if found == 0 {
				return nil, notFound("template", name, "datacenter "+p.dcName, have)
			}
		}
		vm := object.NewVirtualMachine(p.client, ref)
		devices, err := vm.Device(ctx)
		if err != nil {
			return nil, fail(err, "read template %q", name)
		}
		t := &template{vm: vm}
		if nics := devices.SelectByType((*types.VirtualEthernetCard)(nil)); len(nics) > 0 {
			t.nic = nics[0]
		}
		if disks := devices.SelectByType((*types.VirtualDisk)(nil)); len(disks) > 0 {
			t.disk = disks[0].(*types.VirtualDisk)
		}
		return t, nil
	})
}

// lookupDatastore resolves a datastore name; "" means the template's own.
func (p *Provisioner) lookupDatastore(ctx context.Context, name string) (*types.ManagedObjectReference, error) {
	if name == "" {
		return nil, nil
	}
	return cached(p, "datastore\x00"+name, func() (*types.ManagedObjectReference, error) {
		ds, err := p.finder.Datastore(ctx, p.inDC("datastore", name))
		if err != nil {
			return nil, p.lookupErr(ctx, err, "datastore", name, "datacenter "+p.dcName, namesOf(p.finder.DatastoreList, p.dcPath+"/datastore"))
		}
		ref := ds.Reference()
		return &ref, nil
	})
}

// lookupNetwork resolves a port group to a NIC backing; "" means keep the
// template's.
func (p *Provisioner) lookupNetwork(ctx context.Context, name string) (types.BaseVirtualDeviceBackingInfo, error) {
	if name == "" {
		return nil, nil
	}
	return cached(p, "network\x00"+name, func() (types.BaseVirtualDeviceBackingInfo, error) {
		n, err := p.finder.Network(ctx, p.inDC("network", name))
		if err != nil {
			return nil, p.lookupErr(ctx, err, "network", name, "datacenter "+p.dcName, namesOf(p.finder.NetworkList, p.dcPath+"/network"))
		}
		b, err := n.EthernetCardBackingInfo(ctx)
		if err != nil {
			return nil, fail(err, "read network %q", name)
		}
		return b, nil
	})
}

// stackFolder is <parent>/strata-<stack>, made on first use. Another
// process may make it at the same moment: its DuplicateName names the
// folder to use.
func (p *Provisioner) stackFolder(ctx context.Context, stack string) (*object.Folder, error) {
	return cached(p, "folder\x00"+stack, func() (*object.Folder, error) {
		name := "strata-" + stack
		f, err := p.parent.CreateFolder(ctx, name)
		if err == nil {
			return f, nil
		}
		var dup *types.DuplicateName
		if _, ok := fault.As(err, &dup); ok {
			if dup.Object.Type != "Folder" {
				return nil, fmt.Errorf("vsphere: cannot make folder %q in %s: a %s of that name is in the way", name, p.parent.InventoryPath, dup.Object.Type)
			}
			return object.NewFolder(p.client, dup.Object), nil
		}
		return nil, fail(err, "make folder %q in %s", name, p.parent.InventoryPath)
	})
}

// retrieveVMs loads props of every VM in the datacenter with one property
// collector call (paged by the server), however many VMs there are.
func (p *Provisioner) retrieveVMs(ctx context.Context, props []string, dst *[]mo.VirtualMachine) error {
	v, err := view.NewManager(p.client).CreateContainerView(ctx, p.vmRoot.Reference(), []string{"VirtualMachine"}, true)
	if err != nil {
		return err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	return v.Retrieve(ctx, []string{"VirtualMachine"}, props, dst)
}

// customFields maps custom attribute names that look like strata tags to
// their keys. Custom attributes are optional, so any failure means none.
func customFields(ctx context.Context, c *vim25.Client) map[string]int32 {
	out := map[string]int32{}
	m, err := object.GetCustomFieldsManager(c)
	if err != nil {
		return out
	}
	defs, err := m.Field(ctx)
	if err != nil {
		return out
	}
	for _, d := range defs {
		if (d.ManagedObjectType == "" || d.ManagedObjectType == "VirtualMachine") && strings.HasPrefix(d.Name, strataTagPrefix) {
			out[d.Name] = d.Key
		}
	}
	return out
}

// shallowCopy copies the struct a device pointer points to, so a clone
// spec can change a template's device without touching the shared one.
func shallowCopy[T any](v T) T {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return v
	}
	c := reflect.New(rv.Elem().Type())
	c.Elem().Set(rv.Elem())
	return c.Interface().(T)
}

package openstack

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/schema"
)

// Pinned defaults and names.
const (
	Kind           = "openstack"
	DefaultVersion = "2025.2"

	RoleController = "controller"
	RoleCompute    = "compute"

	// KollaRegistry is where the hosted placements take their images from,
	// tagged <release>-ubuntu-noble.
	KollaRegistry = "quay.io/openstack.kolla"
	// Infrastructure images for hosted placements: the official Docker
	// library images, configured through their documented environment.
	MariaDBImage   = "mariadb:11.4.5"
	RabbitMQImage  = "rabbitmq:3.13.7"
	MemcachedImage = "memcached:1.6.38"

	physnet        = "physnet1"
	providerBridge = "br-provider"
	cell           = "cell1"
)

// Service ports.
const (
	portKeystone  = 5000
	portGlance    = 9292
	portPlacement = 8778
	portNova      = 8774
	portMetadata  = 8775
	portNoVNC     = 6080
	portNeutron   = 9696
	portMariaDB   = 3306
	portRabbit    = 5672
	portMemcached = 11211
	portOVNNB     = 6641
	portOVNSB     = 6642
)

// series maps an OpenStack release number to its Ubuntu Cloud Archive
// series name (cloud-archive:<series> on Ubuntu 24.04).
func series(version string) (string, error) {
	switch version {
	case "2024.1":
		return "caracal", nil
	case "2024.2":
		return "dalmatian", nil
	case "2025.1":
		return "epoxy", nil
	case "2025.2":
		return "flamingo", nil
	}
	return "", fmt.Errorf("openstack: unknown release %q (known: 2024.1, 2024.2, 2025.1, 2025.2)", version)
}

// Layer is the openstack layer kind. It holds no state.
type Layer struct{}

var _ layers.Layer = (*Layer)(nil)

// New returns the openstack layer kind.
func New() *Layer { return &Layer{} }

// Kind implements layers.Layer.
func (*Layer) Kind() string { return Kind }

// DefaultVersion implements layers.Layer.
func (*Layer) DefaultVersion() string { return DefaultVersion }

// SubstrateKind implements layers.Layer: pools may be placed on an
// openstack layer and then take the openstack substrate's settings.
func (*Layer) SubstrateKind() string { return "openstack" }

// Attrs implements layers.Layer.
func (*Layer) Attrs() []schema.Attr {
	return []schema.Attr{
		{Name: "region", Type: cty.String, Default: cty.StringVal("RegionOne"),
			Doc: "Keystone region the endpoints are registered in."},
		{Name: "public_endpoint", Type: cty.String,
			Doc: "Host name or address users and computes reach the APIs at (a VIP or load balancer). Default: the first controller's address when controllers are on a pool, else each service's in-cluster name."},
		{Name: "provider_network_interface", Type: cty.String, Default: cty.StringVal("eth1"),
			Doc: "NIC on compute hosts plugged into the provider bridge (physnet1) for flat provider networks; it must not carry the host's own address."},
		{Name: "cloud", Type: cty.String,
			Doc: "clouds.yaml entry the pools placed on this layer use (a project and user made for them, or a cloud whose users live elsewhere). Default: the layer's own admin, in project admin, at its public Keystone endpoint."},
	}
}

// Roles implements layers.Layer.
func (*Layer) Roles() []layers.Role {
	on := []string{layers.Pool, "mesos", "kubernetes"}
	return []layers.Role{
		{Name: RoleController, On: on, Spread: true,
			Doc: "MariaDB, RabbitMQ, memcached, OVN central, Keystone, Glance, Placement, Nova API/conductor/scheduler/noVNC proxy and Neutron (ML2/OVN)."},
		{Name: RoleCompute, On: on, After: []string{RoleController},
			Doc: "nova-compute on libvirt/KVM, Open vSwitch, ovn-controller and the OVN metadata agent."},
	}
}

var (
	hostRe  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.:\-\[\]]*[A-Za-z0-9\]])?$`)
	wordRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	ifaceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$`)
	labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// plan is everything the renderers derive from a Cluster: release,
// settings, where each service is reached, and the secrets.
type plan struct {
	c          layers.Cluster
	version    string
	series     string
	region     string
	public     string // public_endpoint, or "" when each service's own host is used
	iface      string
	ctrl       string // where the controller role is placed
	ctrl0      string // first controller's host, pool placement only
	ns         string // kubernetes namespace
	mesosGroup string // marathon group of the controller role
}

func newPlan(c layers.Cluster) (*plan, error) {
	p := &plan{c: c, version: c.Version}
	if p.version == "" {
		p.version = DefaultVersion
	}
	var err error
	if p.series, err = series(p.version); err != nil {
		return nil, err
	}
	if c.Secrets == nil {
		return nil, fmt.Errorf("openstack: no secrets to derive passwords from")
	}
	p.region = c.Settings.String("region")
	if p.region == "" {
		p.region = "RegionOne"
	}
	if !wordRe.MatchString(p.region) {
		return nil, fmt.Errorf("openstack: region %q: use letters, digits, '.', '_' and '-'", p.region)
	}
	p.iface = c.Settings.String("provider_network_interface")
	if p.iface == "" {
		p.iface = "eth1"
	}
	if !ifaceRe.MatchString(p.iface) {
		return nil, fmt.Errorf("openstack: provider_network_interface %q is not an interface name", p.iface)
	}
	p.public = c.Settings.String("public_endpoint")
	if p.public != "" && !hostRe.MatchString(p.public) {
		return nil, fmt.Errorf("openstack: public_endpoint %q is not a host name or address", p.public)
	}
	p.ctrl = c.Placements[RoleController]
	if p.ctrl == "" {
		p.ctrl = layers.Pool
	}
	switch p.ctrl {
	case layers.Pool:
		ms := c.Members[RoleController]
		if len(ms) == 0 {
			return nil, fmt.Errorf("openstack: the controller role has no members to reach")
		}
		p.ctrl0 = first(ms).Host()
		if !hostRe.MatchString(p.ctrl0) {
			return nil, fmt.Errorf("openstack: controller host %q is not a host name or address", p.ctrl0)
		}
		if p.public == "" {
			p.public = p.ctrl0
		}
	case "kubernetes", "mesos":
	default:
		return nil, fmt.Errorf("openstack: the controller role cannot be placed on %q", p.ctrl)
	}
	p.ns = c.Stack + "-" + c.Name
	p.mesosGroup = "/" + c.Stack + "/" + c.Name + "/" + RoleController
	return p, nil
}

// first returns the member with the lowest index.
func first(ms []layers.Member) layers.Member {
	m := ms[0]
	for _, x := range ms[1:] {
		if x.Index < m.Index {
			m = x
		}
	}
	return m
}

// host is where a controller service is reached from inside the
// deployment: controller 0 on a pool, the Service on kubernetes, the
// Mesos-DNS name of the Marathon app on mesos.
func (p *plan) host(svc string) string {
	switch p.ctrl {
	case "kubernetes":
		if svc == "ovn-nb" || svc == "ovn-sb" {
			svc = "ovn-central"
		}
		return svc + "." + p.ns + ".svc.cluster.local"
	case "mesos":
		// Mesos-DNS names /a/b/c as c-b-a.marathon.mesos.
		return svc + "-" + RoleController + "-" + p.c.Name + "-" + p.c.Stack + ".marathon.mesos"
	}
	return p.ctrl0
}

// apiHost is where an API is reached: public_endpoint when set (and
// always on a pool, where it defaults to controller 0), else the service.
func (p *plan) apiHost(svc string, public bool) string {
	if p.public != "" && (public || p.ctrl == layers.Pool) {
		return p.public
	}
	return p.host(svc)
}

func (p *plan) url(svc string, port int, path string, public bool) string {
	return fmt.Sprintf("http://%s:%d%s", p.apiHost(svc, public), port, path)
}

func (p *plan) authURL() string { return p.url("keystone", portKeystone, "/v3", false) }

// Secrets. Each name is also the environment variable the value travels
// in, and the key in the kubernetes Secret.
const (
	sAdmin       = "ADMIN_PASSWORD"
	sDBRoot      = "DB_ROOT_PASSWORD"
	sKeystoneDB  = "KEYSTONE_DB_PASSWORD"
	sGlanceDB    = "GLANCE_DB_PASSWORD"
	sPlacementDB = "PLACEMENT_DB_PASSWORD"
	sNovaDB      = "NOVA_DB_PASSWORD"
	sNeutronDB   = "NEUTRON_DB_PASSWORD"
	sRabbit      = "RABBIT_PASSWORD"
	sGlance      = "GLANCE_PASSWORD"
	sPlacement   = "PLACEMENT_PASSWORD"
	sNova        = "NOVA_PASSWORD"
	sNeutron     = "NEUTRON_PASSWORD"
	sMetadata    = "METADATA_SECRET"
	sFernet0     = "FERNET_KEY_0"
	sFernet1     = "FERNET_KEY_1"
	sCred0       = "CREDENTIAL_KEY_0"
	sCred1       = "CREDENTIAL_KEY_1"
)

// roleSecrets lists the secrets a role carries; nothing else reaches it.
// withRoot adds the MariaDB root password, which only hosted MariaDB needs
// (on a pool root logs in over the unix socket).
func roleSecrets(role string, withRoot bool) []string {
	if role == RoleCompute {
		return []string{sRabbit, sPlacement, sNova, sNeutron, sMetadata}
	}
	s := []string{sAdmin, sKeystoneDB, sGlanceDB, sPlacementDB, sNovaDB, sNeutronDB, sRabbit,
		sGlance, sPlacement, sNova, sNeutron, sMetadata, sFernet0, sFernet1, sCred0, sCred1}
	if withRoot {
		s = append(s, sDBRoot)
	}
	sort.Strings(s)
	return s
}

// secret derives one secret; purposes carry the layer name so two
// openstack layers of a stack never share a password.
func (p *plan) secret(name string) string {
	purpose := "openstack/" + p.c.Name + "/" + name
	switch name {
	case sFernet0, sFernet1, sCred0, sCred1:
		// Fernet keys are 32 url-safe base64 encoded bytes; deriving them
		// gives every controller the same key repository.
		return base64.URLEncoding.EncodeToString(p.c.Secrets.Key(purpose, 32))
	}
	return p.c.Secrets.Token(purpose, 32)
}

func (p *plan) secrets(names []string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = p.secret(n)
	}
	return m
}

// RenderNode implements layers.Layer.
func (l *Layer) RenderNode(ctx context.Context, n layers.Node) (layers.Bootstrap, error) {
	if err := ctx.Err(); err != nil {
		return layers.Bootstrap{}, err
	}
	r, ok := layers.RoleOf(l, n.Role)
	if !ok {
		return layers.Bootstrap{}, fmt.Errorf("openstack: unknown role %q", n.Role)
	}
	if !r.Allows(layers.Pool) {
		return layers.Bootstrap{}, fmt.Errorf("openstack: role %s cannot be placed on a pool", n.Role)
	}
	// The role being rendered is on a pool, whatever else the map says.
	pl := map[string]string{}
	for k, v := range n.Placements {
		pl[k] = v
	}
	pl[n.Role] = layers.Pool
	n.Placements = pl
	p, err := newPlan(n.Cluster)
	if err != nil {
		return layers.Bootstrap{}, err
	}
	return p.renderNode(n)
}

// RenderHosted implements layers.Layer.
func (l *Layer) RenderHosted(ctx context.Context, h layers.Hosted) ([]layers.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, ok := layers.RoleOf(l, h.Role)
	if !ok {
		return nil, fmt.Errorf("openstack: unknown role %q", h.Role)
	}
	if h.HostKind == layers.Pool || !r.Allows(h.HostKind) {
		return nil, fmt.Errorf("openstack: role %s cannot be hosted on a %q layer (allowed: mesos, kubernetes)", h.Role, h.HostKind)
	}
	if h.Count < 1 {
		return nil, fmt.Errorf("openstack: role %s needs a count of at least 1, got %d", h.Role, h.Count)
	}
	if !labelRe.MatchString(h.Stack+"-"+h.Name) || !labelRe.MatchString(h.Name) {
		return nil, fmt.Errorf("openstack: stack %q and layer %q must form a DNS label (lowercase letters, digits, '-')", h.Stack, h.Name)
	}
	// The role being rendered is where the caller says it is.
	c := h.Cluster
	pl := map[string]string{}
	for k, v := range c.Placements {
		pl[k] = v
	}
	pl[h.Role] = h.HostKind
	c.Placements = pl
	p, err := newPlan(c)
	if err != nil {
		return nil, err
	}
	ws, err := p.workloads(h.Role, h.HostKind, h.Count)
	if err != nil {
		return nil, err
	}
	if h.HostKind == "kubernetes" {
		return p.renderOnKubernetes(h.Role, ws)
	}
	return p.renderOnMesos(h.Role, ws)
}

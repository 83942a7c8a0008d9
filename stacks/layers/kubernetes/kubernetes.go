package kubernetes

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/schema"
)

// Kind is the layer kind.
const Kind = "kubernetes"

// Role names.
const (
	ControlPlane = "control-plane"
	Worker       = "worker"
)

const (
	defaultVersion     = "1.37.2"
	defaultPodCIDR     = "10.244.0.0/16"
	defaultServiceCIDR = "10.96.0.0/12"
	apiServerPort      = 6443

	// flannelVersion is the pinned flannel release; its manifest defaults to
	// the network 10.244.0.0/16, which is rewritten to pod_cidr.
	flannelVersion = "v0.28.9"
	flannelNetwork = "10.244.0.0/16"

	// kindNode137 is kind v0.33.0's node image for the 1.37 stream.
	kindNode137 = "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"

	criSocket = "unix:///run/containerd/containerd.sock"
)

// Layer is the kubernetes layer kind.
type Layer struct{}

var _ layers.Layer = (*Layer)(nil)

// New returns the kubernetes layer kind.
func New() *Layer { return &Layer{} }

// Kind implements layers.Layer.
func (*Layer) Kind() string { return Kind }

// DefaultVersion implements layers.Layer.
func (*Layer) DefaultVersion() string { return defaultVersion }

// SubstrateKind implements layers.Layer: a Kubernetes cluster is not a
// substrate for pools.
func (*Layer) SubstrateKind() string { return "" }

// Attrs implements layers.Layer.
func (*Layer) Attrs() []schema.Attr {
	return []schema.Attr{
		{Name: "pod_cidr", Type: cty.String, Default: cty.StringVal(defaultPodCIDR),
			Doc: "The pod network (kubeadm networking.podSubnet), e.g. \"10.244.0.0/16\"."},
		{Name: "service_cidr", Type: cty.String, Default: cty.StringVal(defaultServiceCIDR),
			Doc: "The service network (kubeadm networking.serviceSubnet), e.g. \"10.96.0.0/12\"."},
		{Name: "control_plane_endpoint", Type: cty.String,
			Doc: "host[:port] of the API server (a load balancer or DNS name); default: the first control plane on port 6443 " +
				"(on mesos: the Mesos-DNS name of the control-plane init app)."},
		{Name: "cni", Type: cty.String, Default: cty.StringVal("flannel"),
			Doc: "The pod network add-on the first control plane applies: \"flannel\" (release " + flannelVersion + ") or \"none\"."},
		{Name: "node_image", Type: cty.String,
			Doc: "The kind-style node image for nodes placed on mesos; default: kindest/node matching the version."},
	}
}

// Roles implements layers.Layer.
func (*Layer) Roles() []layers.Role {
	return []layers.Role{
		{Name: ControlPlane, On: []string{layers.Pool, "mesos"}, Spread: true,
			Doc: "API server, controller manager, scheduler and stacked etcd (kubeadm); the first one initialises the cluster."},
		{Name: Worker, On: []string{layers.Pool, "mesos"}, After: []string{ControlPlane},
			Doc: "kubelet and containerd, joined with the stack's bootstrap token."},
	}
}

// settings are a cluster's decoded and checked settings.
type settings struct {
	c            layers.Cluster
	stack, layer string
	version      string // 1.37.2
	stream       string // v1.37
	podCIDR      string
	serviceCIDR  string
	endpoint     string // host:port
	cni          string
	nodeImage    string
	// cpPlacement is where the control plane runs; it decides the default
	// endpoint for every role.
	cpPlacement string
	cpHosts     []string // control-plane hosts known before bootstrap
}

var versionRE = regexp.MustCompile(`^v?([0-9]+)\.([0-9]+)\.([0-9]+)$`)

func newSettings(c layers.Cluster) (*settings, error) {
	s := &settings{c: c, stack: c.Stack, layer: c.Name}
	v := c.Version
	if v == "" {
		v = defaultVersion
	}
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return nil, fmt.Errorf("kubernetes: version %q is not MAJOR.MINOR.PATCH (e.g. %s)", v, defaultVersion)
	}
	s.version = strings.TrimPrefix(v, "v")
	s.stream = "v" + m[1] + "." + m[2]

	s.podCIDR = orDefault(c.Settings.String("pod_cidr"), defaultPodCIDR)
	s.serviceCIDR = orDefault(c.Settings.String("service_cidr"), defaultServiceCIDR)
	pod, err := netip.ParsePrefix(s.podCIDR)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: pod_cidr: %w", err)
	}
	svc, err := netip.ParsePrefix(s.serviceCIDR)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: service_cidr: %w", err)
	}
	if pod.Overlaps(svc) {
		return nil, fmt.Errorf("kubernetes: pod_cidr %s overlaps service_cidr %s; pick disjoint networks", pod, svc)
	}

	s.cni = orDefault(c.Settings.String("cni"), "flannel")
	if s.cni != "flannel" && s.cni != "none" {
		return nil, fmt.Errorf("kubernetes: cni %q is not \"flannel\" or \"none\"", s.cni)
	}

	s.nodeImage = c.Settings.String("node_image")
	if s.nodeImage == "" {
		s.nodeImage = "kindest/node:v" + s.version
		if s.stream == "v1.37" {
			s.nodeImage = kindNode137
		}
	}

	s.cpPlacement = orDefault(c.Placements[ControlPlane], layers.Pool)
	if s.cpPlacement == layers.Pool {
		for _, m := range c.Members[ControlPlane] {
			s.cpHosts = append(s.cpHosts, m.Host())
		}
	}
	if ep := c.Settings.String("control_plane_endpoint"); ep != "" {
		if s.endpoint, err = hostPort(ep); err != nil {
			return nil, fmt.Errorf("kubernetes: control_plane_endpoint: %w", err)
		}
	} else if s.cpPlacement == "mesos" {
		name, err := mesosDNSName(c.Stack, c.Name)
		if err != nil {
			return nil, err
		}
		s.endpoint = net.JoinHostPort(name, strconv.Itoa(apiServerPort))
	} else {
		first, ok := firstMember(c.Members[ControlPlane])
		if !ok {
			return nil, fmt.Errorf("kubernetes: layer %q has no control-plane members to derive control_plane_endpoint from", c.Name)
		}
		s.endpoint = net.JoinHostPort(first.Host(), strconv.Itoa(apiServerPort))
	}
	return s, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// firstMember is the member with index 0 (the one that runs kubeadm init),
// whatever order the members came in.
func firstMember(ms []layers.Member) (layers.Member, bool) {
	for _, m := range ms {
		if m.Index == 0 {
			return m, true
		}
	}
	return layers.Member{}, false
}

// hostPort accepts host, host:port, [v6] or [v6]:port.
func hostPort(ep string) (string, error) {
	if h, p, err := net.SplitHostPort(ep); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || h == "" {
			return "", fmt.Errorf("%q: want host[:port] with a port in 1-65535", ep)
		}
		return ep, nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(ep, "["), "]")
	if h == "" || strings.ContainsAny(h, " /") {
		return "", fmt.Errorf("%q: want host[:port]", ep)
	}
	return net.JoinHostPort(h, strconv.Itoa(apiServerPort)), nil
}

func (s *settings) endpointHost() string {
	h, _, _ := net.SplitHostPort(s.endpoint)
	return h
}

// pkgVersion is the pkgs.k8s.io package version of the layer version.
func (s *settings) pkgVersion() string { return s.version + "-1.1" }

func (s *settings) repoURL() string {
	return "https://pkgs.k8s.io/core:/stable:/" + s.stream + "/deb/"
}

func flannelURL() string {
	return "https://github.com/flannel-io/flannel/releases/download/" + flannelVersion + "/kube-flannel.yml"
}

// cniScript fetches the CNI manifest with its network set to pod_cidr and
// applies it; "" when cni is none.
func (s *settings) cniScript() string {
	if s.cni != "flannel" {
		return ""
	}
	// Double quotes only: the script also goes into a systemd ExecStart=.
	sed := ""
	if s.podCIDR != flannelNetwork {
		sed = fmt.Sprintf(" | sed \"s#%s#%s#g\"", flannelNetwork, s.podCIDR)
	}
	return "curl -fsSL --retry 5 " + flannelURL() + sed + " | kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f -"
}

func checkRole(role string) error {
	if _, ok := layers.RoleOf(New(), role); !ok {
		return fmt.Errorf("kubernetes: unknown role %q (roles: %s, %s)", role, ControlPlane, Worker)
	}
	return nil
}

// RenderHosted implements layers.Layer.
func (l *Layer) RenderHosted(ctx context.Context, h layers.Hosted) ([]layers.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkRole(h.Role); err != nil {
		return nil, err
	}
	r, _ := layers.RoleOf(l, h.Role)
	if h.HostKind == layers.Pool || !r.Allows(h.HostKind) {
		return nil, fmt.Errorf("kubernetes: role %q cannot be placed on a %s layer; place it on a pool or a mesos layer", h.Role, h.HostKind)
	}
	if h.Count < 0 {
		return nil, fmt.Errorf("kubernetes: role %q: count %d is negative", h.Role, h.Count)
	}
	c := h.Cluster
	if h.Role == ControlPlane {
		// This render is where the control plane goes, whatever the map says.
		c.Placements = map[string]string{ControlPlane: h.HostKind}
	}
	s, err := newSettings(c)
	if err != nil {
		return nil, err
	}
	k, err := deriveKeys(h.Secrets, h.Name)
	if err != nil {
		return nil, err
	}
	return renderOnMesos(s, k, h)
}

package mesos

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/schema"
)

// Pinned defaults.
const (
	Kind                 = "mesos"
	DefaultVersion       = "1.11.0"
	DefaultImageRepo     = "mesos/mesos-centos" // tagged <version> by the Mesos project
	DefaultMarathonImage = "mesosphere/marathon:v1.11.24"
	DefaultZooKeeper     = "zookeeper:3.9.3"
	// The image-run agent needs a Docker CLI that runs on CentOS 7; the
	// static build does.
	dockerCLIURL = "https://download.docker.com/linux/static/stable/x86_64/docker-27.5.1.tgz"
)

// Role names.
const (
	RoleMaster = "master"
	RoleAgent  = "agent"
)

// Ports and principals.
const (
	zkPort       = 2181
	zkPeerPort   = 2888
	zkElectPort  = 3888
	masterPort   = 5050
	agentPort    = 5051
	marathonPort = 8080

	agentPrincipal    = "agent"
	marathonPrincipal = "marathon"
)

// Layer is the mesos layer kind. It holds no state.
type Layer struct{}

var _ layers.Layer = (*Layer)(nil)

// New returns the mesos layer kind.
func New() *Layer { return &Layer{} }

// Kind implements layers.Layer.
func (*Layer) Kind() string { return Kind }

// DefaultVersion implements layers.Layer.
func (*Layer) DefaultVersion() string { return DefaultVersion }

// SubstrateKind implements layers.Layer: a mesos layer is not a substrate.
func (*Layer) SubstrateKind() string { return "" }

// Attrs implements layers.Layer.
func (*Layer) Attrs() []schema.Attr {
	return []schema.Attr{
		{Name: "artifact", Type: cty.String,
			Doc: "What runs Mesos: a container image reference (default " + DefaultImageRepo + ":<version>; mirror and pin your own), or an https URL of a .deb or a self-contained .tar.gz install prefix (pools only)."},
		{Name: "artifact_sha256", Type: cty.String,
			Doc: "SHA-256 of the artifact: checked after download for a package, used as the image digest (@sha256:...) for an image."},
		{Name: "marathon_image", Type: cty.String, Default: cty.StringVal(DefaultMarathonImage),
			Doc: "Marathon 1.11.x container image."},
		{Name: "zookeeper_image", Type: cty.String, Default: cty.StringVal(DefaultZooKeeper),
			Doc: "ZooKeeper image for masters hosted on kubernetes (pools use Ubuntu's zookeeperd)."},
		{Name: "agent_cpus", Type: cty.Number, Default: cty.NumberIntVal(2),
			Doc: "CPUs each agent pod gets and offers, on kubernetes."},
		{Name: "agent_memory_mb", Type: cty.Number, Default: cty.NumberIntVal(4096),
			Doc: "Memory (MiB) each agent pod gets and offers, on kubernetes."},
		{Name: "host_network", Type: cty.Bool, Default: cty.False,
			Doc: "Run agent pods on kubernetes with hostNetwork (one agent per node)."},
		{Name: "marathon_endpoint", Type: cty.String,
			Doc: "host[:port] or URL of Marathon's API; default: the first master on port 8080. Needed when the masters are hosted on another layer."},
		{Name: "task_failure_grace", Type: cty.String, Default: cty.StringVal("3m"), Check: positiveDuration,
			Doc: "How long the tasks of a role hosted on this layer may keep failing (Marathon relaunches them) before an apply gives up on the role."},
	}
}

// Roles implements layers.Layer.
func (*Layer) Roles() []layers.Role {
	on := []string{layers.Pool, "kubernetes"}
	return []layers.Role{
		{Name: RoleMaster, On: on, Spread: true, Doc: "ZooKeeper + Mesos master + Marathon; use an odd count (1, 3, 5)."},
		{Name: RoleAgent, On: on, After: []string{RoleMaster}, Doc: "Mesos agent: offers the machine's resources to frameworks."},
	}
}

// config is a layer's settings, checked and resolved.
type config struct {
	image       string // Mesos image, when the artifact is one
	pkgURL      string // package URL, when the artifact is one
	pkgKind     string // "deb" or "tar"
	sha256      string
	marathon    string
	zookeeper   string
	agentCPUs   int
	agentMemMB  int
	hostNetwork bool
}

var (
	sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)
	imageRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:@-]*$`)
)

func resolve(c layers.Cluster) (config, error) {
	s := c.Settings
	cfg := config{
		sha256:     strings.ToLower(strings.TrimPrefix(s.String("artifact_sha256"), "sha256:")),
		marathon:   s.String("marathon_image"),
		zookeeper:  s.String("zookeeper_image"),
		agentCPUs:  s.Int("agent_cpus"),
		agentMemMB: s.Int("agent_memory_mb"),
	}
	if v, ok := s.Attrs["host_network"]; ok && v.IsKnown() && !v.IsNull() && v.Type() == cty.Bool {
		cfg.hostNetwork = v.True()
	}
	if cfg.marathon == "" {
		cfg.marathon = DefaultMarathonImage
	}
	if cfg.zookeeper == "" {
		cfg.zookeeper = DefaultZooKeeper
	}
	if cfg.agentCPUs <= 0 {
		cfg.agentCPUs = 2
	}
	if cfg.agentMemMB <= 0 {
		cfg.agentMemMB = 4096
	}
	if cfg.sha256 != "" && !sha256Re.MatchString(cfg.sha256) {
		return config{}, fmt.Errorf("mesos: artifact_sha256 must be 64 hex digits")
	}
	art := s.String("artifact")
	switch {
	case art == "":
		version := c.Version
		if version == "" {
			version = DefaultVersion
		}
		cfg.image = DefaultImageRepo + ":" + version
	case strings.HasPrefix(art, "https://") || strings.HasPrefix(art, "http://"):
		cfg.pkgURL = art
		path := strings.SplitN(art, "?", 2)[0]
		switch {
		case strings.HasSuffix(path, ".deb"):
			cfg.pkgKind = "deb"
		case strings.HasSuffix(path, ".tar.gz"), strings.HasSuffix(path, ".tgz"):
			cfg.pkgKind = "tar"
		default:
			return config{}, fmt.Errorf("mesos: artifact URL %q is neither a .deb nor a .tar.gz", art)
		}
		if strings.ContainsAny(art, " '\"\\$`") {
			return config{}, fmt.Errorf("mesos: artifact URL %q has characters a shell would interpret", art)
		}
	default:
		if !imageRe.MatchString(art) {
			return config{}, fmt.Errorf("mesos: artifact %q is not a container image reference or an http(s) URL", art)
		}
		cfg.image = art
	}
	if cfg.image != "" && cfg.sha256 != "" && !strings.Contains(cfg.image, "@") {
		cfg.image += "@sha256:" + cfg.sha256
	}
	for _, img := range []string{cfg.marathon, cfg.zookeeper} {
		if !imageRe.MatchString(img) {
			return config{}, fmt.Errorf("mesos: %q is not a container image reference", img)
		}
	}
	return cfg, nil
}

// checkPlacement finds a role and checks it may go on placement.
func checkPlacement(role, placement string) error {
	r, ok := layers.RoleOf(New(), role)
	if !ok {
		return fmt.Errorf("mesos: unknown role %q (roles: master, agent)", role)
	}
	if !r.Allows(placement) {
		return fmt.Errorf("mesos: role %q cannot be placed on %q (allowed: %s)", role, placement, strings.Join(r.On, ", "))
	}
	return nil
}

// Per-layer secrets: the purpose names the layer, so two mesos layers of
// one stack never share credentials.
func agentSecret(c layers.Cluster) string {
	return c.Secrets.Token("mesos/"+c.Name+"/agent-secret", 32)
}

func marathonSecret(c layers.Cluster) string {
	return c.Secrets.Token("mesos/"+c.Name+"/marathon-secret", 32)
}

type credential struct {
	Principal string `json:"principal"`
	Secret    string `json:"secret"`
}

// mastersCredentials is the master's --credentials file: every principal
// allowed to register (the agents and Marathon).
func mastersCredentials(c layers.Cluster) string {
	b, _ := json.MarshalIndent(struct {
		Credentials []credential `json:"credentials"`
	}{[]credential{
		{agentPrincipal, agentSecret(c)},
		{marathonPrincipal, marathonSecret(c)},
	}}, "", "  ")
	return string(b) + "\n"
}

// agentCredential is the agent's --credential file.
func agentCredential(c layers.Cluster) string {
	b, _ := json.MarshalIndent(credential{agentPrincipal, agentSecret(c)}, "", "  ")
	return string(b) + "\n"
}

// quorum is the replicated log's quorum: a strict majority of masters.
func quorum(masters int) int { return masters/2 + 1 }

// zkURL is a zk:// URL for path over hosts.
func zkURL(hosts []string, path string) string {
	parts := make([]string, len(hosts))
	for i, h := range hosts {
		parts[i] = fmt.Sprintf("%s:%d", h, zkPort)
	}
	return "zk://" + strings.Join(parts, ",") + path
}

// memberHosts lists where each master is reached from a machine.
func memberHosts(ms []layers.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Host()
	}
	return out
}

// clusterName is what Mesos shows as --cluster.
func clusterName(c layers.Cluster) string { return c.Stack + "-" + c.Name }

// positiveDuration checks a Go duration such as "90s" or "3m".
func positiveDuration(v cty.Value) error {
	d, err := time.ParseDuration(v.AsString())
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration; write e.g. \"90s\" or \"3m\"", v.AsString())
	}
	return nil
}

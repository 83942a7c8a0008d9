package marathon

import (
	"fmt"
	"regexp"
	"strings"
)

// Group is a Marathon group (POST /v2/groups).
type Group struct {
	ID     string   `json:"id"`
	Apps   []App    `json:"apps,omitempty"`
	Groups []Group  `json:"groups,omitempty"`
	Deps   []string `json:"dependencies,omitempty"`
}

// App is a Marathon application (POST /v2/apps).
type App struct {
	ID                    string            `json:"id"`
	Cmd                   string            `json:"cmd,omitempty"`
	Args                  []string          `json:"args,omitempty"`
	CPUs                  float64           `json:"cpus"`
	Mem                   float64           `json:"mem"`
	Disk                  float64           `json:"disk,omitempty"`
	Instances             int               `json:"instances"`
	Container             *Container        `json:"container,omitempty"`
	Env                   map[string]any    `json:"env,omitempty"`
	Secrets               map[string]Secret `json:"secrets,omitempty"`
	Labels                map[string]string `json:"labels,omitempty"`
	Constraints           [][]string        `json:"constraints,omitempty"`
	Networks              []Network         `json:"networks,omitempty"`
	HealthChecks          []HealthCheck     `json:"healthChecks,omitempty"`
	Dependencies          []string          `json:"dependencies,omitempty"`
	UpgradeStrategy       *UpgradeStrategy  `json:"upgradeStrategy,omitempty"`
	UnreachableStrategy   string            `json:"unreachableStrategy,omitempty"`
	KillSelection         string            `json:"killSelection,omitempty"`
	RequirePorts          bool              `json:"requirePorts,omitempty"`
	BackoffSeconds        int               `json:"backoffSeconds,omitempty"` // whole seconds: the contract says int32
	MaxLaunchDelaySeconds int               `json:"maxLaunchDelaySeconds,omitempty"`
}

// Container runs the app in an image.
type Container struct {
	Type         string        `json:"type"` // MESOS or DOCKER
	Docker       *Docker       `json:"docker,omitempty"`
	Volumes      []Volume      `json:"volumes,omitempty"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
}

// Docker is the image to run.
type Docker struct {
	Image          string      `json:"image"`
	Privileged     bool        `json:"privileged,omitempty"`
	ForcePullImage bool        `json:"forcePullImage,omitempty"`
	Parameters     []Parameter `json:"parameters,omitempty"`
}

// Parameter is a docker run option (Docker containerizer only).
type Parameter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Volume is a host path or persistent volume mount.
type Volume struct {
	ContainerPath string      `json:"containerPath"`
	HostPath      string      `json:"hostPath,omitempty"`
	Mode          string      `json:"mode"` // RO or RW
	Persistent    *Persistent `json:"persistent,omitempty"`
}

// Persistent is a local persistent volume.
type Persistent struct {
	Size int `json:"size"` // MiB
}

// PortMapping maps a container port.
type PortMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol,omitempty"`
	Name          string `json:"name,omitempty"`
}

// Network is the app's network mode.
type Network struct {
	Mode string `json:"mode"` // host, container/bridge, container
	Name string `json:"name,omitempty"`
}

// HealthCheck is how Marathon decides an instance is healthy.
type HealthCheck struct {
	Protocol               string `json:"protocol"` // MESOS_HTTP, MESOS_TCP, COMMAND
	Path                   string `json:"path,omitempty"`
	PortIndex              int    `json:"portIndex,omitempty"`
	Port                   int    `json:"port,omitempty"`
	Command                *Cmd   `json:"command,omitempty"`
	GracePeriodSeconds     int    `json:"gracePeriodSeconds,omitempty"`
	IntervalSeconds        int    `json:"intervalSeconds,omitempty"`
	TimeoutSeconds         int    `json:"timeoutSeconds,omitempty"`
	MaxConsecutiveFailures int    `json:"maxConsecutiveFailures,omitempty"`
}

// Cmd is a COMMAND health check.
type Cmd struct {
	Value string `json:"value"`
}

// Secret references a secret in Marathon's secret store.
type Secret struct {
	Source string `json:"source"`
}

// UpgradeStrategy bounds how many instances a deployment replaces at once.
type UpgradeStrategy struct {
	MinimumHealthCapacity float64 `json:"minimumHealthCapacity"`
	MaximumOverCapacity   float64 `json:"maximumOverCapacity"`
}

// Marathon path ids: slash-separated segments of lowercase letters, digits,
// dots and dashes, each starting and ending with a letter or digit.
var idSegment = regexp.MustCompile(`^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$`)

func checkID(id string) error {
	for _, seg := range strings.Split(strings.Trim(id, "/"), "/") {
		if seg != "." && seg != ".." && !idSegment.MatchString(seg) {
			return fmt.Errorf("id %q: segment %q is not a valid Marathon path id", id, seg)
		}
	}
	return nil
}

// Check reports what Marathon would refuse in an app: the rules of its
// AppValidator (id, a cmd/args or container, non-negative resources, a
// health check protocol, docker images).
func (a App) Check() error {
	if a.ID == "" {
		return fmt.Errorf("app has no id")
	}
	if err := checkID(a.ID); err != nil {
		return err
	}
	if a.Cmd != "" && len(a.Args) > 0 {
		return fmt.Errorf("app %s: cmd and args are mutually exclusive", a.ID)
	}
	if a.Cmd == "" && len(a.Args) == 0 && (a.Container == nil || a.Container.Docker == nil) {
		return fmt.Errorf("app %s: needs cmd, args, or a container image", a.ID)
	}
	if a.CPUs <= 0 || a.Mem <= 0 || a.Disk < 0 || a.Instances < 0 {
		return fmt.Errorf("app %s: cpus and mem must be positive, disk and instances non-negative", a.ID)
	}
	if c := a.Container; c != nil {
		if c.Type != "MESOS" && c.Type != "DOCKER" {
			return fmt.Errorf("app %s: container type %q is neither MESOS nor DOCKER", a.ID, c.Type)
		}
		if c.Docker != nil && c.Docker.Image == "" {
			return fmt.Errorf("app %s: container image is empty", a.ID)
		}
		if c.Type == "MESOS" && c.Docker != nil && len(c.Docker.Parameters) > 0 {
			return fmt.Errorf("app %s: docker parameters need the DOCKER containerizer", a.ID)
		}
		for _, v := range c.Volumes {
			if v.ContainerPath == "" || (v.Mode != "RO" && v.Mode != "RW") {
				return fmt.Errorf("app %s: volume needs containerPath and mode RO|RW", a.ID)
			}
		}
	}
	for _, h := range a.HealthChecks {
		switch h.Protocol {
		case "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP", "HTTP", "HTTPS", "TCP":
		case "COMMAND":
			if h.Command == nil || h.Command.Value == "" {
				return fmt.Errorf("app %s: COMMAND health check without a command", a.ID)
			}
		default:
			return fmt.Errorf("app %s: unknown health check protocol %q", a.ID, h.Protocol)
		}
	}
	for _, n := range a.Networks {
		switch n.Mode {
		case "host", "container/bridge", "container":
		default:
			return fmt.Errorf("app %s: unknown network mode %q", a.ID, n.Mode)
		}
	}
	for name, s := range a.Secrets {
		if s.Source == "" {
			return fmt.Errorf("app %s: secret %q has no source", a.ID, name)
		}
	}
	return nil
}

// Check validates a group and everything in it; app ids must sit under the
// group's id.
func (g Group) Check() error {
	if err := checkID(g.ID); err != nil {
		return err
	}
	for _, a := range g.Apps {
		if err := a.Check(); err != nil {
			return err
		}
		if strings.HasPrefix(a.ID, "/") && !strings.HasPrefix(a.ID, strings.TrimSuffix(g.ID, "/")+"/") {
			return fmt.Errorf("app %s is not under group %s", a.ID, g.ID)
		}
	}
	for _, sub := range g.Groups {
		if err := sub.Check(); err != nil {
			return err
		}
	}
	return nil
}

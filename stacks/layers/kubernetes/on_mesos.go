package kubernetes

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/marathon"
)

// On mesos every Kubernetes node is a kind-style node container: systemd,
// containerd, kubelet and kubeadm in one privileged container with the
// agent's network. The component images (registry.k8s.io/etcd,
// kube-apiserver, ...) are distroless, so they cannot be handed their
// certificate files by Marathon alone; kubeadm inside the node writes
// them and runs the components as static pods instead.

// mesosDNSName is the Mesos-DNS name of the control-plane init app
// (/STACK/LAYER/control-plane/init): Mesos-DNS joins an app id's segments
// in reverse with dashes.
func mesosDNSName(stack, layer string) (string, error) {
	label := strings.Join([]string{"init", ControlPlane, layer, stack}, "-")
	if len(label) > 63 {
		return "", fmt.Errorf("kubernetes: the Mesos-DNS name of layer %q's control plane, %s.marathon.mesos, has a label over 63 characters; set control_plane_endpoint", layer, label)
	}
	return label + ".marathon.mesos", nil
}

// hostFile is one file the node container writes before systemd starts.
type hostFile struct {
	path, mode, content string
}

const (
	kubeletHealthPort = 10248
	kubeletPort       = 10250
)

// kubeadmService runs kubeadm once systemd is up in the node container;
// exec holds its ExecStart= lines, each ending in a newline.
func kubeadmService(what, exec string) string {
	return `[Unit]
Description=strata: kubeadm ` + what + `
Wants=containerd.service
After=containerd.service
ConditionPathExists=!/etc/kubernetes/kubelet.conf

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/sysctl -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
` + exec + `
[Install]
WantedBy=multi-user.target
`
}

// nodeCmd writes the files (base64 in STRATA_FILE_n, so multi-line content
// survives Docker's env handling), enables the units and hands over to
// kind's entrypoint, which boots systemd.
func nodeCmd(files []hostFile, units []string) (string, map[string]any) {
	env := map[string]any{}
	lines := []string{
		"set -eu",
		"umask 077",
		// One node per agent: a second kubelet would share its ports.
		fmt.Sprintf("if timeout 3 bash -c ': </dev/tcp/127.0.0.1/%d' 2>/dev/null; then echo 'strata: a kubelet already runs on this agent' >&2; exit 1; fi", kubeletPort),
		`put() { mkdir -p "$(dirname "$2")"; printf '%s' "$1" | base64 -d >"$2"; chmod "$3" "$2"; }`,
	}
	var names []string
	for i, f := range files {
		name := fmt.Sprintf("STRATA_FILE_%d", i)
		names = append(names, name)
		env[name] = base64.StdEncoding.EncodeToString([]byte(f.content))
		lines = append(lines, fmt.Sprintf(`put "$%s" %s %s`, name, f.path, f.mode))
	}
	lines = append(lines,
		// The agent's real resolvers, not a loopback stub pods cannot reach.
		"if [ -s /kind/host-resolve/resolv.conf ]; then cp /kind/host-resolve/resolv.conf /kind/resolv.conf; else cp /etc/resolv.conf /kind/resolv.conf; fi",
		"chmod 0644 /kind/resolv.conf",
	)
	for _, u := range units {
		dir := "/etc/systemd/system/" + u[:strings.Index(u, "/")]
		lines = append(lines, fmt.Sprintf("mkdir -p %s && ln -sf /etc/systemd/system/%s %s/", dir, path.Base(u), dir))
	}
	lines = append(lines,
		"unset "+strings.Join(names, " "),
		"exec /usr/local/bin/entrypoint /sbin/init",
	)
	return strings.Join(lines, "\n"), env
}

// nodeApp is the Marathon app of one kind of node.
func nodeApp(s *settings, id, role string, instances int, files []hostFile, units []string) marathon.App {
	cmd, env := nodeCmd(files, units)
	hc := marathon.HealthCheck{Protocol: "MESOS_HTTP", Path: "/healthz", Port: kubeletHealthPort}
	cpus, mem, disk := 2.0, 4096.0, 20480.0
	if role == ControlPlane {
		hc = marathon.HealthCheck{Protocol: "MESOS_TCP", Port: apiServerPort}
		disk = 10240
	}
	// Image pulls and kubeadm take minutes; a node that never gets healthy
	// is replaced by a fresh one.
	hc.GracePeriodSeconds, hc.IntervalSeconds, hc.TimeoutSeconds, hc.MaxConsecutiveFailures = 900, 30, 10, 5
	return marathon.App{
		ID:        id,
		Cmd:       cmd,
		CPUs:      cpus,
		Mem:       mem,
		Disk:      disk,
		Instances: instances,
		Container: &marathon.Container{
			Type: "DOCKER",
			Docker: &marathon.Docker{
				Image:      s.nodeImage,
				Privileged: true,
				// What kind gives its node containers.
				Parameters: []marathon.Parameter{
					{Key: "cgroupns", Value: "private"},
					{Key: "security-opt", Value: "seccomp=unconfined"},
					{Key: "security-opt", Value: "apparmor=unconfined"},
					{Key: "tmpfs", Value: "/tmp"},
					{Key: "tmpfs", Value: "/run"},
					// containerd's overlayfs cannot sit on the container's overlay.
					{Key: "volume", Value: "/var"},
				},
			},
			Volumes: []marathon.Volume{
				{ContainerPath: "/lib/modules", HostPath: "/lib/modules", Mode: "RO"},
				{ContainerPath: "/kind/host-resolve", HostPath: "/run/systemd/resolve", Mode: "RO"},
			},
		},
		Env:             env,
		Labels:          s.c.Labels(role),
		Constraints:     [][]string{{"hostname", "UNIQUE"}},
		Networks:        []marathon.Network{{Mode: "host"}},
		HealthChecks:    []marathon.HealthCheck{hc},
		UpgradeStrategy: &marathon.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0},
		BackoffSeconds:  30,
	}
}

func renderOnMesos(s *settings, k *keys, h layers.Hosted) ([]layers.Object, error) {
	base := "/" + h.Stack + "/" + h.Name
	kn := node{kindNode: true}
	patch := hostFile{kindPatchDir + "/kubeletconfiguration+merge.yaml", "0644", kubeletPatch}
	joinService := kubeadmService("join this node", "ExecStart=/usr/bin/kubeadm join --config "+joinConfigPath+"\n")
	var (
		obj  any
		kind string
		id   string
	)
	switch h.Role {
	case ControlPlane:
		if h.Count < 1 {
			return nil, fmt.Errorf("kubernetes: role %q needs at least one instance", h.Role)
		}
		initConf, err := s.initConfig(k, kn)
		if err != nil {
			return nil, err
		}
		caCert, err := k.caCertPEM(h.Secrets, h.Name)
		if err != nil {
			return nil, err
		}
		exec := "ExecStart=/usr/bin/kubeadm init --config " + initConfigPath + " --upload-certs\n"
		if sh := s.cniScript(); sh != "" {
			exec += "ExecStart=/bin/sh -c '" + sh + "'\n"
		}
		id = base + "/" + ControlPlane
		g := marathon.Group{ID: id}
		initApp := nodeApp(s, id+"/init", ControlPlane, 1, []hostFile{
			{initConfigPath, "0600", initConf},
			{caKeyPath, "0600", k.caKeyPEM},
			{caCertPath, "0644", caCert},
			patch,
			{"/etc/systemd/system/strata-kubeadm.service", "0644", kubeadmService("init the cluster (first control plane)", exec)},
			{"/etc/systemd/system/strata-upload-certs.service", "0644", uploadCertsService},
			{"/etc/systemd/system/strata-upload-certs.timer", "0644", uploadCertsTimer},
		}, []string{"multi-user.target.wants/strata-kubeadm.service", "timers.target.wants/strata-upload-certs.timer"})
		initApp.UpgradeStrategy = &marathon.UpgradeStrategy{MinimumHealthCapacity: 0, MaximumOverCapacity: 0}
		g.Apps = append(g.Apps, initApp)
		if h.Count > 1 {
			joinConf, err := s.joinConfig(k, kn, true)
			if err != nil {
				return nil, err
			}
			joinApp := nodeApp(s, id+"/join", ControlPlane, h.Count-1, []hostFile{
				{joinConfigPath, "0600", joinConf},
				patch,
				{"/etc/systemd/system/strata-kubeadm.service", "0644", joinService},
			}, []string{"multi-user.target.wants/strata-kubeadm.service"})
			joinApp.Dependencies = []string{id + "/init"}
			g.Apps = append(g.Apps, joinApp)
		}
		obj, kind = g, "group"
	case Worker:
		joinConf, err := s.joinConfig(k, kn, false)
		if err != nil {
			return nil, err
		}
		id = base + "/" + Worker
		obj, kind = nodeApp(s, id, Worker, h.Count, []hostFile{
			{joinConfigPath, "0600", joinConf},
			patch,
			{"/etc/systemd/system/strata-kubeadm.service", "0644", joinService},
		}, []string{"multi-user.target.wants/strata-kubeadm.service"}), "app"
	}
	// Shell text stays readable: no \u003c for every redirection.
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	// Every node app carries the bootstrap token in its environment.
	return []layers.Object{{Format: "marathon", Kind: kind, Name: id, Body: body.Bytes(), Sensitive: true}}, nil
}

package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/cloudinit"
)

const (
	initConfigPath = "/etc/kubernetes/kubeadm-init.yaml"
	joinConfigPath = "/etc/kubernetes/kubeadm-join.yaml"
	caKeyPath      = "/etc/kubernetes/pki/ca.key"
	caCertPath     = "/etc/kubernetes/pki/ca.crt"
	keyringPath    = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"
)

// containerdConfig is a version 2 config (containerd 2.x migrates it): the
// CRI's runc with systemd cgroups, matching the kubelet's cgroupDriver.
const containerdConfig = `# strata: containerd for the kubelet (CRI); runc uses systemd cgroups like the kubelet.
version = 2

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
`

// uploadCertsService and uploadCertsTimer keep the kubeadm-certs Secret alive: kubeadm lets it
// expire after two hours, after which no control plane could join.
const uploadCertsService = `[Unit]
Description=strata: re-upload the kubeadm control-plane certificates so control planes can join later
After=kubelet.service
ConditionPathExists=/etc/kubernetes/admin.conf

[Service]
Type=oneshot
ExecStart=/usr/bin/kubeadm init phase upload-certs --upload-certs --config ` + initConfigPath + `
`

const uploadCertsTimer = `[Unit]
Description=strata: re-upload the kubeadm control-plane certificates hourly (they expire after two hours)

[Timer]
OnActiveSec=1h
OnUnitActiveSec=1h

[Install]
WantedBy=timers.target
`

// marker is /etc/strata/node.json: who this machine is.
type marker struct {
	Stack   string `json:"stack"`
	Layer   string `json:"layer"`
	Kind    string `json:"kind"`
	Role    string `json:"role"`
	Index   int    `json:"index"`
	Machine string `json:"machine"`
	Version string `json:"version"`
}

// RenderNode implements layers.Layer.
func (l *Layer) RenderNode(ctx context.Context, n layers.Node) (layers.Bootstrap, error) {
	if err := ctx.Err(); err != nil {
		return layers.Bootstrap{}, err
	}
	if err := checkRole(n.Role); err != nil {
		return layers.Bootstrap{}, err
	}
	s, err := newSettings(n.Cluster)
	if err != nil {
		return layers.Bootstrap{}, err
	}
	k, err := deriveKeys(n.Secrets, n.Name)
	if err != nil {
		return layers.Bootstrap{}, err
	}
	m := n.Machine
	kn := node{name: m.Name}
	if net.ParseIP(m.Address) != nil {
		kn.advertise = m.Address
	}

	mk, err := json.MarshalIndent(marker{
		Stack: n.Stack, Layer: n.Name, Kind: l.Kind(), Role: n.Role, Index: m.Index, Machine: m.Name, Version: s.version,
	}, "", "  ")
	if err != nil {
		return layers.Bootstrap{}, err
	}
	cfg := &cloudinit.Config{
		Hostname:       m.Name,
		ManageEtcHosts: true,
		PackageUpdate:  true,
		Packages:       []string{"ca-certificates", "containerd", "curl", "gpg"},
		WriteFiles: []cloudinit.File{
			{Path: "/etc/strata/node.json", Content: string(mk) + "\n", Permissions: "0644"},
			{Path: "/etc/modules-load.d/kubernetes.conf", Content: "overlay\nbr_netfilter\n", Permissions: "0644"},
			{Path: "/etc/sysctl.d/90-kubernetes.conf", Permissions: "0644",
				Content: "net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n"},
			{Path: "/etc/crictl.yaml", Content: "runtime-endpoint: " + criSocket + "\nimage-endpoint: " + criSocket + "\n", Permissions: "0644"},
			// Deferred: written after the packages are installed, so they
			// replace what the containerd package ships, and so apt does not
			// see the repository before its key is fetched.
			{Path: "/etc/containerd/config.toml", Content: containerdConfig, Permissions: "0644", Defer: true},
			{Path: "/etc/apt/sources.list.d/kubernetes.sources", Permissions: "0644", Defer: true,
				Content: "Types: deb\nURIs: " + s.repoURL() + "\nSuites: /\nSigned-By: " + keyringPath + "\n"},
		},
		Runcmd: [][]string{
			{"modprobe", "overlay"},
			{"modprobe", "br_netfilter"},
			{"sysctl", "--system"},
			// The kubelet refuses to run with swap on.
			{"swapoff", "-a"},
			{"sed", "-ri", `/^[^#]\S*\s+\S+\s+swap\s/s/^/#/`, "/etc/fstab"},
			{"systemctl", "restart", "containerd"},
			{"install", "-d", "-m", "0755", "/etc/apt/keyrings"},
			cloudinit.Sh("curl -fsSL --retry 5 " + s.repoURL() + "Release.key | gpg --dearmor --yes -o " + keyringPath),
			{"apt-get", "-o", "Acquire::Retries=5", "update"},
			{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", "Acquire::Retries=5", "install", "-y",
				"kubelet=" + s.pkgVersion(), "kubeadm=" + s.pkgVersion(), "kubectl=" + s.pkgVersion()},
			{"apt-mark", "hold", "kubelet", "kubeadm", "kubectl"},
			{"systemctl", "enable", "--now", "kubelet"},
		},
		FinalMessage: fmt.Sprintf("strata: kubernetes %s %s bootstrapped after $UPTIME seconds", n.Role, m.Name),
	}
	rootKubeconfig := [][]string{
		{"install", "-d", "-m", "0700", "/root/.kube"},
		{"install", "-m", "0600", "/etc/kubernetes/admin.conf", "/root/.kube/config"},
	}

	switch {
	case n.Role == ControlPlane && m.Index == 0:
		conf, err := s.initConfig(k, kn)
		if err != nil {
			return layers.Bootstrap{}, err
		}
		caCert, err := k.caCertPEM(n.Secrets, n.Name)
		if err != nil {
			return layers.Bootstrap{}, err
		}
		cfg.WriteFiles = append(cfg.WriteFiles,
			cloudinit.File{Path: caKeyPath, Content: k.caKeyPEM, Permissions: "0600"},
			cloudinit.File{Path: caCertPath, Content: caCert, Permissions: "0644"},
			cloudinit.File{Path: initConfigPath, Content: conf, Permissions: "0600"},
			cloudinit.File{Path: "/etc/systemd/system/strata-upload-certs.service", Content: uploadCertsService, Permissions: "0644"},
			cloudinit.File{Path: "/etc/systemd/system/strata-upload-certs.timer", Content: uploadCertsTimer, Permissions: "0644"},
		)
		cfg.Runcmd = append(cfg.Runcmd,
			[]string{"kubeadm", "init", "--config", initConfigPath, "--upload-certs"},
		)
		cfg.Runcmd = append(cfg.Runcmd, rootKubeconfig...)
		if sh := s.cniScript(); sh != "" {
			cfg.Runcmd = append(cfg.Runcmd, cloudinit.Sh(sh))
		}
		cfg.Runcmd = append(cfg.Runcmd,
			[]string{"systemctl", "daemon-reload"},
			[]string{"systemctl", "enable", "--now", "strata-upload-certs.timer"},
		)
	default:
		cp := n.Role == ControlPlane
		conf, err := s.joinConfig(k, kn, cp)
		if err != nil {
			return layers.Bootstrap{}, err
		}
		cfg.WriteFiles = append(cfg.WriteFiles, cloudinit.File{Path: joinConfigPath, Content: conf, Permissions: "0600"})
		if cp && m.Index > 1 {
			// etcd admits one learner at a time: stagger control-plane joins.
			cfg.Runcmd = append(cfg.Runcmd, []string{"sleep", strconv.Itoa(90 * (m.Index - 1))})
		}
		cfg.Runcmd = append(cfg.Runcmd, []string{"kubeadm", "join", "--config", joinConfigPath})
		if cp {
			cfg.Runcmd = append(cfg.Runcmd, rootKubeconfig...)
		}
	}

	ud, err := cfg.Marshal()
	if err != nil {
		return layers.Bootstrap{}, err
	}
	// Every role carries the bootstrap token; control planes also the
	// certificate key, and control plane 0 the CA key.
	return layers.Bootstrap{Format: "cloud-config", UserData: ud, Sensitive: true}, nil
}

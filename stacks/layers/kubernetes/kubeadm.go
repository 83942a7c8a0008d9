package kubernetes

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// The subset of kubeadm.k8s.io/v1beta4 and kubelet.config.k8s.io/v1beta1
// the renderers set; field names are kubeadm's.

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

const kubeadmAPI = "kubeadm.k8s.io/v1beta4"

type bootstrapToken struct {
	Token       string   `json:"token"`
	Description string   `json:"description,omitempty"`
	TTL         string   `json:"ttl"`
	Usages      []string `json:"usages"`
	Groups      []string `json:"groups"`
}

type nodeRegistration struct {
	Name      string `json:"name,omitempty"`
	CRISocket string `json:"criSocket"`
}

type apiEndpoint struct {
	AdvertiseAddress string `json:"advertiseAddress,omitempty"`
	BindPort         int    `json:"bindPort"`
}

type patches struct {
	Directory string `json:"directory"`
}

type timeouts struct {
	Discovery string `json:"discovery,omitempty"`
}

type initConfiguration struct {
	typeMeta         `json:",inline"`
	BootstrapTokens  []bootstrapToken `json:"bootstrapTokens"`
	CertificateKey   string           `json:"certificateKey"`
	LocalAPIEndpoint apiEndpoint      `json:"localAPIEndpoint"`
	NodeRegistration nodeRegistration `json:"nodeRegistration"`
	Patches          *patches         `json:"patches,omitempty"`
	SkipPhases       []string         `json:"skipPhases,omitempty"`
}

type networking struct {
	DNSDomain     string `json:"dnsDomain"`
	PodSubnet     string `json:"podSubnet"`
	ServiceSubnet string `json:"serviceSubnet"`
}

type apiServer struct {
	CertSANs []string `json:"certSANs,omitempty"`
}

type clusterConfiguration struct {
	typeMeta             `json:",inline"`
	APIServer            apiServer  `json:"apiServer"`
	ClusterName          string     `json:"clusterName"`
	ControlPlaneEndpoint string     `json:"controlPlaneEndpoint"`
	KubernetesVersion    string     `json:"kubernetesVersion"`
	Networking           networking `json:"networking"`
}

type kubeletConfiguration struct {
	typeMeta     `json:",inline"`
	CgroupDriver string `json:"cgroupDriver"`
}

type tokenDiscovery struct {
	APIServerEndpoint string   `json:"apiServerEndpoint"`
	CACertHashes      []string `json:"caCertHashes"`
	Token             string   `json:"token"`
}

type discovery struct {
	BootstrapToken tokenDiscovery `json:"bootstrapToken"`
}

type joinControlPlane struct {
	CertificateKey   string      `json:"certificateKey"`
	LocalAPIEndpoint apiEndpoint `json:"localAPIEndpoint"`
}

type joinConfiguration struct {
	typeMeta         `json:",inline"`
	ControlPlane     *joinControlPlane `json:"controlPlane,omitempty"`
	Discovery        discovery         `json:"discovery"`
	NodeRegistration nodeRegistration  `json:"nodeRegistration"`
	Patches          *patches          `json:"patches,omitempty"`
	SkipPhases       []string          `json:"skipPhases,omitempty"`
	Timeouts         timeouts          `json:"timeouts"`
}

// node says how kubeadm sees one node.
type node struct {
	name      string // "" lets kubeadm use the hostname
	advertise string // "" lets kubeadm pick the default-route address
	// kindNode marks a kind-style node container: kubeadm's preflight
	// checks (swap, kernel config, ports of the shared host) do not apply,
	// and the kubelet gets the per-node patch kubeletPatch.
	kindNode bool
}

const kindPatchDir = "/kind/patches"

func (n node) registration() nodeRegistration {
	return nodeRegistration{Name: n.name, CRISocket: criSocket}
}

func (n node) skips() ([]string, *patches) {
	if !n.kindNode {
		return nil, nil
	}
	return []string{"preflight"}, &patches{Directory: kindPatchDir}
}

// initConfig is the kubeadm init config of control plane 0.
func (s *settings) initConfig(k *keys, n node) (string, error) {
	skip, p := n.skips()
	sans := map[string]bool{s.endpointHost(): true}
	for _, h := range s.cpHosts {
		sans[h] = true
	}
	var sanList []string
	for h := range sans {
		sanList = append(sanList, h)
	}
	sort.Strings(sanList)
	return yamlDocs(
		initConfiguration{
			typeMeta: typeMeta{kubeadmAPI, "InitConfiguration"},
			BootstrapTokens: []bootstrapToken{{
				Token:       k.token,
				Description: fmt.Sprintf("strata %s/%s: joins nodes; never expires so pools can grow", s.stack, s.layer),
				TTL:         "0s",
				Usages:      []string{"signing", "authentication"},
				Groups:      []string{"system:bootstrappers:kubeadm:default-node-token"},
			}},
			CertificateKey:   k.certKey,
			LocalAPIEndpoint: apiEndpoint{AdvertiseAddress: n.advertise, BindPort: apiServerPort},
			NodeRegistration: n.registration(),
			Patches:          p,
			SkipPhases:       skip,
		},
		clusterConfiguration{
			typeMeta:             typeMeta{kubeadmAPI, "ClusterConfiguration"},
			APIServer:            apiServer{CertSANs: sanList},
			ClusterName:          s.layer,
			ControlPlaneEndpoint: s.endpoint,
			KubernetesVersion:    "v" + s.version,
			Networking:           networking{DNSDomain: "cluster.local", PodSubnet: s.podCIDR, ServiceSubnet: s.serviceCIDR},
		},
		kubeletConfiguration{
			typeMeta:     typeMeta{"kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"},
			CgroupDriver: "systemd",
		},
	)
}

// joinConfig is the kubeadm join config of a worker, or of a further
// control plane when controlPlane is set.
func (s *settings) joinConfig(k *keys, n node, controlPlane bool) (string, error) {
	skip, p := n.skips()
	j := joinConfiguration{
		typeMeta: typeMeta{kubeadmAPI, "JoinConfiguration"},
		Discovery: discovery{BootstrapToken: tokenDiscovery{
			APIServerEndpoint: s.endpoint,
			CACertHashes:      []string{k.caHash},
			Token:             k.token,
		}},
		NodeRegistration: n.registration(),
		Patches:          p,
		SkipPhases:       skip,
		// Nodes boot together; give the first control plane time to
		// install and initialise before discovery gives up.
		Timeouts: timeouts{Discovery: "30m0s"},
	}
	if controlPlane {
		j.ControlPlane = &joinControlPlane{
			CertificateKey:   k.certKey,
			LocalAPIEndpoint: apiEndpoint{AdvertiseAddress: n.advertise, BindPort: apiServerPort},
		}
	}
	return yamlDocs(j)
}

// kubeletPatch adapts the kubelet to a node container on a shared agent
// (as kind does): swap may be on, the disk is the agent's, and DNS comes
// from the agent's real resolvers rather than a loopback stub.
const kubeletPatch = `failSwapOn: false
resolvConf: /kind/resolv.conf
imageGCHighThresholdPercent: 100
evictionHard:
  imagefs.available: 0%
  nodefs.available: 0%
  nodefs.inodesFree: 0%
`

func yamlDocs(docs ...any) (string, error) {
	var parts []string
	for _, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return "", err
		}
		parts = append(parts, string(bytes.TrimSpace(b))+"\n")
	}
	return strings.Join(parts, "---\n"), nil
}

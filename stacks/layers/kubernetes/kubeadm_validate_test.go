package kubernetes

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/kubernetes/kubetest"
	"github.com/stratastack/strata/stacks/layers/layertest"
)

// Every kubeadm configuration the layer renders — init and join, for
// machines of a pool and for nodes hosted on mesos — passes the real
// kubeadm's `kubeadm config validate` at the layer's version.
func TestKubeadmConfigValidates(t *testing.T) {
	kubeadm := filepath.Join(kubetest.BinDir(t), "kubeadm")
	sec := layertest.Secrets(t)
	configs := map[string]string{} // what -> content
	for _, tc := range []struct {
		name     string
		role     string
		index    int
		cpOn     string
		settings map[string]string
	}{
		{"pool control plane 0 (init)", ControlPlane, 0, layers.Pool, nil},
		{"pool control plane 1 (join)", ControlPlane, 1, layers.Pool, nil},
		{"pool worker (join)", Worker, 0, layers.Pool, nil},
		{"pool control plane 0, custom endpoint", ControlPlane, 0, layers.Pool, map[string]string{"control_plane_endpoint": "k8s.example.net", "pod_cidr": "192.168.0.0/16", "cni": "none"}},
		{"pool worker, control plane on mesos", Worker, 0, "mesos", nil},
	} {
		b := renderNode(t, cluster(sec, tc.cpOn, layers.Pool, tc.settings), tc.role, tc.index)
		var cc struct {
			WriteFiles []struct {
				Path, Content, Encoding string
			} `json:"write_files"`
		}
		if err := yaml.Unmarshal(b.UserData, &cc); err != nil {
			t.Fatal(err)
		}
		for _, f := range cc.WriteFiles {
			if f.Path == initConfigPath || f.Path == joinConfigPath {
				configs[tc.name+" "+filepath.Base(f.Path)] = f.Content
			}
		}
	}
	for _, role := range []string{ControlPlane, Worker} {
		for _, o := range renderHosted(t, cluster(sec, "mesos", "mesos", nil), role, 3) {
			for _, a := range apps(t, o.Body) {
				for _, m := range putRE.FindAllStringSubmatch(a.Cmd, -1) {
					if !strings.HasPrefix(filepath.Base(m[2]), "kubeadm-") {
						continue
					}
					v, _ := a.Env[m[1]].(string)
					content, err := base64.StdEncoding.DecodeString(v)
					if err != nil {
						t.Fatal(err)
					}
					configs["on mesos "+a.ID+" "+filepath.Base(m[2])] = string(content)
				}
			}
		}
	}
	if len(configs) < 7 {
		t.Fatalf("found %d kubeadm configurations, want init and join for pools and for mesos: %v", len(configs), configs)
	}
	t.Logf("validating %d kubeadm configurations", len(configs))
	dir := t.TempDir()
	for what, content := range configs {
		f := filepath.Join(dir, "kubeadm.yaml")
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(kubeadm, "config", "validate", "--config", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok") {
			t.Errorf("%s: kubeadm config validate: %v\n%s\n--- config ---\n%s", what, err, out, content)
		}
	}
}

package kubetest

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// advertiseIP is what kube-apiserver advertises. Bound to 127.0.0.1 it
// would otherwise pick the address of the default route's interface and
// refuse to start on a machine without one; nothing connects to it, since
// with --endpoint-reconciler-type=none it is never written into the
// kubernetes Service's endpoints (where a loopback address is invalid).
const advertiseIP = "10.255.0.1"

// serviceCIDR holds the Service IPs; its first address, the kubernetes
// Service's, is in the serving certificate as on a real cluster.
const serviceCIDR, kubernetesServiceIP = "10.96.0.0/16", "10.96.0.1"

// files are the paths Start writes into the cluster's folder.
type files struct {
	caCert, caKey, serveCert, serveKey, saKey, saPub string
	adminKubeconfig, controllerManagerKubeconfig     string
	kwokKubeconfig, schedulerConfig, kwokStages      string
}

func (c *Cluster) writeFiles(bin string) (*files, error) {
	p := func(name string) string { return filepath.Join(c.dir, name) }
	f := &files{
		caCert: p("ca.crt"), caKey: p("ca.key"), serveCert: p("apiserver.crt"), serveKey: p("apiserver.key"),
		saKey: p("sa.key"), saPub: p("sa.pub"), adminKubeconfig: p("admin.kubeconfig"),
		controllerManagerKubeconfig: p("controller-manager.kubeconfig"), kwokKubeconfig: p("kwok.kubeconfig"),
		schedulerConfig: p("scheduler.yaml"), kwokStages: filepath.Join(bin, "kwok-stages.yaml"),
	}
	serveCert, serveKey, err := c.ca.issue("kube-apiserver", nil,
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesServiceIP), net.ParseIP(advertiseIP)},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"})
	if err != nil {
		return nil, err
	}
	saKey, saPub, err := newServiceAccountKey()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{
		f.caCert: c.ca.certPEM, f.caKey: c.ca.keyPEM, f.serveCert: serveCert, f.serveKey: serveKey,
		f.saKey: saKey, f.saPub: saPub,
	}
	// Every component is an admin (system:masters): the test cluster has
	// no need for least privilege, and one identity each keeps logs and
	// audit readable.
	for path, user := range map[string]string{
		f.adminKubeconfig:             "kubetest-admin",
		f.controllerManagerKubeconfig: "system:kube-controller-manager",
		f.kwokKubeconfig:              "kwok",
		p("scheduler.kubeconfig"):     "system:kube-scheduler",
	} {
		if out[path], err = c.kubeconfig(user); err != nil {
			return nil, err
		}
	}
	out[f.schedulerConfig] = fmt.Appendf(nil, `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
leaderElection:
  leaderElect: false
`, p("scheduler.kubeconfig"))
	for path, data := range out {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// kubeconfig is a kubeconfig for user in system:masters.
func (c *Cluster) kubeconfig(user string) ([]byte, error) {
	certPEM, keyPEM, err := c.ca.issue(user, []string{"system:masters"}, nil, nil)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: https://%s
    certificate-authority-data: %s
users:
- name: %q
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: kubetest
  context:
    cluster: kubetest
    user: %q
current-context: kubetest
`, c.Endpoint, b64(c.ca.certPEM), user, b64(certPEM), b64(keyPEM), user), nil
}

func etcdArgs(dir string, port, peerPort int) []string {
	client := fmt.Sprintf("http://127.0.0.1:%d", port)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	return []string{
		"--name=kubetest", "--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=kubetest=" + peer, "--log-level=warn",
		"--unsafe-no-fsync=true", // a throwaway store: durability only costs time
	}
}

func apiserverArgs(f *files, etcdPort, port int) []string {
	return []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--advertise-address=" + advertiseIP, "--endpoint-reconciler-type=none",
		"--tls-cert-file=" + f.serveCert, "--tls-private-key-file=" + f.serveKey,
		"--client-ca-file=" + f.caCert, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + f.saPub, "--service-account-signing-key-file=" + f.saKey,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allow-privileged=true", // host code may run privileged DaemonSets (CNI, kube-proxy)
		"--cert-dir=" + filepath.Join(filepath.Dir(f.caCert), "certs"),
		"--profiling=false",
	}
}

func controllerManagerArgs(f *files) []string {
	return []string{
		"--kubeconfig=" + f.controllerManagerKubeconfig,
		"--leader-elect=false", // one instance: do not wait for a lease
		"--secure-port=0",      // no health endpoint needed: one port fewer
		"--service-account-private-key-file=" + f.saKey, "--root-ca-file=" + f.caCert,
		// CSRs are signed by the cluster CA, as kubeadm sets it up
		"--cluster-signing-cert-file=" + f.caCert, "--cluster-signing-key-file=" + f.caKey,
	}
}

func kwokArgs(f *files) []string {
	return []string{
		"--kubeconfig=" + f.kwokKubeconfig,
		"--config=" + f.kwokStages, // a bare kwok has no stages: nothing would become Ready
		"--manage-all-nodes=true",
		// kwok renews the nodes' leases, so the node lifecycle controller
		// keeps them Ready (its heartbeat stage is then every 10 minutes)
		"--node-lease-duration-seconds=40",
		"--node-ip=127.0.0.1", "--cidr=10.0.0.0/16",
		// no --server-address: kwok serves no kubelet API (logs, exec) and
		// listens nowhere
	}
}

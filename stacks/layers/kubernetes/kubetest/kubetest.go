package kubetest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Version is the Kubernetes version the cluster runs.
const Version = "v1.37.2"

// readyTimeout bounds each wait of Start (a busy 2-core machine needs
// about a tenth of it).
const readyTimeout = 2 * time.Minute

// Options shape the cluster Start brings up.
type Options struct {
	// CACertPEM and CAKeyPEM, when set, are the cluster CA: the serving
	// certificate and every component's client certificate are signed by
	// it and it is the client CA, so a client holding a certificate it
	// signed with O=system:masters is an admin. The key may be PKCS#8,
	// PKCS#1 or SEC 1. Unset, Start makes a CA of its own.
	CACertPEM, CAKeyPEM []byte
	// Nodes are the kwok nodes to create; Start returns once all are
	// Ready and schedulable. Default: one, "kwok-0".
	Nodes []string
}

// Cluster is a running control plane. Its processes stop in t.Cleanup.
type Cluster struct {
	Endpoint   string // "127.0.0.1:PORT" of kube-apiserver (HTTPS)
	CACertPEM  []byte // the cluster CA, which also signs the serving certificate
	Kubeconfig string // path of an admin kubeconfig
	RestConfig *rest.Config
	Client     kubernetes.Interface // an admin client from RestConfig
	Nodes      []string             // the kwok nodes

	dir   string
	ca    *authority
	procs []*proc // in start order
	once  sync.Once
}

// Start brings up etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok on 127.0.0.1, creates o.Nodes, and returns once
// the API is ready, every node is Ready and untainted, and the default
// service account exists. Failures end the test (t.Fatal); missing
// binaries skip it unless STRATA_REQUIRE_KUBE is set.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	bin := BinDir(t)
	// TempDir first: cleanups run last-registered first, so the processes
	// stop before their folder is removed.
	dir := t.TempDir()
	c, err := Launch(bin, dir, o, t.Logf)
	if c != nil {
		t.Cleanup(func() {
			if t.Failed() {
				t.Log(c.Logs())
			}
			c.Stop()
		})
	}
	if err != nil {
		if c != nil {
			t.Log(c.Logs())
		}
		t.Fatalf("kubetest: %v", err)
	}
	return c
}

// Launch is Start for a program (strata sim kubernetes): the binaries in
// bin, the cluster's files and logs in dir, progress to logf. On error
// the returned Cluster, when not nil, holds what started: Stop it.
func Launch(bin, dir string, o Options, logf func(format string, args ...any)) (*Cluster, error) {
	began := time.Now()
	c := &Cluster{dir: dir, Nodes: o.Nodes}
	if len(c.Nodes) == 0 {
		c.Nodes = []string{"kwok-0"}
	}
	var err error
	if len(o.CACertPEM) > 0 || len(o.CAKeyPEM) > 0 {
		c.ca, err = parseAuthority(o.CACertPEM, o.CAKeyPEM)
	} else {
		c.ca, err = newAuthority()
	}
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	c.CACertPEM = c.ca.certPEM
	ports, err := freePorts(3)
	if err != nil {
		return nil, fmt.Errorf("free ports: %w", err)
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	c.Endpoint = fmt.Sprintf("127.0.0.1:%d", apiPort)
	f, err := c.writeFiles(bin)
	if err != nil {
		return nil, err
	}
	c.Kubeconfig = f.adminKubeconfig
	if c.RestConfig, err = c.UserConfig("kubetest-admin", "system:masters"); err != nil {
		return nil, err
	}
	if c.Client, err = kubernetes.NewForConfig(c.RestConfig); err != nil {
		return nil, err
	}

	steps := []func() error{
		func() error { return c.start(bin, "etcd", etcdArgs(c.dir, etcdPort, peerPort)...) },
		func() error {
			return c.waitFor("etcd health", func(ctx context.Context) (bool, error) { return etcdHealthy(ctx, etcdPort) })
		},
		func() error { return c.start(bin, "kube-apiserver", apiserverArgs(f, etcdPort, apiPort)...) },
		func() error { return c.waitFor("kube-apiserver /readyz", c.apiReady) },
		func() error {
			logf("kubetest: kube-apiserver %s ready at %s %s after Start", Version, c.Endpoint, time.Since(began).Round(time.Millisecond))
			return c.start(bin, "kube-controller-manager", controllerManagerArgs(f)...)
		},
		func() error { return c.start(bin, "kube-scheduler", "--config="+f.schedulerConfig, "--secure-port=0") },
		func() error { return c.start(bin, "kwok", kwokArgs(f)...) },
		c.createNodes,
		func() error { return c.waitFor("nodes Ready and schedulable", c.nodesReady) },
		func() error { return c.waitFor("service account default/default", c.defaultServiceAccount) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return c, err
		}
	}
	logf("kubetest: cluster with %d kwok node(s) ready %s after Start", len(c.Nodes), time.Since(began).Round(time.Millisecond))
	return c, nil
}

// BinDir is the folder of the binaries build.sh makes. When one is
// missing it fails the test if STRATA_REQUIRE_KUBE is set, and skips it
// otherwise.
func BinDir(t testing.TB) string {
	t.Helper()
	dir, err := Bins()
	if err != nil {
		if os.Getenv("STRATA_REQUIRE_KUBE") != "" {
			t.Fatal(err.Error() + " (STRATA_REQUIRE_KUBE is set)")
		}
		t.Skip(err.Error())
	}
	return dir
}

// Bins is the folder of the binaries build.sh makes ($STRATA_KUBE_BIN,
// else the versioned cache folder), or an error saying how to build them.
func Bins() (string, error) {
	dir := os.Getenv("STRATA_KUBE_BIN")
	if dir == "" {
		cache, err := os.UserCacheDir() // $XDG_CACHE_HOME or ~/.cache, as build.sh
		if err != nil {
			return "", err
		}
		dir = filepath.Join(cache, "strata", "kube-"+Version)
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "kwok-stages.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("no Kubernetes test binaries (%v): build them with `bash acceptance/kube/build.sh` "+
				"(make kube-deps; make test does), or set STRATA_KUBE_BIN to their folder", err)
		}
	}
	return dir, nil
}

// UserConfig is a client configuration for user, in groups, with a
// certificate the cluster CA signed for it.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	certPEM, keyPEM, err := c.ca.issue(user, groups, nil, nil)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host: "https://" + c.Endpoint,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: c.CACertPEM, CertData: certPEM, KeyData: keyPEM,
		},
		// client-go's default (5/s) would slow tests that create many objects
		QPS: 100, Burst: 200,
	}, nil
}

// Stop stops every process Start started, clients before servers, each by
// its process group: SIGTERM, then SIGKILL after a few seconds. It is safe
// to call more than once; t.Cleanup calls it.
func (c *Cluster) Stop() {
	c.once.Do(func() {
		for i := len(c.procs) - 1; i >= 0; i-- {
			c.procs[i].stop(5 * time.Second)
		}
	})
}

// Logs is the end of every process's log, for a failing test.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, p := range c.procs {
		fmt.Fprintf(&b, "==== %s (%s)\n%s\n", p.name, p.log, p.tail(40))
	}
	return b.String()
}

// Dir is the folder holding the cluster's files and logs.
func (c *Cluster) Dir() string { return c.dir }

func (c *Cluster) start(bin, name string, args ...string) error {
	p, err := startProc(c.dir, name, filepath.Join(bin, name), args...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	return nil
}

// waitFor polls cond until it holds, failing after readyTimeout or as soon
// as a process has exited.
func (c *Cluster) waitFor(what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		for _, p := range c.procs {
			if err := p.exited(); err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		attempt, done := context.WithTimeout(ctx, 5*time.Second) // one hung request must not use up the wait
		ok, err := cond(attempt)
		done()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not within %s (last error: %v)", what, readyTimeout, last)
		case <-tick.C:
		}
	}
}

func etcdHealthy(ctx context.Context, port int) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/health", port), nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

func (c *Cluster) apiReady(ctx context.Context) (bool, error) {
	_, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err == nil, err
}

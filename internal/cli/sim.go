package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/internal/state"
	"github.com/stratastack/strata/provisioners/vsphere/vcsim"
	"github.com/stratastack/strata/stacks/layers/kubernetes"
	"github.com/stratastack/strata/stacks/layers/kubernetes/kubetest"
	"github.com/stratastack/strata/stacks/layers/marathon/marathontest"
)

// SimArgs configure sim.
type SimArgs struct {
	Addr string // vsphere, marathon: where to listen
	// kubernetes: the cluster serves the CA that layer Layer of stack
	// Stack derives from its seed in StateDir (made when missing), so
	// strata up of that stack trusts it and is trusted; Nodes kwok nodes.
	Stack, Layer, StateDir string
	Nodes                  int
}

// Sim runs a simulator of a substrate or of a layer's API until ctx ends,
// printing the environment that points strata and the provider at it
// (shell `export` lines on stdout, so `eval` or `.` can read them).
func Sim(ctx context.Context, kind string, a SimArgs, io IO) int {
	addr := a.Addr
	if addr == "127.0.0.1:0" {
		addr = ""
	}
	switch kind {
	case "vsphere":
		sim, err := vcsim.Start(ctx, vcsim.Options{Addr: addr})
		if err != nil {
			fmt.Fprintf(io.Err, "Error: starting the vSphere simulator: %v\n", err)
			return Invalid
		}
		defer sim.Close()
		fmt.Fprintf(io.Out, "export VSPHERE_SERVER=%s\nexport VSPHERE_USER=%s\nexport VSPHERE_PASSWORD=%s\nexport VSPHERE_ALLOW_UNVERIFIED_SSL=true\n",
			sim.URL(), sim.User(), sim.Password())
		fmt.Fprintf(io.Err, "vSphere simulator at %s: datacenter %s, cluster %s, datastore %s, network %q, template %q. Ctrl-C stops it.\n",
			sim.URL(), vcsim.Datacenter, vcsim.Cluster, vcsim.Datastore, vcsim.Network, sim.Template())
	case "marathon":
		return simMarathon(ctx, a.Addr, io)
	case "kubernetes":
		return simKubernetes(ctx, a, io)
	default:
		fmt.Fprintf(io.Err, "strata sim: %q cannot be simulated: use vsphere, marathon or kubernetes\n", kind)
		return Usage
	}
	<-ctx.Done()
	return OK
}

// simMarathon serves the Marathon v2 test server: Marathon and Mesos are
// retired and cannot run here, so a mesos layer's API is played by it.
func simMarathon(ctx context.Context, addr string, io IO) int {
	srv, err := marathontest.New(marathontest.Options{TickEvery: 250 * time.Millisecond})
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	defer hs.Close()
	url := "http://" + l.Addr().String()
	fmt.Fprintf(io.Out, "export STRATA_MARATHON=%s\n", url)
	fmt.Fprintf(io.Err, "Marathon v2 test server (not Marathon: it keeps apps, groups and deployments, and plays their tasks) at %s. Ctrl-C stops it.\n", url)
	<-ctx.Done()
	return OK
}

// simKubernetes runs a real Kubernetes control plane with kwok nodes from
// the binaries make kube-deps builds, serving the CA a stack derives.
func simKubernetes(ctx context.Context, a SimArgs, io IO) int {
	if a.Stack == "" || a.Layer == "" {
		fmt.Fprintln(io.Err, "strata sim kubernetes: -stack NAME and -layer NAME say whose CA the cluster serves")
		return Usage
	}
	bin, err := kubetest.Bins()
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	seed, err := secrets.LoadOrCreate(state.Dir(a.StateDir).SeedFile(a.Stack))
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	caCert, caKey, err := kubernetes.CA(seed, a.Layer)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	dir, err := os.MkdirTemp("", "strata-sim-kubernetes-")
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	defer os.RemoveAll(dir)
	var nodes []string
	for i := range max(a.Nodes, 1) {
		nodes = append(nodes, fmt.Sprintf("kwok-%d", i))
	}
	logf := func(format string, args ...any) { fmt.Fprintf(io.Err, format+"\n", args...) }
	c, err := kubetest.Launch(bin, dir, kubetest.Options{CACertPEM: caCert, CAKeyPEM: caKey, Nodes: nodes}, logf)
	if c != nil {
		defer c.Stop()
	}
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		if c != nil {
			fmt.Fprintln(io.Err, c.Logs())
		}
		return Invalid
	}
	if err := c.AddVolumes(ctx, 32); err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	fmt.Fprintf(io.Out, "export STRATA_KUBE_ENDPOINT=%s\nexport KUBECONFIG=%s\n", c.Endpoint, c.Kubeconfig)
	fmt.Fprintf(io.Err, "Kubernetes %s (kwok nodes: %d) at https://%s, serving the CA of layer %q of stack %q. Ctrl-C stops it.\n",
		kubetest.Version, len(nodes), c.Endpoint, a.Layer, a.Stack)
	<-ctx.Done()
	return OK
}

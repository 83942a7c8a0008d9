package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/internal/state"
	"github.com/stratastack/strata/provisioners/aws/mototest"
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
	case "aws":
		return simAWS(ctx, io)
	default:
		fmt.Fprintf(io.Err, "strata sim: %q cannot be simulated: use vsphere, aws, marathon or kubernetes\n", kind)
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

// simAWS runs moto's EC2 server (moto_server, which must be installed) on
// loopback with a world in it, and prints the SDK's environment and the
// examples' Terraform variables for it.
func simAWS(ctx context.Context, io IO) int {
	srv, err := mototest.Start(ctx)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v (moto 5: pip install 'moto[server]')\n", err)
		return Invalid
	}
	defer srv.Stop()
	w, err := mototest.Prepare(ctx, srv.URL)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	key, err := mototest.Credentials().Retrieve(ctx)
	if err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	subnets, _ := json.Marshal(w.Subnets)
	groups, _ := json.Marshal([]string{w.Group})
	fmt.Fprintf(io.Out, "export AWS_ENDPOINT_URL=%s\nexport AWS_REGION=%s\nexport AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_EC2_METADATA_DISABLED=true\n",
		srv.URL, mototest.Region, key.AccessKeyID, key.SecretAccessKey)
	fmt.Fprintf(io.Out, "export TF_VAR_ami=%s\nexport TF_VAR_key_name=%s\nexport TF_VAR_subnet_ids='%s'\nexport TF_VAR_security_group_ids='%s'\n",
		w.AMI, w.Key, subnets, groups)
	fmt.Fprintf(io.Err, "moto's EC2 server (not AWS: instances run at once and run nothing) at %s, region %s: AMI %s, subnets %v in %v, security group %s, key pair %s. Ctrl-C stops it.\n",
		srv.URL, mototest.Region, w.AMI, w.Subnets, w.Zones, w.Group, w.Key)
	<-ctx.Done()
	return OK
}

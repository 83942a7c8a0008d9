package cli

import (
	"context"
	"fmt"

	"github.com/stratastack/strata/provisioners/vsphere/vcsim"
)

// Sim runs a substrate simulator until ctx ends, printing the environment
// that points strata and the provider at it (shell `export` lines on
// stdout, so `eval` or `.` can read them).
func Sim(ctx context.Context, kind, addr string, io IO) int {
	if kind != "vsphere" {
		fmt.Fprintf(io.Err, "strata sim: only vsphere can be simulated (got %q)\n", kind)
		return Usage
	}
	if addr == "127.0.0.1:0" {
		addr = ""
	}
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
	<-ctx.Done()
	return OK
}

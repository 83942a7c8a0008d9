package acceptance

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/provisioners/vsphere/vcsim"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/kubernetes"
	"github.com/stratastack/strata/stacks/layers/kubernetes/kubetest"
	"github.com/stratastack/strata/stacks/layers/marathon"
	"github.com/stratastack/strata/stacks/layers/marathon/marathontest"
)

// Hosted layers through the real terraform CLI: machines on the vSphere
// simulator, the Mesos layer's Marathon played by the Marathon v2 test
// server, the Kubernetes layer's API by a real kube-apiserver with kwok
// nodes — each layer's endpoint pointed at its test server the way
// pools-on-openstack tests point at the Debian cloud, and the Kubernetes
// API serving the CA the stack derives, so the test proves Strata's PKI.

// hostedWorld is the test servers a hosted stack's layers run on.
type hostedWorld struct {
	sim      *vcsim.Sim
	marathon *marathontest.Server
	kube     *kubetest.Cluster
	seed     *secrets.Seed
	path     string
}

// startHosted makes the working directory with the stack's seed, then the
// servers: the Kubernetes API with the CA of the stack's layer "k".
func startHosted(t *testing.T, stack string, nodes int) *hostedWorld {
	t.Helper()
	w := &hostedWorld{sim: startSim(t), marathon: marathontest.Start(t)}
	w.path, w.seed = workdir(t, stack, "")
	caCert, caKey, err := kubernetes.CA(w.seed, "k")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range nodes {
		names = append(names, fmt.Sprintf("kwok-%d", i))
	}
	w.kube = kubetest.Start(t, kubetest.Options{CACertPEM: caCert, CAKeyPEM: caKey, Nodes: names})
	if err := w.kube.AddVolumes(t.Context(), 24); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *hostedWorld) write(t *testing.T, src string) {
	t.Helper()
	if err := os.WriteFile(w.path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

const simSubstrate = `
substrate "vsphere" "sim" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
  datastore  = "LocalDS_0"
  network    = "VM Network"
  template   = %q
}
`

// chainStack: Mesos on two vSphere machines, Kubernetes as Marathon apps
// on it, OpenStack's control plane as workloads on that Kubernetes.
func chainStack(w *hostedWorld) string {
	return fmt.Sprintf(`stack {
  name = "chain"
}

variable "workers" {
  type    = number
  default = 2
}
%s
pool "mesos" {
  substrate = substrate.vsphere.sim
  size      = 2
}

layer "mesos" "m" {
  marathon_endpoint = %q
  role "master" {
    on    = pool.mesos
    count = 1
  }
  role "agent" {
    on = pool.mesos
  }
}

layer "kubernetes" "k" {
  control_plane_endpoint = %q
  role "control-plane" {
    on    = layer.mesos.m
    count = 1
  }
  role "worker" {
    on    = layer.mesos.m
    count = var.workers
  }
}

layer "openstack" "os" {
  role "controller" {
    on    = layer.kubernetes.k
    count = 1
  }
  role "compute" {
    on    = layer.kubernetes.k
    count = 1
  }
}
`, fmt.Sprintf(simSubstrate, vcsim.DefaultTemplate), w.marathon.URL, w.kube.Endpoint)
}

func hostedResource(path string, vars map[string]int) string {
	var b strings.Builder
	for k, v := range vars {
		fmt.Fprintf(&b, "    %s = %d\n", k, v)
	}
	return fmt.Sprintf(`
resource "strata_stack" "mesos" {
  path = %q
  vars = {
%s  }
}
`, path, b.String())
}

// marathonApps are the apps of a stack in Marathon, by id, with the
// instances they run, read through Marathon's API.
func marathonApps(ctx context.Context, w *hostedWorld, stack string) (map[string]int, error) {
	c, err := marathon.NewClient(w.marathon.URL, nil)
	if err != nil {
		return nil, err
	}
	apps, err := c.Apps(ctx, map[string]string{layers.LabelStack: stack})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, a := range apps {
		if a.TasksRunning != a.Instances {
			return nil, fmt.Errorf("Marathon app %s: %d of %d tasks running", a.ID, a.TasksRunning, a.Instances)
		}
		out[a.ID] = a.Instances
	}
	return out, nil
}

// labelled counts the Kubernetes objects that carry the stack's label.
func labelled(ctx context.Context, w *hostedWorld, stack string) (map[string]int, error) {
	sel := metav1.ListOptions{LabelSelector: layers.LabelStack + "=" + stack}
	out := map[string]int{}
	cs := w.kube.Client
	ns, err := cs.CoreV1().Namespaces().List(ctx, sel)
	if err != nil {
		return nil, err
	}
	out["Namespace"] = len(ns.Items)
	sts, err := cs.AppsV1().StatefulSets("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, s := range sts.Items {
		if s.Status.ReadyReplicas != *s.Spec.Replicas {
			return nil, fmt.Errorf("StatefulSet %s/%s: %d of %d ready", s.Namespace, s.Name, s.Status.ReadyReplicas, *s.Spec.Replicas)
		}
	}
	out["StatefulSet"] = len(sts.Items)
	deps, err := cs.AppsV1().Deployments("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	out["Deployment"] = len(deps.Items)
	svcs, err := cs.CoreV1().Services("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	out["Service"] = len(svcs.Items)
	return out, nil
}

// checkChain: the machines, every hosted role running with its count in
// Marathon and Kubernetes, and in state.
func checkChain(w *hostedWorld, workers int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx := context.Background()
		vms, err := inventory(ctx, w.sim)
		if err != nil {
			return err
		}
		n := 0
		for _, v := range vms {
			if strings.HasPrefix(v.Name, "chain-mesos-") {
				n++
			}
		}
		if n != 2 {
			return fmt.Errorf("%d VMs of the stack, want 2", n)
		}
		apps, err := marathonApps(ctx, w, "chain")
		if err != nil {
			return err
		}
		total := 0
		for _, i := range apps {
			total += i
		}
		if len(apps) == 0 || total != 1+workers {
			return fmt.Errorf("Marathon apps %v: want the control plane and %d workers", apps, workers)
		}
		objs, err := labelled(ctx, w, "chain")
		if err != nil {
			return err
		}
		if objs["Namespace"] != 1 || objs["StatefulSet"]+objs["Deployment"] == 0 {
			return fmt.Errorf("Kubernetes objects of the stack: %v", objs)
		}
		st := s.RootModule().Resources[stackAddr].Primary.Attributes
		if st["hosted.#"] != "4" {
			return fmt.Errorf("state records %s hosted roles, want 4", st["hosted.#"])
		}
		for i := range 4 {
			if got := st[fmt.Sprintf("hosted.%d.state", i)]; got != "running" {
				return fmt.Errorf("hosted.%d (%s/%s) is %q", i, st[fmt.Sprintf("hosted.%d.layer", i)], st[fmt.Sprintf("hosted.%d.role", i)], got)
			}
		}
		if got := st["hosted.1.count"]; st["hosted.1.role"] != "worker" || got != fmt.Sprint(workers) {
			return fmt.Errorf("hosted.1 is %s with count %s, want worker %d", st["hosted.1.role"], got, workers)
		}
		return nil
	}
}

// nothingLeft: no VM, no app or group of the stack in Marathon, no object
// labelled with the stack in Kubernetes.
func nothingLeft(w *hostedWorld, stack string) func(*terraform.State) error {
	return func(*terraform.State) error {
		ctx := context.Background()
		vms, err := inventory(ctx, w.sim)
		if err != nil {
			return err
		}
		for _, v := range vms {
			if strings.HasPrefix(v.Name, stack+"-") {
				return fmt.Errorf("VM %s is left", v.Name)
			}
		}
		for _, id := range append(w.marathon.AppIDs(), w.marathon.GroupIDs()...) {
			if strings.HasPrefix(id, "/"+stack) {
				return fmt.Errorf("Marathon still has %s", id)
			}
		}
		objs, err := labelled(ctx, w, stack)
		if err != nil {
			return err
		}
		for kind, n := range objs {
			if n > 0 {
				return fmt.Errorf("%d %s objects labelled with the stack are left", n, kind)
			}
		}
		return nil
	}
}

// TestAccHostedChain: Mesos on vSphere machines, Kubernetes as Marathon
// apps on it, OpenStack's control plane as workloads on that Kubernetes.
// Apply brings the three up in order; a hosted count scales by the
// difference; destroy leaves nothing anywhere.
func TestAccHostedChain(t *testing.T) {
	enableAcceptance(t)
	w := startHosted(t, "chain", 4)
	w.write(t, chainStack(w))
	var ids []string
	var nsUID string
	uid := func() (string, error) {
		ns, err := w.kube.Client.CoreV1().Namespaces().Get(context.Background(), "chain-os", metav1.GetOptions{})
		return string(ns.GetUID()), err
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             nothingLeft(w, "chain"),
		Steps: []resource.TestStep{
			{
				Config: providerBlock(w.sim, w.sim.Password()) + hostedResource(w.path, map[string]int{"workers": 2}),
				Check: resource.ComposeTestCheckFunc(checkChain(w, 2), func(*terraform.State) error {
					ids = slices.Sorted(slices.Values(w.marathon.AppIDs()))
					var err error
					nsUID, err = uid()
					return err
				}),
			},
			{
				Config: providerBlock(w.sim, w.sim.Password()) + hostedResource(w.path, map[string]int{"workers": 3}),
				Check: resource.ComposeTestCheckFunc(checkChain(w, 3), func(*terraform.State) error {
					if got := slices.Sorted(slices.Values(w.marathon.AppIDs())); !slices.Equal(got, ids) {
						return fmt.Errorf("scaling the workers changed the apps: %v -> %v", ids, got)
					}
					// OpenStack's workloads were left as they were, not made anew.
					if got, err := uid(); err != nil || got != nsUID {
						return fmt.Errorf("the OpenStack namespace was replaced (%s -> %s): %v", nsUID, got, err)
					}
					return nil
				}),
			},
		},
	})
}

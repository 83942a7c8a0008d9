package acceptance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/vsphere/vcsim"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/kubernetes"
	"github.com/stratastack/strata/stacks/layers/marathon/marathontest"
	"github.com/stratastack/strata/stacks/plan"
)

// More hosted stacks through the real terraform CLI, on the test servers
// of hosted_test.go: the other order of layers (Mesos on Kubernetes,
// OpenStack on that Mesos), Marathon misbehaving, and an apply stopped
// halfway that terraform then finishes.

// mesosOnKubeStack: Kubernetes on three vSphere machines, whose API is the
// test cluster's; Mesos as workloads on it; OpenStack's control plane as
// Marathon apps on that Mesos, whose Marathon (its masters being hosted)
// is named by marathon_endpoint.
func mesosOnKubeStack(w *hostedWorld) string {
	return fmt.Sprintf(`stack {
  name = "mok"
}

variable "agents" {
  type    = number
  default = 2
}
%s
pool "kube" {
  substrate = substrate.vsphere.sim
  size      = 3
}

layer "kubernetes" "k" {
  control_plane_endpoint = %q
  role "control-plane" {
    on    = pool.kube
    count = 1
  }
  role "worker" {
    on = pool.kube
  }
}

layer "mesos" "m" {
  marathon_endpoint = %q
  role "master" {
    on    = layer.kubernetes.k
    count = 1
  }
  role "agent" {
    on    = layer.kubernetes.k
    count = var.agents
  }
}

layer "openstack" "os" {
  role "controller" {
    on    = layer.mesos.m
    count = 1
  }
  role "compute" {
    on    = layer.mesos.m
    count = 1
  }
}
`, fmt.Sprintf(simSubstrate, vcsim.DefaultTemplate), w.kube.Endpoint, w.marathon.URL)
}

// rendered is what a stack's hosted roles render to: what its hosts must
// hold, no more and no less.
type rendered struct {
	apps map[string]int  // Marathon app id -> instances
	kube map[string]bool // Kubernetes KIND/NAMESPACE/NAME
}

// renderStack compiles the stack at w.path with vars as the provider does
// and renders every hosted role with the world's seed. Addresses do not
// enter ids or counts, so none are given.
func renderStack(ctx context.Context, w *hostedWorld, vars map[string]int) (rendered, error) {
	var flags []string
	for k, v := range vars {
		flags = append(flags, k+"="+strconv.Itoa(v))
	}
	kinds := catalog.Kinds()
	s, _, diags := stacks.Load(w.path, kinds, stacks.Options{Vars: flags})
	if diags.HasErrors() {
		return rendered{}, diags
	}
	p := plan.Compile(s, kinds)
	out := rendered{apps: map[string]int{}, kube: map[string]bool{}}
	for _, h := range p.Hosted {
		objs, err := p.RenderHosted(ctx, w.seed, h.Layer, h.Role, nil)
		if err != nil {
			return rendered{}, fmt.Errorf("rendering %s/%s: %w", h.Layer, h.Role, err)
		}
		for _, o := range objs {
			switch o.Format {
			case "marathon":
				if err := marathonIDs(o, out.apps); err != nil {
					return rendered{}, err
				}
			case "kubernetes":
				var u unstructured.Unstructured
				if err := yaml.Unmarshal(o.Body, &u.Object); err != nil {
					return rendered{}, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
				}
				out.kube[u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName()] = true
			default:
				return rendered{}, fmt.Errorf("%s/%s renders a %s object", h.Layer, h.Role, o.Format)
			}
		}
	}
	return out, nil
}

// marathonNode is an app or a group as rendered: apps have instances,
// groups apps and groups.
type marathonNode struct {
	ID        string         `json:"id"`
	Instances *int           `json:"instances"`
	Apps      []marathonNode `json:"apps"`
	Groups    []marathonNode `json:"groups"`
}

// marathonIDs adds the apps a rendered Marathon object defines to into,
// with ids resolved against their group as Marathon resolves them.
func marathonIDs(o layers.Object, into map[string]int) error {
	var n marathonNode
	if err := json.Unmarshal(o.Body, &n); err != nil {
		return fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	var walk func(base string, n marathonNode, app bool)
	walk = func(base string, n marathonNode, app bool) {
		id := n.ID
		if !strings.HasPrefix(id, "/") {
			id = strings.TrimSuffix(base, "/") + "/" + id
		}
		if app {
			into[id] = 1
			if n.Instances != nil {
				into[id] = *n.Instances
			}
			return
		}
		for _, a := range n.Apps {
			walk(id, a, true)
		}
		for _, g := range n.Groups {
			walk(id, g, false)
		}
	}
	walk("/", n, o.Kind == "app")
	return nil
}

// kubeObject is a labelled object as the cluster holds it.
type kubeObject struct {
	UID      string
	Replicas int64 // spec.replicas of a workload
}

// kubeObjects are the objects carrying the stack's label, by
// KIND/NAMESPACE/NAME, read with the cluster's admin client.
func kubeObjects(ctx context.Context, w *hostedWorld, stack string) (map[string]kubeObject, error) {
	dyn, err := dynamic.NewForConfig(w.kube.RestConfig)
	if err != nil {
		return nil, err
	}
	out := map[string]kubeObject{}
	for _, gvr := range kubernetes.Listed() {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: layers.LabelStack + "=" + stack})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvr.Resource, err)
		}
		for _, u := range list.Items {
			n, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
			out[u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName()] = kubeObject{UID: string(u.GetUID()), Replicas: n}
		}
	}
	return out, nil
}

// asRendered checks that the hosts hold exactly what the stack renders,
// by the stack's label: each Marathon app, all its instances running; each
// Kubernetes object, StatefulSets rolled out (which labelled checks).
func asRendered(ctx context.Context, w *hostedWorld, stack string, want rendered) error {
	apps, err := marathonApps(ctx, w, stack)
	if err != nil {
		return err
	}
	if !maps.Equal(apps, want.apps) {
		return fmt.Errorf("Marathon holds %v, the stack renders %v", apps, want.apps)
	}
	if _, err := labelled(ctx, w, stack); err != nil {
		return err
	}
	objs, err := kubeObjects(ctx, w, stack)
	if err != nil {
		return err
	}
	if got := slices.Sorted(maps.Keys(objs)); !slices.Equal(got, slices.Sorted(maps.Keys(want.kube))) {
		return fmt.Errorf("Kubernetes holds %v, the stack renders %v", got, slices.Sorted(maps.Keys(want.kube)))
	}
	return nil
}

// hostedRunning checks state's hosted list: the roles in want, each with
// its count, all running.
func hostedRunning(want map[string]int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		st := s.RootModule().Resources[stackAddr].Primary.Attributes
		if st["hosted.#"] != strconv.Itoa(len(want)) {
			return fmt.Errorf("state records %s hosted roles, want %d", st["hosted.#"], len(want))
		}
		for i := range len(want) {
			at := func(f string) string { return st[fmt.Sprintf("hosted.%d.%s", i, f)] }
			role := at("layer") + "/" + at("role")
			n, ok := want[role]
			switch {
			case !ok:
				return fmt.Errorf("state records hosted role %s, not planned", role)
			case at("state") != provisioners.StateRunning:
				return fmt.Errorf("hosted role %s is %q", role, at("state"))
			case at("count") != strconv.Itoa(n):
				return fmt.Errorf("hosted role %s has count %s, want %d", role, at("count"), n)
			case at("objects.#") == "0":
				return fmt.Errorf("hosted role %s records no objects", role)
			}
		}
		return nil
	}
}

// vmsOf checks the stack has exactly want VMs, none twice, and returns
// their ids by name.
func vmsOf(ctx context.Context, w *hostedWorld, stack string, want []string) (map[string]string, error) {
	got, err := stackVMs(ctx, w.sim, stack)
	if err != nil {
		return nil, err
	}
	if names := sortedKeys(got); !slices.Equal(names, want) {
		return nil, fmt.Errorf("vSphere holds %v of the stack, want %v", names, want)
	}
	ids := map[string]string{}
	for name, v := range got {
		ids[name] = v.ID
	}
	return ids, nil
}

// nothingAnywhere is nothingLeft, and no object of any kind Strata
// renders (not only workloads and namespaces) labelled with the stack.
func nothingAnywhere(w *hostedWorld, stack string) func(*terraform.State) error {
	return func(s *terraform.State) error {
		if err := nothingLeft(w, stack)(s); err != nil {
			return err
		}
		objs, err := kubeObjects(context.Background(), w, stack)
		if err != nil {
			return err
		}
		if len(objs) > 0 {
			return fmt.Errorf("Kubernetes objects labelled with the stack are left: %v", sortedKeys(objs))
		}
		return nil
	}
}

// launched is how many tasks Marathon ever launched per app: the same
// count later means no app was restarted or recreated meanwhile.
func launched(w *hostedWorld, apps []string) map[string]int {
	out := map[string]int{}
	for _, id := range apps {
		out[id] = w.marathon.Launched(id)
	}
	return out
}

// TestAccHostedMesosOnKube: Kubernetes on vSphere machines, Mesos as
// workloads on it, OpenStack's control plane as Marathon apps on that
// Mesos. Apply brings the three up in order, each host holding exactly
// what the stack renders; scaling the Mesos agents changes the agents'
// StatefulSet replicas and nothing else (no object replaced, no Marathon
// app restarted); destroy leaves nothing anywhere.
func TestAccHostedMesosOnKube(t *testing.T) {
	enableAcceptance(t)
	// The kubernetes layer waits for as many Ready nodes as it has
	// members: its three machines.
	w := startHosted(t, "mok", 3)
	// Marathon's clock by wall time, as Marathon's own: OpenStack's
	// control plane is a long chain of dependent apps, which a clock
	// moved only by the host's polls (backing off to 10 s) takes over a
	// minute to walk. The server startHosted started stays idle.
	w.marathon = marathontest.StartWith(t, marathontest.Options{TickEvery: 50 * time.Millisecond})
	w.write(t, mesosOnKubeStack(w))
	machines := []string{"mok-kube-0", "mok-kube-1", "mok-kube-2"}
	var (
		vmIDs   map[string]string
		objs    map[string]kubeObject
		started map[string]int
	)
	check := func(agents int) resource.TestCheckFunc {
		return resource.ComposeTestCheckFunc(
			hostedRunning(map[string]int{"mesos.m/master": 1, "mesos.m/agent": agents, "openstack.os/controller": 1, "openstack.os/compute": 1}),
			func(*terraform.State) error {
				ctx := context.Background()
				ids, err := vmsOf(ctx, w, "mok", machines)
				if err != nil {
					return err
				}
				if vmIDs != nil && !maps.Equal(ids, vmIDs) {
					return fmt.Errorf("the machines changed: %v -> %v", vmIDs, ids)
				}
				vmIDs = ids
				want, err := renderStack(ctx, w, map[string]int{"agents": agents})
				if err != nil {
					return err
				}
				if len(want.apps) == 0 || len(want.kube) == 0 {
					return fmt.Errorf("the stack renders %d Marathon apps and %d Kubernetes objects", len(want.apps), len(want.kube))
				}
				for id := range want.apps {
					if !strings.HasPrefix(id, "/mok/os/") {
						return fmt.Errorf("the stack renders Marathon app %s, not OpenStack's", id)
					}
				}
				if err := asRendered(ctx, w, "mok", want); err != nil {
					return err
				}
				got, err := kubeObjects(ctx, w, "mok")
				if err != nil {
					return err
				}
				// Mesos runs as two StatefulSets, each asking for its
				// role's count (labelled saw them ready).
				for role, n := range map[string]int{"master": 1, "agent": agents} {
					key := "StatefulSet/mok-m/" + role
					if o, ok := got[key]; !ok || o.Replicas != int64(n) {
						return fmt.Errorf("%s: %+v (found %v), want %d replicas", key, o, ok, n)
					}
				}
				// Scaling is the only change: every object is the one
				// the first apply made, and no Marathon app restarted.
				if objs != nil {
					for key, o := range got {
						if objs[key].UID != o.UID {
							return fmt.Errorf("%s was replaced or added (uid %q -> %q)", key, objs[key].UID, o.UID)
						}
					}
				}
				objs = got
				now := launched(w, slices.Sorted(maps.Keys(want.apps)))
				if started != nil && !maps.Equal(now, started) {
					return fmt.Errorf("Marathon launched tasks again: %v -> %v", started, now)
				}
				started = now
				return nil
			})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             nothingAnywhere(w, "mok"),
		Steps: []resource.TestStep{
			{
				Config: providerBlock(w.sim, w.sim.Password()) + hostedResource(w.path, map[string]int{"agents": 2}),
				Check:  check(2),
			},
			{
				Config: providerBlock(w.sim, w.sim.Password()) + hostedResource(w.path, map[string]int{"agents": 3}),
				Check:  check(3),
			},
		},
	})
}

// workerApp is the Marathon app of chainStack's Kubernetes workers.
const workerApp = "/chain/k/worker"

// TestAccHostedMarathonFaults: the chain stack against a Marathon that
// misbehaves. With no leader elected at first, the apply waits for one
// and converges. Scaling the workers while their tasks fail ends the
// apply with an error naming the app and Marathon's failure message (once
// the host's grace for a fluke is over); with the failure gone, the next
// apply converges on the same apps. Destroy leaves nothing.
func TestAccHostedMarathonFaults(t *testing.T) {
	enableAcceptance(t)
	w := startHosted(t, "chain", 4) // the layer's members at 3 workers
	// A failing role is given up on after 10 s rather than the default
	// 3 minutes of relaunches.
	w.write(t, strings.Replace(chainStack(w), "  marathon_endpoint = ", "  task_failure_grace = \"10s\"\n  marathon_endpoint = ", 1))
	const failure = "kubelet exited 137"
	var ids []string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             nothingAnywhere(w, "chain"),
		Steps: []resource.TestStep{
			{
				// The engine's first look and its first tries to reach
				// the layer find no leader: two requests a try.
				PreConfig: func() { w.marathon.NoLeaderFor(8) },
				Config:    providerBlock(w.sim, w.sim.Password()) + hostedResource(w.path, map[string]int{"workers": 2}),
				Check: resource.ComposeTestCheckFunc(checkChain(w, 2), func(*terraform.State) error {
					reqs := w.marathon.Requests()
					lastRefused, firstPut := -1, -1
					for i, r := range reqs {
						if strings.HasPrefix(r, "GET /v2/leader ") && strings.HasSuffix(r, " 404") {
							lastRefused = i
						}
						if firstPut < 0 && strings.HasPrefix(r, "PUT ") {
							firstPut = i
						}
					}
					if lastRefused < 0 || firstPut < lastRefused {
						return fmt.Errorf("Marathon had no leader at first, yet the apply submitted before it had one: %v", reqs)
					}
					ids = slices.Sorted(slices.Values(w.marathon.AppIDs()))
					return nil
				}),
			},
			{
				PreConfig:   func() { w.marathon.FailTasks(workerApp, failure) },
				Config:      providerBlock(w.sim, w.sim.Password()) + hostedResource(w.path, map[string]int{"workers": 3}),
				ExpectError: regexp.MustCompile(`(?s)app\s+` + regexp.QuoteMeta(workerApp) + `\s.*does\s+not\s+start.*kubelet\s+exited\s+137`),
			},
			{
				PreConfig: func() { w.marathon.FailTasks(workerApp, "") },
				Config:    providerBlock(w.sim, w.sim.Password()) + hostedResource(w.path, map[string]int{"workers": 3}),
				Check: resource.ComposeTestCheckFunc(checkChain(w, 3), func(*terraform.State) error {
					if got := slices.Sorted(slices.Values(w.marathon.AppIDs())); !slices.Equal(got, ids) {
						return fmt.Errorf("the apps changed: %v -> %v", ids, got)
					}
					return nil
				}),
			},
		},
	})
}

// TestAccHostedInterruptedApply: an apply of the chain stack stopped as
// its first hosted role is submitted leaves machines and Marathon apps;
// terraform apply of the same stack then adopts them — the same VMs, the
// submitted apps neither recreated nor restarted — and ends with exactly
// what the stack renders on each host. Destroy leaves nothing.
func TestAccHostedInterruptedApply(t *testing.T) {
	enableAcceptance(t)
	w := startHosted(t, "chain", 3) // the layer's members at 2 workers
	w.write(t, chainStack(w))
	kinds := catalog.Kinds()
	st, _, diags := stacks.Load(w.path, kinds, stacks.Options{Vars: []string{"workers=2"}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	// The vSphere settings as a provider block or the CLI's environment
	// would resolve them.
	env, problems := kinds.Substrates["vsphere"].Resolve(map[string]string{
		"server": w.sim.URL(), "user": w.sim.User(), "password": w.sim.Password(), "allow_unverified_ssl": "true",
	}, os.Getenv)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		mu        sync.Mutex
		submitted []string
	)
	e := engine.New(engine.OpenFunc(func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
		return kinds.Open(ctx, env, sub)
	}), engine.Options{Parallelism: 8, Report: func(ev engine.Event) {
		if ev.Action == engine.ActionSubmit {
			mu.Lock()
			submitted = append(submitted, ev.Machine)
			mu.Unlock()
			cancel()
		}
	}})
	if _, err := e.Apply(ctx, plan.Compile(st, kinds), w.seed); !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted apply returned %v, want context.Canceled", err)
	}
	if len(submitted) != 1 || submitted[0] != "kubernetes.k/control-plane" {
		t.Fatalf("the interrupted apply submitted %v, want the Kubernetes control plane alone", submitted)
	}
	// What the stopped apply left: the machines, and the control plane's
	// apps submitted to Marathon; nothing further along.
	vms, err := vmsOf(t.Context(), w, "chain", []string{"chain-mesos-0", "chain-mesos-1"})
	if err != nil {
		t.Fatal(err)
	}
	left := w.marathon.AppIDs()
	if len(left) == 0 || slices.ContainsFunc(left, func(id string) bool { return !strings.HasPrefix(id, "/chain/k/control-plane/") }) {
		t.Fatalf("the interrupted apply left the Marathon apps %v, want the control plane's alone", left)
	}
	if objs, err := kubeObjects(t.Context(), w, "chain"); err != nil || len(objs) != 0 {
		t.Fatalf("the interrupted apply left Kubernetes objects %v (%v)", sortedKeys(objs), err)
	}
	// Let Marathon run what was submitted, so that a restart or a
	// re-creation by the next apply would launch tasks again.
	w.marathon.Tick(5)
	for _, id := range left {
		if w.marathon.Launched(id) == 0 {
			t.Fatalf("Marathon launched no task of %s", id)
		}
	}
	before := launched(w, left)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             nothingAnywhere(w, "chain"),
		Steps: []resource.TestStep{{
			Config: providerBlock(w.sim, w.sim.Password()) + hostedResource(w.path, map[string]int{"workers": 2}),
			Check: resource.ComposeTestCheckFunc(checkChain(w, 2), func(*terraform.State) error {
				ctx := context.Background()
				if _, err := vmsOf(ctx, w, "chain", sortedKeys(vms)); err != nil {
					return err
				}
				now, err := stackVMs(ctx, w.sim, "chain")
				if err != nil {
					return err
				}
				for name, v := range now {
					if v.ID != vms[name] {
						return fmt.Errorf("%s was replaced (%s -> %s): the apply must adopt it", name, vms[name], v.ID)
					}
				}
				want, err := renderStack(ctx, w, map[string]int{"workers": 2})
				if err != nil {
					return err
				}
				if len(want.kube) == 0 {
					return errors.New("the stack renders no Kubernetes objects")
				}
				if err := asRendered(ctx, w, "chain", want); err != nil {
					return err
				}
				if now := launched(w, left); !maps.Equal(now, before) {
					return fmt.Errorf("Marathon launched tasks of the apps submitted before the interruption again (%v -> %v): the apply must adopt them", before, now)
				}
				return nil
			}),
		}},
	})
}

package kubernetes_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/kubernetes"
	"github.com/stratastack/strata/stacks/layers/kubernetes/kubetest"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/plan"
)

// mesosOnKube: a Kubernetes layer on three vSphere machines whose API is
// the test cluster's, and Mesos as workloads on it.
func mesosOnKube(t testing.TB, endpoint string, agents int) *plan.Plan {
	t.Helper()
	src := fmt.Sprintf(`stack {
  name = "hl"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  template   = "t"
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = 3
}
layer "kubernetes" "k" {
  control_plane_endpoint = %q
  role "control-plane" {
    on    = pool.p
    count = 1
  }
  role "worker" {
    on = pool.p
  }
}
layer "mesos" "m" {
  role "master" {
    on    = layer.kubernetes.k
    count = 1
  }
  role "agent" {
    on    = layer.kubernetes.k
    count = %d
  }
}
`, endpoint, agents)
	kinds := catalog.Kinds()
	s, _, diags := stacks.Parse(map[string][]byte{"s.hcl": []byte(src)}, kinds, stacks.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return plan.Compile(s, kinds)
}

// The Kubernetes host against a real API server (kwok nodes): the mesos
// layer's rendered objects are accepted, roll out, re-apply without
// change, scale by the difference; a conflict names the other manager; a
// stuck pod is reported; removal leaves nothing labelled.
func TestHostLive(t *testing.T) {
	sec := layertest.Secrets(t)
	caCert, caKey, err := kubernetes.CA(sec, "k")
	if err != nil {
		t.Fatal(err)
	}
	cl := kubetest.Start(t, kubetest.Options{CACertPEM: caCert, CAKeyPEM: caKey, Nodes: []string{"hl-p-0", "hl-p-1", "hl-p-2"}})
	if err := cl.AddVolumes(t.Context(), 8); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	known := plan.Addresses{"hl-p-0": "127.0.0.1", "hl-p-1": "127.0.0.2", "hl-p-2": "127.0.0.3"}

	p := mesosOnKube(t, cl.Endpoint, 2)
	first := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	p.Mark = provisioners.Mark{Expires: first, CreatedBy: "https://ci.example/jobs/1"}
	h, err := p.LayerHost(ctx, sec, "kubernetes.k", known)
	if err != nil {
		t.Fatalf("reaching the layer: %v", err)
	}
	submit := func(p *plan.Plan, role string) []layers.Object {
		t.Helper()
		objs, err := p.RenderHosted(ctx, sec, "mesos.m", role, known)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Submit(ctx, objs); err != nil {
			t.Fatalf("submit %s: %v", role, err)
		}
		if err := h.Wait(ctx, objs); err != nil {
			t.Fatalf("wait %s: %v", role, err)
		}
		return objs
	}
	submit(p, "master")
	agents := submit(p, "agent")
	mine := map[string]string{layers.LabelStack: "hl"}
	placed, err := h.List(ctx, mine)
	if err != nil || len(placed) == 0 {
		t.Fatalf("list: %v %v", placed, err)
	}
	sts, err := cl.Client.AppsV1().StatefulSets("hl-m").Get(ctx, "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gen := sts.Generation

	// Unchanged objects applied again change nothing; a new count changes
	// only the replicas.
	submit(p, "agent")
	if sts, _ = cl.Client.AppsV1().StatefulSets("hl-m").Get(ctx, "agent", metav1.GetOptions{}); sts.Generation != gen {
		t.Errorf("re-applying the same objects moved the generation %d -> %d", gen, sts.Generation)
	}
	// The run's mark is on each object's own labels, never its pod
	// template; a TTL extended re-labels without a rollout.
	if l := sts.Labels; l[layers.LabelExpires] != "20261207T100000Z" || l[layers.LabelCreatedBy] != "ci.example_jobs_1" || sts.Spec.Template.Labels[layers.LabelExpires] != "" {
		t.Errorf("labels %v, pod template labels %v", l, sts.Spec.Template.Labels)
	}
	extended := mesosOnKube(t, cl.Endpoint, 2)
	extended.Mark = provisioners.Mark{Expires: first.Add(2 * time.Hour), CreatedBy: "https://ci.example/jobs/2"}
	h2, err := extended.LayerHost(ctx, sec, "kubernetes.k", known)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := extended.RenderHosted(ctx, sec, "mesos.m", "agent", known)
	if err != nil {
		t.Fatal(err)
	}
	if err := h2.Submit(ctx, objs); err != nil {
		t.Fatal(err)
	}
	if sts, _ = cl.Client.AppsV1().StatefulSets("hl-m").Get(ctx, "agent", metav1.GetOptions{}); sts.Generation != gen || sts.Labels[layers.LabelExpires] != "20261207T120000Z" {
		t.Errorf("after a TTL extension: generation %d -> %d, labels %v", gen, sts.Generation, sts.Labels)
	}
	submit(mesosOnKube(t, cl.Endpoint, 3), "agent")
	if sts, _ = cl.Client.AppsV1().StatefulSets("hl-m").Get(ctx, "agent", metav1.GetOptions{}); *sts.Spec.Replicas != 3 || sts.Status.ReadyReplicas != 3 {
		t.Errorf("scaled agents: %d replicas, %d ready", *sts.Spec.Replicas, sts.Status.ReadyReplicas)
	}

	// Another manager that took the replicas is named.
	patch := []byte(`{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"agent","namespace":"hl-m"},"spec":{"replicas":4}}`)
	force := true
	if _, err := cl.Client.AppsV1().StatefulSets("hl-m").Patch(ctx, "agent", types.ApplyPatchType, patch, metav1.PatchOptions{FieldManager: "ops-team", Force: &force}); err != nil {
		t.Fatal(err)
	}
	if err := h.Submit(ctx, agents); err == nil || !strings.Contains(err.Error(), "ops-team") {
		t.Errorf("conflicting apply: %v", err)
	}

	// A stuck pod ends the wait with its role, pod, container and reason.
	// First the ops team's fourth replica must be ready: otherwise its
	// scale-up, not the stuck pod, makes the StatefulSet unready below, and
	// under load the controller may count the stuck pod ready a while yet.
	if err := h.Wait(ctx, agents); err != nil {
		t.Fatalf("wait for the fourth replica: %v", err)
	}
	pods, err := cl.Client.CoreV1().Pods("hl-m").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=agent"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("agent pods: %v", err)
	}
	pod := pods.Items[0]
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: pod.Spec.Containers[0].Name,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 5m0s restarting failed container"}}}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	// Running, not Pending: kwok's pod-ready stage makes every Pending pod
	// ready, and under load the pod listed may still be Pending.
	pod.Status.Phase = corev1.PodRunning
	if _, err := cl.Client.CoreV1().Pods("hl-m").UpdateStatus(ctx, &pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Once the StatefulSet controller has seen the pod not ready, the
	// workload is not rolled out and the pod says why.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		sts, err := cl.Client.AppsV1().StatefulSets("hl-m").Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sts.Status.ReadyReplicas < *sts.Spec.Replicas {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stuck pod never made the StatefulSet unready: %+v", sts.Status)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	err = h.Wait(wctx, agents)
	wcancel()
	if err == nil || !strings.Contains(err.Error(), "CrashLoopBackOff") || !strings.Contains(err.Error(), pod.Name) || !strings.Contains(err.Error(), "role agent") {
		t.Errorf("wait with a stuck pod: %v", err)
	}

	// Removing everything listed leaves nothing labelled.
	for _, o := range placed {
		if err := h.Remove(ctx, o); err != nil {
			t.Fatalf("remove %s: %v", o.ID, err)
		}
	}
	if left, err := h.List(ctx, mine); err != nil || len(left) != 0 {
		t.Fatalf("left after removal: %v %v", left, err)
	}
	if err := h.Remove(ctx, placed[0]); err != nil {
		t.Errorf("removing what is gone: %v", err)
	}
}

// Until the API answers and every member's node is Ready, the layer is not
// up, and the error says why and where.
func TestHostNotReady(t *testing.T) {
	sec := layertest.Secrets(t)
	caCert, caKey, err := kubernetes.CA(sec, "k")
	if err != nil {
		t.Fatal(err)
	}
	cl := kubetest.Start(t, kubetest.Options{CACertPEM: caCert, CAKeyPEM: caKey, Nodes: []string{"hl-p-0"}})
	_, err = mesosOnKube(t, cl.Endpoint, 2).LayerHost(t.Context(), sec, "kubernetes.k", plan.Addresses{"hl-p-0": "127.0.0.1"})
	if !provisioners.IsTransient(err) || !strings.Contains(err.Error(), "1 of 3 nodes Ready") || !strings.Contains(err.Error(), cl.Endpoint) {
		t.Errorf("three members, one node: %v", err)
	}
	// Another stack's CA is refused both ways.
	otherSeed, err := secrets.Generate()
	if err != nil {
		t.Fatal(err)
	}
	other, err := mesosOnKube(t, cl.Endpoint, 2).LayerHost(t.Context(), otherSeed, "kubernetes.k", nil)
	if err == nil || other != nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("another stack's credentials: %v", err)
	}
}

package kubernetes_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/kubernetes"
	"github.com/stratastack/strata/stacks/layers/kubernetes/kubetest"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/plan"
)

// BenchmarkHostRollout200: a hosted role of 200 replicas (Mesos agents on
// Kubernetes) to Ready and back to nothing, through the Kubernetes host and
// through kubectl (apply --server-side + rollout status; delete --wait) of
// the same manifests, on the same cluster. Every run starts from an empty
// namespace. The target: strata within 1.2x of kubectl.
func BenchmarkHostRollout200(b *testing.B) {
	sec := layertest.Secrets(b)
	caCert, caKey, err := kubernetes.CA(sec, "k")
	if err != nil {
		b.Fatal(err)
	}
	cl := kubetest.Start(b, kubetest.Options{CACertPEM: caCert, CAKeyPEM: caKey, Nodes: []string{"hl-p-0", "hl-p-1", "hl-p-2"}})
	ctx := context.Background()
	known := plan.Addresses{"hl-p-0": "127.0.0.1", "hl-p-1": "127.0.0.2", "hl-p-2": "127.0.0.3"}
	p := mesosOnKube(b, cl.Endpoint, 200)
	objs, err := p.RenderHosted(ctx, sec, "mesos.m", "agent", known)
	if err != nil {
		b.Fatal(err)
	}
	var manifest bytes.Buffer
	for _, o := range objs {
		manifest.WriteString("---\n")
		manifest.Write(o.Body)
	}
	file := filepath.Join(b.TempDir(), "agent.yaml")
	if err := os.WriteFile(file, manifest.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	cache := b.TempDir() // kubectl's discovery cache, out of the user's ~/.kube
	kubectl := func(args ...string) {
		cmd := exec.Command(filepath.Join(kubetest.BinDir(b), "kubectl"), append([]string{"--kubeconfig", cl.Kubeconfig, "--cache-dir", cache}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	gone := func() {
		for {
			_, err := cl.Client.CoreV1().Namespaces().Get(ctx, "hl-m", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	h, err := p.LayerHost(ctx, sec, "kubernetes.k", known)
	if err != nil {
		b.Fatal(err)
	}
	strataUp := func() {
		if err := h.Submit(ctx, objs); err != nil {
			b.Fatal(err)
		}
		if err := h.Wait(ctx, objs); err != nil {
			b.Fatal(err)
		}
	}
	kubectlUp := func() {
		kubectl("apply", "--server-side", "--field-manager", "bench", "-f", file)
		kubectl("rollout", "status", "statefulset/agent", "-n", "hl-m", "--timeout", "10m")
	}
	strataDown := func() {
		placed, err := h.List(ctx, map[string]string{layers.LabelStack: "hl"})
		if err != nil {
			b.Fatal(err)
		}
		// The engine removes a host's objects in parallel; so does this.
		errs := make(chan error, len(placed))
		for _, o := range placed {
			go func() { errs <- h.Remove(ctx, o) }()
		}
		for range placed {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	kubectlDown := func() { kubectl("delete", "--wait", "-f", file) }

	for _, bc := range []struct {
		name       string
		setup, run func()
	}{
		{"up/strata", nil, strataUp},
		{"up/kubectl", nil, kubectlUp},
		{"down/strata", kubectlUp, strataDown},
		{"down/kubectl", kubectlUp, kubectlDown},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				kubectl("delete", "--ignore-not-found", "--wait", "-f", file)
				gone()
				if bc.setup != nil {
					bc.setup()
				}
				b.StartTimer()
				bc.run()
			}
		})
	}
}

package kubetest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/stratastack/strata/stacks/layers/kubernetes/kubetest"
)

// TestCluster starts a cluster under a CA the test made, runs a
// Deployment, a StatefulSet and a Job to completion on two kwok nodes, and
// checks that the CA decides who is admitted.
func TestCluster(t *testing.T) {
	began := time.Now()
	ca := newTestCA(t, "test-ca")
	nodes := []string{"kwok-a", "kwok-b"}
	c := kubetest.Start(t, kubetest.Options{CACertPEM: ca.certPEM, CAKeyPEM: ca.keyPEM, Nodes: nodes})
	started := time.Since(began)
	ctx := t.Context()

	t.Run("workloads", func(t *testing.T) {
		testWorkloads(ctx, t, c.Client, nodes)
	})
	t.Run("kubeconfig", func(t *testing.T) {
		// kubectl, built with the cluster, reads the admin kubeconfig; its
		// discovery cache stays out of the user's ~/.kube.
		out, err := exec.CommandContext(ctx, filepath.Join(kubetest.BinDir(t), "kubectl"),
			"--kubeconfig", c.Kubeconfig, "--cache-dir", t.TempDir(), "get", "nodes", "-o", "name").CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl get nodes: %v\n%s", err, out)
		}
		if got, want := strings.Fields(string(out)), []string{"node/kwok-a", "node/kwok-b"}; !slices.Equal(got, want) {
			t.Fatalf("kubectl get nodes: %q, want %q", got, want)
		}
	})
	t.Run("client certificates", func(t *testing.T) {
		admin := ca.clientConfig(t, c, "alice", "system:masters")
		listNodes(ctx, t, admin, len(nodes))

		// The same subject under another CA: TLS trusts the server, but
		// the API server must not trust the client.
		stranger := newTestCA(t, "other-ca").clientConfig(t, c, "alice", "system:masters")
		_, err := kubernetes.NewForConfigOrDie(stranger).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			t.Fatalf("list nodes with a certificate from another CA: got %v, want 401 Unauthorized", err)
		}

		// Signed by the CA but in no group with rights: authenticated, not authorized.
		nobody := ca.clientConfig(t, c, "nobody")
		_, err = kubernetes.NewForConfigOrDie(nobody).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("list nodes as a user without roles: got %v, want 403 Forbidden", err)
		}
	})
	t.Logf("Start %s, whole test %s", started.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

func testWorkloads(ctx context.Context, t *testing.T, cs kubernetes.Interface, nodes []string) {
	two := int32(2)
	ns := "default"
	pod := func(app string, restart corev1.RestartPolicy) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{
				RestartPolicy: restart,
				Containers:    []corev1.Container{{Name: app, Image: "registry.k8s.io/pause:3.10"}},
			},
		}
	}
	selector := func(app string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       appsv1.DeploymentSpec{Replicas: &two, Selector: selector("web"), Template: pod("web", corev1.RestartPolicyAlways)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: &two, ServiceName: "db", Selector: selector("db"),
			Template: pod("db", corev1.RestartPolicyAlways)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "once"},
		Spec:       batchv1.JobSpec{Template: pod("once", corev1.RestartPolicyNever)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	eventually(ctx, t, "deployment web Available with 2 replicas", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 2 && deploymentAvailable(d), err
	})
	eventually(ctx, t, "statefulset db with 2 ready replicas", func(ctx context.Context) (bool, error) {
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		return err == nil && s.Status.ReadyReplicas == 2, err
	})
	eventually(ctx, t, "job once Complete", func(ctx context.Context) (bool, error) {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
		return err == nil && jobComplete(j), err
	})
	t.Logf("workloads ready and complete %s after creation", time.Since(began).Round(time.Millisecond))

	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 5 {
		t.Errorf("%d pods, want 5 (2 web, 2 db, 1 once)", len(pods.Items))
	}
	for _, p := range pods.Items {
		if !slices.Contains(nodes, p.Spec.NodeName) {
			t.Errorf("pod %s bound to %q, want one of %v", p.Name, p.Spec.NodeName, nodes)
		}
		if p.Status.PodIP == "" {
			t.Errorf("pod %s (%s) has no IP", p.Name, p.Status.Phase)
		}
	}
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func jobComplete(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func listNodes(ctx context.Context, t *testing.T, cfg *rest.Config, want int) {
	t.Helper()
	list, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list nodes: %v", err)
	}
	if len(list.Items) != want {
		t.Fatalf("%d nodes, want %d", len(list.Items), want)
	}
}

// eventually polls cond until it holds, for at most a minute.
func eventually(ctx context.Context, t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		last = err
		return ok, nil // errors are retried: the cluster may be settling
	})
	if err != nil {
		t.Fatalf("%s: %v (last error: %v)", what, err, last)
	}
}

// testCA is a CA made here, independent of the package's own PKI, so that
// the test shows a caller's CA is the one the cluster trusts.
type testCA struct {
	cert            *x509.Certificate
	key             *ecdsa.PrivateKey
	certPEM, keyPEM []byte
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(key) // SEC 1, to exercise that parser
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})}
}

// clientConfig is a client of c authenticating with a certificate this CA
// signed for user in groups; it trusts c's serving certificate.
func (ca *testCA) clientConfig(t *testing.T, c *kubetest.Cluster, user string, groups ...string) *rest.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: user, Organization: groups},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &rest.Config{Host: "https://" + c.Endpoint, TLSClientConfig: rest.TLSClientConfig{
		CAData:   c.CACertPEM,
		CertData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyData:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
	}}
}

package kubernetes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	klabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	kclient "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/layers"
)

var _ layers.Hosting = (*Layer)(nil)

// fieldManager is the server-side apply manager Strata applies as; a
// conflict names the other manager.
const fieldManager = "strata"

// Host implements layers.Hosting: it reaches the layer's API server as
// Strata's admin (a client certificate signed by the stack's CA, which
// the server is verified against too) once the API is ready and the
// layer's nodes are Ready. Until then it returns a transient error that
// names the endpoint and what the server last answered.
func (l *Layer) Host(ctx context.Context, c layers.Cluster) (layers.Host, error) {
	s, err := newSettings(c)
	if err != nil {
		return nil, err
	}
	if c.Settings.String("control_plane_endpoint") == "" && s.cpPlacement == layers.Pool {
		if first, ok := firstMember(c.Members[ControlPlane]); !ok || first.Address == "" {
			return nil, fmt.Errorf("kubernetes: layer %s: %w: its first control plane has no address", c.Name, layers.ErrNotUp)
		}
	}
	cfg, err := adminConfig(c, s.endpoint)
	if err != nil {
		return nil, err
	}
	cs, err := kclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	want := 0
	for _, ms := range c.Members {
		want += len(ms)
	}
	if err := ready(ctx, cs, want); err != nil {
		err = fmt.Errorf("kubernetes layer %s at https://%s: %w", c.Name, s.endpoint, err)
		if refused(err) {
			return nil, err // waiting cannot mend credentials
		}
		return nil, provisioners.Transient(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kdiscovery.NewDiscoveryClient(cs.RESTClient())))
	return &host{cs: cs, dyn: dyn, mapper: mapper, endpoint: s.endpoint, poll: 500 * time.Millisecond, marks: c.MarkLabels()}, nil
}

// adminConfig is a client of the API server at endpoint as Strata's admin.
func adminConfig(c layers.Cluster, endpoint string) (*rest.Config, error) {
	k, err := deriveKeys(c.Secrets, c.Name)
	if err != nil {
		return nil, err
	}
	ca, err := k.caCertPEM(c.Secrets, c.Name)
	if err != nil {
		return nil, err
	}
	cert, key, err := k.adminCert(c.Secrets, c.Name, time.Now())
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            "https://" + endpoint,
		TLSClientConfig: rest.TLSClientConfig{CAData: []byte(ca), CertData: cert, KeyData: key},
		UserAgent:       "strata",
		Timeout:         30 * time.Second,
		QPS:             50,
		Burst:           100,
	}, nil
}

// ready checks the API server's /readyz and that at least want nodes are
// Ready; the error says what is missing.
func ready(ctx context.Context, cs kclient.Interface, want int) error {
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		if len(body) > 0 {
			return fmt.Errorf("/readyz: %w: %s", err, strings.TrimSpace(string(body)))
		}
		return fmt.Errorf("/readyz: %w", err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	n := 0
	for _, node := range nodes.Items {
		for _, cond := range node.Status.Conditions {
			if cond.Type == "Ready" && cond.Status == "True" {
				n++
			}
		}
	}
	if n < want {
		return fmt.Errorf("%d of %d nodes Ready", n, want)
	}
	return nil
}

// refused reports whether the server and Strata do not trust each other:
// a certificate of another CA on either side, or the API refusing the
// admin. Any other failure may pass as the layer comes up.
func refused(err error) bool {
	var verify *tls.CertificateVerificationError
	var alert tls.AlertError
	var unknown x509.UnknownAuthorityError
	return errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &unknown) ||
		apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err)
}

// host is a running Kubernetes layer as a place objects go.
type host struct {
	cs       kclient.Interface
	dyn      dynamic.Interface
	mapper   meta.ResettableRESTMapper
	endpoint string
	poll     time.Duration
	// marks label every object's own metadata, never a selector or a pod
	// template: a TTL extended re-labels without restarting a pod.
	marks map[string]string
}

// decode turns a rendered object into the unstructured form the dynamic
// client applies, and finds its resource.
func (h *host) decode(o layers.Object) (*unstructured.Unstructured, schema.GroupVersionResource, bool, error) {
	var u unstructured.Unstructured
	if err := yaml.Unmarshal(o.Body, &u.Object); err != nil {
		return nil, schema.GroupVersionResource{}, false, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	gvk := u.GroupVersionKind()
	m, err := h.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		h.mapper.Reset() // a CRD made since the last discovery
		if m, err = h.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, schema.GroupVersionResource{}, false, fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
		}
	}
	return &u, m.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

func (h *host) resource(gvr schema.GroupVersionResource, namespaced bool, ns string) dynamic.ResourceInterface {
	if namespaced {
		return h.dyn.Resource(gvr).Namespace(ns)
	}
	return h.dyn.Resource(gvr)
}

// Submit applies objs in order (namespaces come first in every render)
// with server-side apply: unchanged objects stay as they are, a new count
// changes only the replicas.
func (h *host) Submit(ctx context.Context, objs []layers.Object) error {
	for _, o := range objs {
		u, gvr, namespaced, err := h.decode(o)
		if err != nil {
			return err
		}
		if len(h.marks) > 0 {
			l := u.GetLabels()
			if l == nil {
				l = map[string]string{}
			}
			maps.Copy(l, h.marks)
			u.SetLabels(l)
		}
		_, err = h.resource(gvr, namespaced, u.GetNamespace()).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager})
		if err != nil {
			return h.explain(fmt.Sprintf("applying %s %s", u.GetKind(), qualified(u.GetNamespace(), u.GetName())), err)
		}
	}
	return nil
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// explain words an API error for a user, and marks the ones worth
// retrying: a server that is busy, restarting or not answering.
func (h *host) explain(what string, err error) error {
	err = fmt.Errorf("%s on %s: %w", what, h.endpoint, err)
	switch {
	case apierrors.IsConflict(err):
		// The API names the other field manager in the conflict's causes.
		return fmt.Errorf("%w (another field manager owns these fields: change them there, or remove that manager's field ownership)", err)
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), provisioners.Dropped(err):
		return provisioners.Transient(err)
	}
	return err
}

// Wait polls each workload in objs until it is rolled out: a StatefulSet
// or Deployment with all replicas updated and ready (Available), a
// DaemonSet scheduled and ready everywhere, a Job Complete. A pod of the
// workload that failed ends the wait with its role, pod, container and
// reason.
func (h *host) Wait(ctx context.Context, objs []layers.Object) error {
	for _, o := range objs {
		u, gvr, namespaced, err := h.decode(o)
		if err != nil {
			return err
		}
		switch u.GetKind() {
		case "StatefulSet", "Deployment", "DaemonSet", "Job":
		default:
			continue
		}
		what := fmt.Sprintf("%s %s (role %s)", u.GetKind(), qualified(u.GetNamespace(), u.GetName()), o.Labels[layers.LabelRole])
		for {
			cur, err := h.resource(gvr, namespaced, u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return h.explain("reading "+what, err)
			}
			done, why, err := rolledOut(cur)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			if done {
				break
			}
			if err := h.podFailure(ctx, cur); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			t := time.NewTimer(h.poll)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%s is not rolled out (%s): %w", what, why, ctx.Err())
			case <-t.C:
			}
		}
	}
	return nil
}

// rolledOut reads a workload's status; why says what is still missing.
func rolledOut(u *unstructured.Unstructured) (done bool, why string, err error) {
	num := func(path ...string) int64 {
		v, _ := integer(u, path...)
		return v
	}
	gen, observed := num("metadata", "generation"), num("status", "observedGeneration")
	if u.GetKind() != "Job" && observed < gen {
		return false, "the controller has not seen the latest spec yet", nil
	}
	replicas, found := integer(u, "spec", "replicas")
	if !found {
		replicas = 1
	}
	switch u.GetKind() {
	case "StatefulSet":
		ready, updated := num("status", "readyReplicas"), num("status", "updatedReplicas")
		return ready >= replicas && updated >= replicas, fmt.Sprintf("%d/%d replicas ready, %d updated", ready, replicas, updated), nil
	case "Deployment":
		ready, updated := num("status", "availableReplicas"), num("status", "updatedReplicas")
		return ready >= replicas && updated >= replicas && condition(u, "Available") == "True",
			fmt.Sprintf("%d/%d replicas available, %d updated", ready, replicas, updated), nil
	case "DaemonSet":
		want, ready, updated := num("status", "desiredNumberScheduled"), num("status", "numberReady"), num("status", "updatedNumberScheduled")
		return ready >= want && updated >= want, fmt.Sprintf("%d/%d ready, %d updated", ready, want, updated), nil
	case "Job":
		if condition(u, "Failed") == "True" {
			return false, "", errors.New("the job failed: " + conditionMessage(u, "Failed"))
		}
		return condition(u, "Complete") == "True", fmt.Sprintf("%d succeeded", num("status", "succeeded")), nil
	}
	return true, "", nil
}

// integer reads a number field, whether decoded from the API (int64) or
// from YAML or JSON text (float64).
func integer(u *unstructured.Unstructured, path ...string) (int64, bool) {
	v, found, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
	switch n := v.(type) {
	case int64:
		return n, found
	case float64:
		return int64(n), found
	}
	return 0, false
}

func condition(u *unstructured.Unstructured, typ string) string {
	status, _ := conditionField(u, typ, "status")
	return status
}

func conditionMessage(u *unstructured.Unstructured, typ string) string {
	reason, _ := conditionField(u, typ, "reason")
	msg, _ := conditionField(u, typ, "message")
	return strings.TrimSpace(reason + " " + msg)
}

func conditionField(u *unstructured.Unstructured, typ, field string) (string, bool) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == typ {
			v, ok := m[field].(string)
			return v, ok
		}
	}
	return "", false
}

// stuck are the container states a pod does not leave by itself.
func stuck(reason string) bool {
	switch reason {
	case "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
		"CreateContainerConfigError", "CreateContainerError", "RunContainerError":
		return true
	}
	return false
}

// podFailure reports the first pod of a workload that failed or is stuck.
func (h *host) podFailure(ctx context.Context, u *unstructured.Unstructured) error {
	sel, found, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	if !found || len(sel) == 0 {
		return nil
	}
	pods, err := h.cs.CoreV1().Pods(u.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: klabels.Set(sel).String()})
	if err != nil {
		return nil // the workload's own status still tells; a failed list is no verdict
	}
	for _, p := range pods.Items {
		if p.Status.Phase == "Failed" && u.GetKind() != "Job" {
			return fmt.Errorf("pod %s failed: %s %s", p.Name, p.Status.Reason, p.Status.Message)
		}
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			if w := cs.State.Waiting; w != nil && stuck(w.Reason) {
				return fmt.Errorf("pod %s container %s: %s: %s", p.Name, cs.Name, w.Reason, w.Message)
			}
		}
	}
	return nil
}

// Listed are the resources Strata's renderers make, which the host's List
// searches for a stack's objects.
func Listed() []schema.GroupVersionResource {
	return []schema.GroupVersionResource{
		{Version: "v1", Resource: "namespaces"},
		{Version: "v1", Resource: "configmaps"},
		{Version: "v1", Resource: "secrets"},
		{Version: "v1", Resource: "services"},
		{Version: "v1", Resource: "serviceaccounts"},
		{Version: "v1", Resource: "persistentvolumeclaims"},
		{Group: "apps", Version: "v1", Resource: "statefulsets"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "apps", Version: "v1", Resource: "daemonsets"},
		{Group: "batch", Version: "v1", Resource: "jobs"},
		{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	}
}

// List finds the objects of those resources that carry all of labels, in
// every namespace. An ID is GROUP/VERSION/RESOURCE/NAMESPACE/NAME.
func (h *host) List(ctx context.Context, labels map[string]string) ([]layers.Placed, error) {
	opts := metav1.ListOptions{LabelSelector: klabels.Set(labels).String()}
	var out []layers.Placed
	for _, gvr := range Listed() {
		list, err := h.dyn.Resource(gvr).List(ctx, opts)
		if err != nil {
			return nil, h.explain("listing "+gvr.Resource, err)
		}
		for _, u := range list.Items {
			state := provisioners.StateRunning
			if u.GetDeletionTimestamp() != nil {
				state = provisioners.StateGone
			}
			out = append(out, layers.Placed{
				ID:     strings.Join([]string{gvr.Group, gvr.Version, gvr.Resource, u.GetNamespace(), u.GetName()}, "/"),
				Kind:   u.GetKind(),
				Labels: u.GetLabels(),
				State:  state,
			})
		}
	}
	return out, nil
}

// Remove deletes the object (its dependents with it) and waits until it is
// gone; one already gone is success.
func (h *host) Remove(ctx context.Context, p layers.Placed) error {
	f := strings.Split(p.ID, "/")
	if len(f) != 5 {
		return fmt.Errorf("kubernetes: %q is not an object id this host made", p.ID)
	}
	r := h.resource(schema.GroupVersionResource{Group: f[0], Version: f[1], Resource: f[2]}, f[3] != "", f[3])
	bg := metav1.DeletePropagationBackground
	if err := r.Delete(ctx, f[4], metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		return h.explain("deleting "+p.ID, err)
	}
	for {
		_, err := r.Get(ctx, f[4], metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return h.explain("reading "+p.ID, err)
		}
		t := time.NewTimer(h.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s is still there: %w", p.ID, ctx.Err())
		case <-t.C:
		}
	}
}

package openstack

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/stratastack/strata/stacks/layers"
)

func ptr[T any](v T) *T { return &v }

// configKey is a file's key in the role's ConfigMap.
func configKey(path string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "_")
}

// volumeName turns a path into a volume name (a DNS label).
func volumeName(prefix, path string) string {
	n := prefix + strings.ReplaceAll(strings.Trim(path, "/"), "/", "-")
	n = strings.ReplaceAll(strings.ReplaceAll(n, "_", "-"), ".", "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	return n
}

// labels are the labels of a workload's objects, on either host: the
// stack's (layers.Cluster.Labels) and Kubernetes' recommended ones.
func (p *plan) labels(role, name string) map[string]string {
	l := p.c.Labels(role)
	maps.Copy(l, map[string]string{
		"app.kubernetes.io/name":       name,
		"app.kubernetes.io/instance":   p.ns,
		"app.kubernetes.io/component":  role,
		"app.kubernetes.io/part-of":    "openstack",
		"app.kubernetes.io/managed-by": "strata",
	})
	return l
}

// nsLabels are the labels of the namespace the roles share.
func (p *plan) nsLabels() map[string]string {
	l := p.c.Labels("")
	l["app.kubernetes.io/managed-by"] = "strata"
	return l
}

func (p *plan) meta(role, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: p.ns, Labels: p.labels(role, name)}
}

func kubeObject(kind, name string, obj any, sensitive bool) (layers.Object, error) {
	// Round-trip through a map to drop what the typed structs always
	// emit but a desired state has no business holding (status, null
	// creation timestamps).
	j, err := json.Marshal(obj)
	if err != nil {
		return layers.Object{}, fmt.Errorf("openstack: %s %s: %w", kind, name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return layers.Object{}, fmt.Errorf("openstack: %s %s: %w", kind, name, err)
	}
	prune(m)
	b, err := yaml.Marshal(m)
	if err != nil {
		return layers.Object{}, fmt.Errorf("openstack: %s %s: %w", kind, name, err)
	}
	return layers.Object{Format: "kubernetes", Kind: kind, Name: name, Body: b, Sensitive: sensitive}, nil
}

func prune(v any) {
	switch t := v.(type) {
	case map[string]any:
		delete(t, "status")
		if ts, ok := t["creationTimestamp"]; ok && ts == nil {
			delete(t, "creationTimestamp")
		}
		for _, x := range t {
			prune(x)
		}
	case []any:
		for _, x := range t {
			prune(x)
		}
	}
}

// renderOnKubernetes renders a role as Kubernetes objects in namespace
// <stack>-<layer>: the namespace, the role's Secret and ConfigMap, then a
// Service and a workload object per workload.
func (p *plan) renderOnKubernetes(role string, ws []workload) ([]layers.Object, error) {
	files := p.roleFiles(role)
	names := roleSecrets(role, true)
	vals := p.secrets(names)
	secretName := "openstack-" + role + "-secrets"
	configName := "openstack-" + role + "-config"

	type item struct {
		kind, name string
		obj        any
		sensitive  bool
	}
	items := []item{
		{"Namespace", p.ns, &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: p.ns, Labels: p.nsLabels()},
		}, false},
		{"Secret", secretName, &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: p.meta(role, secretName),
			Type:       corev1.SecretTypeOpaque,
			StringData: vals,
		}, true},
	}
	data := map[string]string{}
	for path, f := range files {
		data[configKey(path)] = f.content
	}
	items = append(items, item{"ConfigMap", configName, &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: p.meta(role, configName),
		Data:       data,
	}, false})

	for _, w := range ws {
		pod := p.podSpec(w, files, names, secretName, configName)
		tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: p.labels(role, w.name)}, Spec: pod}
		sel := &metav1.LabelSelector{MatchLabels: map[string]string{
			"app.kubernetes.io/name": w.name, "app.kubernetes.io/instance": p.ns}}
		var ports []corev1.ServicePort
		for _, pr := range w.procs {
			if pr.port != 0 {
				ports = append(ports, corev1.ServicePort{Name: fmt.Sprintf("tcp-%d", pr.port), Port: int32(pr.port), TargetPort: intstr.FromInt32(int32(pr.port))})
			}
		}
		if len(ports) > 0 && w.kind != "DaemonSet" && w.kind != "Job" {
			svc := &corev1.Service{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
				ObjectMeta: p.meta(role, w.name),
				Spec:       corev1.ServiceSpec{Selector: sel.MatchLabels, Ports: ports},
			}
			if w.kind == "StatefulSet" {
				svc.Spec.ClusterIP = corev1.ClusterIPNone
			}
			items = append(items, item{"Service", w.name, svc, false})
		}
		switch w.kind {
		case "Deployment":
			items = append(items, item{w.kind, w.name, &appsv1.Deployment{
				TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: w.kind},
				ObjectMeta: p.meta(role, w.name),
				Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(w.replicas)), Selector: sel, Template: tmpl},
			}, false})
		case "StatefulSet":
			pvc := corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(w.dataSize)}},
				},
			}
			items = append(items, item{w.kind, w.name, &appsv1.StatefulSet{
				TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: w.kind},
				ObjectMeta: p.meta(role, w.name),
				Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(w.replicas)), ServiceName: w.name, Selector: sel, Template: tmpl,
					VolumeClaimTemplates: []corev1.PersistentVolumeClaim{pvc}},
			}, false})
		case "DaemonSet":
			items = append(items, item{w.kind, w.name, &appsv1.DaemonSet{
				TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: w.kind},
				ObjectMeta: p.meta(role, w.name),
				Spec:       appsv1.DaemonSetSpec{Selector: sel, Template: tmpl},
			}, false})
		case "Job":
			tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			items = append(items, item{w.kind, w.name, &batchv1.Job{
				TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: w.kind},
				ObjectMeta: p.meta(role, w.name),
				Spec:       batchv1.JobSpec{BackoffLimit: ptr(int32(20)), Template: tmpl},
			}, false})
		default:
			return nil, fmt.Errorf("openstack: workload %s has unknown kind %q", w.name, w.kind)
		}
	}
	out := make([]layers.Object, 0, len(items))
	for _, it := range items {
		o, err := kubeObject(it.kind, it.name, it.obj, it.sensitive)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (p *plan) podSpec(w workload, files map[string]file, roleSecretNames []string, secretName, configName string) corev1.PodSpec {
	spec := corev1.PodSpec{}
	if w.host {
		spec.HostNetwork, spec.HostPID = true, true
		spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	if w.fsGroup != 0 {
		spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr(w.fsGroup)}
	}
	vols := map[string]corev1.Volume{}
	addVol := func(v corev1.Volume) { vols[v.Name] = v }
	build := func(pr proc) corev1.Container {
		c := corev1.Container{Name: pr.name, Image: pr.image}
		switch {
		case pr.script != "" && strings.HasPrefix(pr.image, KollaRegistry):
			// dumb-init, the Kolla images' entrypoint, reaps children.
			c.Command = []string{"dumb-init", "--single-child", "--", "/bin/sh", "-c", pr.script}
		case pr.script != "":
			c.Command = []string{"/bin/sh", "-c", pr.script}
		default:
			c.Args = pr.args
		}
		if pr.hostIP {
			c.Env = append(c.Env, corev1.EnvVar{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}})
		}
		if pr.allSecrets {
			c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: secretName}}}}
		} else {
			// Each secret first, so later values can expand $(NAME).
			for _, s := range usedSecrets(pr, files, roleSecretNames) {
				c.Env = append(c.Env, corev1.EnvVar{Name: s, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: secretName}, Key: s}}})
			}
		}
		for _, e := range procEnv(pr, files) {
			c.Env = append(c.Env, corev1.EnvVar{Name: e.Name, Value: secretRef.ReplaceAllString(e.Value, "$$($1)")})
		}
		if pr.port != 0 {
			c.Ports = []corev1.ContainerPort{{ContainerPort: int32(pr.port), Protocol: corev1.ProtocolTCP}}
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(pr.port))}},
				PeriodSeconds: 10}
		}
		c.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(fmt.Sprintf("%dm", int(pr.cpus*1000))),
			corev1.ResourceMemory: resource.MustParse(fmt.Sprintf("%dMi", int(pr.mem))),
		}}
		if pr.privileged || pr.root {
			c.SecurityContext = &corev1.SecurityContext{}
			if pr.privileged {
				c.SecurityContext.Privileged = ptr(true)
			}
			if pr.root {
				c.SecurityContext.RunAsUser = ptr(int64(0))
			}
		}
		for _, f := range pr.files {
			addVol(corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: configName}, DefaultMode: ptr(int32(0o444))}}})
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "config", MountPath: f, SubPath: configKey(f), ReadOnly: true})
		}
		for _, d := range pr.secretDirs {
			name := volumeName("secret-", d.dir)
			var its []corev1.KeyToPath
			for _, f := range d.files {
				its = append(its, corev1.KeyToPath{Key: f[1], Path: f[0]})
			}
			addVol(corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: secretName, Items: its, DefaultMode: ptr(int32(0o440))}}})
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: d.dir, ReadOnly: true})
		}
		for _, s := range pr.scratch {
			name := volumeName("scratch-", s)
			addVol(corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: s})
		}
		if pr.data != "" {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: pr.data})
		}
		for _, h := range pr.hostPaths {
			name := volumeName("host-", h.path)
			addVol(corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: h.path}}})
			m := corev1.VolumeMount{Name: name, MountPath: h.path}
			if h.bidirection {
				m.MountPropagation = ptr(corev1.MountPropagationBidirectional)
			}
			c.VolumeMounts = append(c.VolumeMounts, m)
		}
		return c
	}
	for _, pr := range w.init {
		spec.InitContainers = append(spec.InitContainers, build(pr))
	}
	for _, pr := range w.procs {
		spec.Containers = append(spec.Containers, build(pr))
	}
	keys := make([]string, 0, len(vols))
	for k := range vols {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		spec.Volumes = append(spec.Volumes, vols[k])
	}
	return spec
}

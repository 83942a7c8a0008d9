package mesos

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/stratastack/strata/stacks/layers"
)

// RenderHosted implements layers.Layer: a role as Kubernetes objects. Mesos
// cannot host itself, so "mesos" (and anything else) is refused.
func (l *Layer) RenderHosted(ctx context.Context, h layers.Hosted) ([]layers.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkPlacement(h.Role, h.HostKind); err != nil {
		return nil, err
	}
	if h.HostKind != "kubernetes" {
		return nil, fmt.Errorf("mesos: no renderer for host kind %q", h.HostKind)
	}
	if h.Count < 1 {
		return nil, fmt.Errorf("mesos: role %q needs a count of at least 1 on kubernetes, got %d", h.Role, h.Count)
	}
	cfg, err := resolve(h.Cluster)
	if err != nil {
		return nil, err
	}
	if cfg.image == "" {
		return nil, fmt.Errorf("mesos: artifact %q is a package; roles hosted on kubernetes need a container image artifact", cfg.pkgURL)
	}
	k := onKubernetes{h: h, cfg: cfg, ns: dnsLabel(h.Stack + "-" + h.Name)}
	if h.Role == RoleMaster {
		return k.master()
	}
	return k.agent()
}

type onKubernetes struct {
	h   layers.Hosted
	cfg config
	ns  string
}

func (k onKubernetes) labels(role string) map[string]string {
	l := k.selector(role)
	maps.Copy(l, k.h.Labels(role))
	l["app.kubernetes.io/part-of"] = k.h.Stack
	l["app.kubernetes.io/managed-by"] = "strata"
	l["app.kubernetes.io/version"] = k.h.Version
	return l
}

func (k onKubernetes) selector(role string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      Kind,
		"app.kubernetes.io/instance":  dnsLabel(k.h.Name),
		"app.kubernetes.io/component": role,
	}
}

func (k onKubernetes) meta(name, role string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: k.ns, Labels: k.labels(role)}
}

// podHosts are the masters' stable DNS names through their headless
// Service, as seen from inside the cluster.
func (k onKubernetes) podHosts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d.%s.%s.svc", RoleMaster, i, RoleMaster, k.ns)
	}
	return out
}

func (k onKubernetes) nsLabels() map[string]string {
	l := k.h.Labels("")
	l["app.kubernetes.io/managed-by"] = "strata"
	l["app.kubernetes.io/part-of"] = k.h.Stack
	return l
}

func (k onKubernetes) namespace() corev1.Namespace {
	return corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: k.ns, Labels: k.nsLabels()},
	}
}

func (k onKubernetes) master() ([]layers.Object, error) {
	n := k.h.Count
	hosts := k.podHosts(n)
	self := fmt.Sprintf("$(POD_NAME).%s.%s.svc", RoleMaster, k.ns)
	servers := make([]string, n)
	for i, h := range hosts {
		servers[i] = fmt.Sprintf("server.%d=%s:%d:%d;%d", i+1, h, zkPeerPort, zkElectPort, zkPort)
	}

	secret := corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: k.meta("master-credentials", RoleMaster),
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{
			"credentials.json": mastersCredentials(k.h.Cluster),
			"marathon-secret":  marathonSecret(k.h.Cluster),
		},
	}
	peers := corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: k.meta(RoleMaster, RoleMaster),
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			// ZooKeeper peers must find each other before any is ready.
			PublishNotReadyAddresses: true,
			Selector:                 k.selector(RoleMaster),
			Ports: []corev1.ServicePort{
				svcPort("zk-client", zkPort), svcPort("zk-peer", zkPeerPort), svcPort("zk-election", zkElectPort),
				svcPort("mesos-master", masterPort), svcPort("marathon", marathonPort),
			},
		},
	}
	client := corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: k.meta("master-client", RoleMaster),
		Spec: corev1.ServiceSpec{
			Selector: k.selector(RoleMaster),
			Ports: []corev1.ServicePort{
				svcPort("zk-client", zkPort), svcPort("mesos-master", masterPort), svcPort("marathon", marathonPort),
			},
		},
	}

	zookeeper := corev1.Container{
		Name:  "zookeeper",
		Image: k.cfg.zookeeper,
		// myid is the StatefulSet ordinal + 1; $$ escapes Kubernetes' own
		// $(VAR) expansion.
		Command: []string{"bash", "-c", "export ZOO_MY_ID=$$((${HOSTNAME##*-} + 1)); exec /docker-entrypoint.sh zkServer.sh start-foreground"},
		Env: []corev1.EnvVar{
			{Name: "ZOO_SERVERS", Value: strings.Join(servers, " ")},
			// Marathon shares the pod's network and owns 8080.
			{Name: "ZOO_ADMINSERVER_ENABLED", Value: "false"},
			{Name: "ZOO_4LW_COMMANDS_WHITELIST", Value: "ruok,srvr,mntr"},
			{Name: "ZOO_CFG_EXTRA", Value: "quorumListenOnAllIPs=true"},
		},
		Ports: []corev1.ContainerPort{
			ctrPort("zk-client", zkPort), ctrPort("zk-peer", zkPeerPort), ctrPort("zk-election", zkElectPort),
		},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(zkPort)}}, PeriodSeconds: 10},
		Resources:      resources("250m", "512Mi", "1Gi"),
		VolumeMounts: []corev1.VolumeMount{
			{Name: "data", MountPath: "/data", SubPath: "zookeeper"},
			{Name: "data", MountPath: "/datalog", SubPath: "zookeeper-log"},
		},
	}
	mesosMaster := corev1.Container{
		Name:    "mesos-master",
		Image:   k.cfg.image,
		Command: []string{"mesos-master"},
		Env: append(podEnv(),
			corev1.EnvVar{Name: "MESOS_IP", Value: "$(POD_IP)"},
			corev1.EnvVar{Name: "MESOS_HOSTNAME", Value: self},
			corev1.EnvVar{Name: "MESOS_PORT", Value: fmt.Sprint(masterPort)},
			corev1.EnvVar{Name: "MESOS_ZK", Value: zkURL(hosts, "/mesos")},
			corev1.EnvVar{Name: "MESOS_QUORUM", Value: fmt.Sprint(quorum(n))},
			corev1.EnvVar{Name: "MESOS_CLUSTER", Value: clusterName(k.h.Cluster)},
			corev1.EnvVar{Name: "MESOS_WORK_DIR", Value: masterWorkDir},
			corev1.EnvVar{Name: "MESOS_AUTHENTICATE_AGENTS", Value: "true"},
			corev1.EnvVar{Name: "MESOS_AUTHENTICATE_FRAMEWORKS", Value: "true"},
			corev1.EnvVar{Name: "MESOS_CREDENTIALS", Value: confDir + "/credentials.json"},
		),
		Ports:          []corev1.ContainerPort{ctrPort("mesos-master", masterPort)},
		ReadinessProbe: httpProbe("/health", masterPort),
		Resources:      resources("500m", "1Gi", "2Gi"),
		VolumeMounts: []corev1.VolumeMount{
			{Name: "data", MountPath: masterWorkDir, SubPath: "mesos"},
			{Name: "credentials", MountPath: confDir, ReadOnly: true},
		},
	}
	marathon := corev1.Container{
		Name:  "marathon",
		Image: k.cfg.marathon,
		Args: []string{
			"--master", zkURL(hosts, "/mesos"),
			"--zk", zkURL(hosts, "/marathon"),
			"--hostname", self,
			"--http_port", fmt.Sprint(marathonPort),
			"--framework_name", "marathon",
			"--mesos_authentication",
			"--mesos_authentication_principal", marathonPrincipal,
			"--mesos_authentication_secret_file", "/etc/marathon/secret",
		},
		Env:            append(podEnv(), corev1.EnvVar{Name: "LIBPROCESS_IP", Value: "$(POD_IP)"}),
		Ports:          []corev1.ContainerPort{ctrPort("marathon", marathonPort)},
		ReadinessProbe: httpProbe("/ping", marathonPort),
		Resources:      resources("500m", "1Gi", "2Gi"),
		VolumeMounts:   []corev1.VolumeMount{{Name: "marathon-secret", MountPath: "/etc/marathon", ReadOnly: true}},
	}
	sts := appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: k.meta(RoleMaster, RoleMaster),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr(int32(n)),
			ServiceName: RoleMaster,
			// The ensemble needs all members up to form a quorum.
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: k.selector(RoleMaster)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: k.labels(RoleMaster)},
				Spec: corev1.PodSpec{
					Affinity:   spreadByNode(k.selector(RoleMaster), false),
					Containers: []corev1.Container{zookeeper, mesosMaster, marathon},
					Volumes: []corev1.Volume{
						secretVolume("credentials", "master-credentials", "credentials.json", "credentials.json", 0o400),
						// Only the Marathon container mounts this; its
						// image may run as nobody, hence world-readable.
						secretVolume("marathon-secret", "master-credentials", "marathon-secret", "secret", 0o444),
					},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
				},
			}},
		},
	}
	pdb := policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: k.meta(RoleMaster, RoleMaster),
		Spec: policyv1.PodDisruptionBudgetSpec{
			// Keep a ZooKeeper and replicated-log quorum through drains.
			MinAvailable: ptr(intstr.FromInt32(int32(quorum(n)))),
			Selector:     &metav1.LabelSelector{MatchLabels: k.selector(RoleMaster)},
		},
	}
	list := []obj{
		{k.namespace(), "Namespace", k.ns, false},
		{secret, "Secret", secret.Name, true},
		{peers, "Service", peers.Name, false},
		{client, "Service", client.Name, false},
		{sts, "StatefulSet", sts.Name, false},
	}
	// A lone master would make the budget block every drain.
	if n > 1 {
		list = append(list, obj{pdb, "PodDisruptionBudget", pdb.Name, false})
	}
	return objects(list...)
}

func (k onKubernetes) agent() ([]layers.Object, error) {
	masters := sortedMembers(k.h.Members[RoleMaster])
	if len(masters) == 0 {
		return nil, fmt.Errorf("mesos: layer %q has no master members", k.h.Name)
	}
	zk := memberHosts(masters)
	if k.h.Placements[RoleMaster] == "kubernetes" {
		zk = k.podHosts(len(masters))
	}
	hostname := fmt.Sprintf("$(POD_NAME).%s.%s.svc", RoleAgent, k.ns)
	env := podEnv()
	if k.cfg.hostNetwork {
		env = append(env, corev1.EnvVar{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}})
		hostname = "$(NODE_NAME)"
	}
	env = append(env,
		corev1.EnvVar{Name: "MESOS_IP", Value: "$(POD_IP)"},
		corev1.EnvVar{Name: "MESOS_HOSTNAME", Value: hostname},
		corev1.EnvVar{Name: "MESOS_PORT", Value: fmt.Sprint(agentPort)},
		corev1.EnvVar{Name: "MESOS_MASTER", Value: zkURL(zk, "/mesos")},
		corev1.EnvVar{Name: "MESOS_CREDENTIAL", Value: confDir + "/credential.json"},
		corev1.EnvVar{Name: "MESOS_WORK_DIR", Value: agentWorkDir},
		// Offer what the pod is given, not the whole node.
		corev1.EnvVar{Name: "MESOS_RESOURCES", Value: fmt.Sprintf("cpus:%d;mem:%d", k.cfg.agentCPUs, k.cfg.agentMemMB)},
		// No Docker daemon in a pod and no cgroups v1 to count on: the
		// Mesos containerizer with posix isolation.
		corev1.EnvVar{Name: "MESOS_CONTAINERIZERS", Value: "mesos"},
		corev1.EnvVar{Name: "MESOS_LAUNCHER", Value: "posix"},
		corev1.EnvVar{Name: "MESOS_ISOLATION", Value: "posix/cpu,posix/mem,posix/disk"},
		corev1.EnvVar{Name: "MESOS_SYSTEMD_ENABLE_SUPPORT", Value: "false"},
	)
	mem := resource.MustParse(fmt.Sprintf("%dMi", k.cfg.agentMemMB+256)) // headroom for the agent itself
	cpu := resource.MustParse(fmt.Sprint(k.cfg.agentCPUs))

	secret := corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: k.meta("agent-credential", RoleAgent),
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{"credential.json": agentCredential(k.h.Cluster)},
	}
	svc := corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: k.meta(RoleAgent, RoleAgent),
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 k.selector(RoleAgent),
			Ports:                    []corev1.ServicePort{svcPort("mesos-agent", agentPort)},
		},
	}
	pod := corev1.PodSpec{
		Affinity: spreadByNode(k.selector(RoleAgent), k.cfg.hostNetwork),
		Containers: []corev1.Container{{
			Name:            "mesos-agent",
			Image:           k.cfg.image,
			Command:         []string{"mesos-agent"},
			Env:             env,
			Ports:           []corev1.ContainerPort{ctrPort("mesos-agent", agentPort)},
			ReadinessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(agentPort)}}, PeriodSeconds: 10},
			SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "work", MountPath: agentWorkDir},
				{Name: "credential", MountPath: confDir, ReadOnly: true},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			secretVolume("credential", "agent-credential", "credential.json", "credential.json", 0o400),
		},
	}
	if k.cfg.hostNetwork {
		pod.HostNetwork = true
		pod.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	sts := appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: k.meta(RoleAgent, RoleAgent),
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr(int32(k.h.Count)),
			ServiceName:         RoleAgent,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: k.selector(RoleAgent)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: k.labels(RoleAgent)},
				Spec:       pod,
			},
		},
	}
	return objects(
		obj{k.namespace(), "Namespace", k.ns, false},
		obj{secret, "Secret", secret.Name, true},
		obj{svc, "Service", svc.Name, false},
		obj{sts, "StatefulSet", sts.Name, false},
	)
}

type obj struct {
	v         any
	kind      string
	name      string
	sensitive bool
}

// objects renders each object as one YAML document, without the empty
// status the typed API structs carry.
func objects(list ...obj) ([]layers.Object, error) {
	out := make([]layers.Object, 0, len(list))
	for _, o := range list {
		j, err := json.Marshal(o.v)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			return nil, err
		}
		delete(m, "status")
		if spec, ok := m["spec"].(map[string]any); ok {
			if vcts, ok := spec["volumeClaimTemplates"].([]any); ok {
				for _, v := range vcts {
					if pvc, ok := v.(map[string]any); ok {
						delete(pvc, "status")
					}
				}
			}
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		out = append(out, layers.Object{Format: "kubernetes", Kind: o.kind, Name: o.name, Body: y, Sensitive: o.sensitive})
	}
	return out, nil
}

func podEnv() []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
	}
}

func svcPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP}
}

func ctrPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

func httpProbe(path string, port int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(port)}},
		PeriodSeconds: 10, InitialDelaySeconds: 10,
	}
}

func resources(cpu, mem, memLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memLimit)},
	}
}

func secretVolume(name, secret, key, path string, mode int32) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, DefaultMode: ptr(mode), Items: []corev1.KeyToPath{{Key: key, Path: path}},
	}}}
}

// spreadByNode keeps instances on different nodes: preferred, or required
// when they would clash on host ports.
func spreadByNode(sel map[string]string, required bool) *corev1.Affinity {
	term := corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: sel}, TopologyKey: "kubernetes.io/hostname"}
	if required {
		return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}}
	}
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}}}}
}

// dnsLabel makes s a valid DNS label (namespace and label values).
func dnsLabel(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}

func ptr[T any](v T) *T { return &v }

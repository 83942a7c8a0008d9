package openstack

import (
	"fmt"
	"sort"
	"strings"
)

// proc is one container (kubernetes) or one app (marathon).
type proc struct {
	name  string
	image string
	// script runs under sh -c; empty runs the image's own entrypoint with args.
	script string
	args   []string
	// files are config file paths (keys of the role's files), mounted
	// read-only at that path; the secrets their options need come along
	// as environment variables.
	files      []string
	env        []envVar // values may hold ${SECRET}
	secretEnv  []string // secrets its script reads, under their own names
	allSecrets bool     // every secret of the role as environment (scripts)
	secretDirs []secretDir
	hostIP     bool // needs HOST_IP: the address of the node it runs on
	port       int  // the TCP port it serves, 0 for none
	cpus, mem  float64
	privileged bool
	root       bool // runs as root, whatever the image's user
	hostPaths  []hostPath
	data       string   // path of its persistent data, "" for none
	scratch    []string // paths of throwaway writable directories
	done       bool     // a one-time step (kubernetes init container; marathon app that then idles)
}

// secretDir is a directory of files, each one secret (Fernet keys).
type secretDir struct {
	dir   string
	files [][2]string // file name, secret
}

type hostPath struct {
	path        string
	bidirection bool // mount propagation both ways (network namespaces)
}

// workload is one Deployment/StatefulSet/DaemonSet/Job, or the apps of a
// marathon group.
type workload struct {
	name     string
	kind     string // Deployment, StatefulSet, DaemonSet or Job
	replicas int
	init     []proc
	procs    []proc
	deps     []string // workloads that must be up first (marathon)
	dataSize string   // StatefulSet volume size
	host     bool     // host network and PID (compute)
	fsGroup  int64
}

// file is one rendered config file of a role.
type file struct {
	content string
	env     []envVar
}

func (p *plan) kolla(image string) string {
	return fmt.Sprintf("%s/%s:%s-ubuntu-noble", KollaRegistry, image, p.version)
}

// roleFiles renders every config file of a role for hosting: secrets stay
// out of the files.
func (p *plan) roleFiles(role string) map[string]file {
	files := map[string]file{}
	add := func(path string, f ini) {
		text, env := f.render(nil, false)
		files[path] = file{content: text, env: env}
	}
	raw := func(path, text string) { files[path] = file{content: text} }
	if role == RoleCompute {
		add("/etc/nova/nova.conf", p.novaConf(RoleCompute))
		add("/etc/nova/nova-compute.conf", novaComputeConf())
		add("/etc/neutron/neutron_ovn_metadata_agent.ini", p.metadataAgentConf())
		return files
	}
	add("/etc/keystone/keystone.conf", p.keystoneConf())
	add("/etc/glance/glance-api.conf", p.glanceConf())
	add("/etc/placement/placement.conf", p.placementConf())
	add("/etc/nova/nova.conf", p.novaConf(RoleController))
	add("/etc/neutron/neutron.conf", p.neutronConf())
	add("/etc/neutron/plugins/ml2/ml2_conf.ini", p.ml2Conf())
	raw("/etc/keystone/keystone-uwsgi.ini", uwsgiConf("keystone.wsgi.api:application", portKeystone))
	raw("/etc/glance/glance-api-uwsgi.ini", uwsgiConf("glance.wsgi.api:application", portGlance))
	raw("/etc/placement/placement-uwsgi.ini", uwsgiConf("placement.wsgi.api:application", portPlacement))
	raw("/etc/nova/nova-api-uwsgi.ini", uwsgiConf("nova.wsgi.osapi_compute:application", portNova))
	raw("/etc/nova/nova-metadata-uwsgi.ini", uwsgiConf("nova.wsgi.metadata:application", portMetadata))
	raw("/etc/neutron/neutron-api-uwsgi.ini", uwsgiConf("neutron.wsgi.api:application", portNeutron))
	raw(dbInitScript, p.dbInit(true))
	raw(registerScript, p.register())
	return files
}

// procEnv is a process's environment: its own, then what its files need.
func procEnv(pr proc, files map[string]file) []envVar {
	env := append([]envVar(nil), pr.env...)
	seen := map[string]bool{}
	for _, e := range env {
		seen[e.Name] = true
	}
	for _, f := range pr.files {
		for _, e := range files[f].env {
			if !seen[e.Name] {
				seen[e.Name] = true
				env = append(env, e)
			}
		}
	}
	return env
}

// usedSecrets lists the secrets a process's environment references,
// sorted; secret files (secretDirs) are not among them.
func usedSecrets(pr proc, files map[string]file, role []string) []string {
	if pr.allSecrets {
		return role
	}
	set := map[string]bool{}
	for _, s := range pr.secretEnv {
		set[s] = true
	}
	for _, e := range procEnv(pr, files) {
		for _, r := range refs(e.Value) {
			set[r] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// workloads composes a role for a host layer.
func (p *plan) workloads(role, hostKind string, count int) ([]workload, error) {
	if p.version < "2025.1" {
		// Kolla images serve the APIs through uWSGI modules
		// (<project>.wsgi.*) that upstream ships from 2025.1 on.
		return nil, fmt.Errorf("openstack: hosted placements need release 2025.1 or later, got %s", p.version)
	}
	if role == RoleCompute {
		return []workload{p.computeWorkload(hostKind, count)}, nil
	}
	return p.controllerWorkloads(count), nil
}

// kollaProc is an OpenStack service run from its Kolla image.
func (p *plan) kollaProc(name, image, script string, port int, files ...string) proc {
	return proc{name: name, image: p.kolla(image), script: script, port: port, files: files, cpus: 0.25, mem: 512}
}

func (p *plan) controllerWorkloads(count int) []workload {
	nova := []string{"/etc/nova/nova.conf"}
	neutron := []string{"/etc/neutron/neutron.conf", "/etc/neutron/plugins/ml2/ml2_conf.ini"}
	neutronArgs := " --config-file /etc/neutron/neutron.conf --config-file /etc/neutron/plugins/ml2/ml2_conf.ini"
	ovnRun := "mkdir -p /run/ovn /var/lib/ovn && exec /usr/share/ovn/scripts/ovn-ctl "
	uwsgi := func(ini string) string { return "exec uwsgi --ini " + ini }
	keys := []secretDir{
		{dir: "/etc/keystone/fernet-keys", files: [][2]string{{"0", sFernet0}, {"1", sFernet1}}},
		{dir: "/etc/keystone/credential-keys", files: [][2]string{{"0", sCred0}, {"1", sCred1}}},
	}
	keystone := p.kollaProc("keystone", "keystone", uwsgi("/etc/keystone/keystone-uwsgi.ini"), portKeystone,
		"/etc/keystone/keystone.conf", "/etc/keystone/keystone-uwsgi.ini")
	keystone.secretDirs = keys
	glance := p.kollaProc("glance-api", "glance-api", uwsgi("/etc/glance/glance-api-uwsgi.ini"), portGlance,
		"/etc/glance/glance-api.conf", "/etc/glance/glance-api-uwsgi.ini")
	glance.scratch = []string{"/var/lib/glance/images"}

	step := func(name, image, script string, files ...string) proc {
		pr := p.kollaProc(name, image, script, 0, files...)
		pr.cpus, pr.mem, pr.done = 0.2, 256, true
		return pr
	}
	dbInit := proc{name: "db-init", image: MariaDBImage, script: "sh " + dbInitScript, files: []string{dbInitScript},
		allSecrets: true, cpus: 0.1, mem: 64, done: true}
	ksBoot := step("keystone-bootstrap", "keystone", "keystone-manage db_sync && "+p.keystoneBootstrap(), "/etc/keystone/keystone.conf")
	ksBoot.secretEnv = []string{sAdmin}
	register := step("register", "kolla-toolbox", "sh "+registerScript, registerScript)
	register.allSecrets = true
	plain := func(s string) string { return s }

	return []workload{
		{name: "mariadb", kind: "StatefulSet", replicas: 1, dataSize: "10Gi", procs: []proc{{
			name: "mariadb", image: MariaDBImage, port: portMariaDB, data: "/var/lib/mysql", cpus: 1, mem: 2048,
			args: []string{"--max-connections=4096", "--character-set-server=utf8", "--collation-server=utf8_general_ci"},
			env:  []envVar{{"MARIADB_ROOT_PASSWORD", ref(sDBRoot)}},
		}}},
		{name: "rabbitmq", kind: "StatefulSet", replicas: 1, dataSize: "5Gi", procs: []proc{{
			name: "rabbitmq", image: RabbitMQImage, port: portRabbit, data: "/var/lib/rabbitmq", cpus: 0.5, mem: 1024,
			env: []envVar{{"RABBITMQ_DEFAULT_USER", "openstack"}, {"RABBITMQ_DEFAULT_PASS", ref(sRabbit)}},
		}}},
		{name: "memcached", kind: "Deployment", replicas: 1, procs: []proc{{
			name: "memcached", image: MemcachedImage, port: portMemcached, args: []string{"memcached", "-m", "256"}, cpus: 0.2, mem: 320,
		}}},
		{name: "ovn-central", kind: "StatefulSet", replicas: 1, dataSize: "5Gi", procs: []proc{
			{name: "ovn-nb", image: p.kolla("ovn-nb-db-server"), port: portOVNNB, data: "/var/lib/ovn", cpus: 0.2, mem: 256, root: true,
				script: ovnRun + "run_nb_ovsdb --db-nb-addr=0.0.0.0 --db-nb-create-insecure-remote=yes --db-nb-file=/var/lib/ovn/ovnnb_db.db --db-nb-sock=/run/ovn/ovnnb_db.sock"},
			{name: "ovn-sb", image: p.kolla("ovn-sb-db-server"), port: portOVNSB, data: "/var/lib/ovn", cpus: 0.2, mem: 256, root: true,
				script: ovnRun + "run_sb_ovsdb --db-sb-addr=0.0.0.0 --db-sb-create-insecure-remote=yes --db-sb-file=/var/lib/ovn/ovnsb_db.db --db-sb-sock=/run/ovn/ovnsb_db.sock"},
			{name: "ovn-northd", image: p.kolla("ovn-northd"), cpus: 0.2, mem: 256, root: true,
				script: fmt.Sprintf("exec ovn-northd --ovnnb-db=%s --ovnsb-db=%s", p.ovn("nb"), p.ovn("sb"))},
		}},
		{name: "bootstrap", kind: "Job", replicas: 1, deps: []string{"mariadb", "rabbitmq"}, init: []proc{
			dbInit,
			ksBoot,
			step("glance-db-sync", "glance-api", "glance-manage db_sync", "/etc/glance/glance-api.conf"),
			step("placement-db-sync", "placement-api", "placement-manage db sync", "/etc/placement/placement.conf"),
			step("nova-db-sync", "nova-api", novaDBSync(plain), nova...),
			step("neutron-db-sync", "neutron-server", neutronDBSync, neutron...),
		}, procs: []proc{register}},
		{name: "keystone", kind: "Deployment", replicas: count, fsGroup: 42425, deps: []string{"bootstrap", "memcached"}, procs: []proc{keystone}},
		{name: "glance-api", kind: "Deployment", replicas: count, deps: []string{"bootstrap"}, procs: []proc{glance}},
		{name: "placement-api", kind: "Deployment", replicas: count, deps: []string{"bootstrap"}, procs: []proc{
			p.kollaProc("placement-api", "placement-api", uwsgi("/etc/placement/placement-uwsgi.ini"), portPlacement,
				"/etc/placement/placement.conf", "/etc/placement/placement-uwsgi.ini")}},
		{name: "nova-api", kind: "Deployment", replicas: count, deps: []string{"bootstrap"}, procs: []proc{
			p.kollaProc("nova-api", "nova-api", uwsgi("/etc/nova/nova-api-uwsgi.ini"), portNova, "/etc/nova/nova.conf", "/etc/nova/nova-api-uwsgi.ini")}},
		{name: "nova-metadata", kind: "Deployment", replicas: count, deps: []string{"bootstrap"}, procs: []proc{
			p.kollaProc("nova-metadata", "nova-api", uwsgi("/etc/nova/nova-metadata-uwsgi.ini"), portMetadata, "/etc/nova/nova.conf", "/etc/nova/nova-metadata-uwsgi.ini")}},
		{name: "nova-conductor", kind: "Deployment", replicas: count, deps: []string{"bootstrap"}, procs: []proc{
			p.kollaProc("nova-conductor", "nova-conductor", "exec nova-conductor --config-file /etc/nova/nova.conf", 0, nova...)}},
		{name: "nova-scheduler", kind: "Deployment", replicas: count, deps: []string{"bootstrap"}, procs: []proc{
			p.kollaProc("nova-scheduler", "nova-scheduler", "exec nova-scheduler --config-file /etc/nova/nova.conf", 0, nova...)}},
		{name: "nova-novncproxy", kind: "Deployment", replicas: count, deps: []string{"bootstrap"}, procs: []proc{
			p.kollaProc("nova-novncproxy", "nova-novncproxy", "exec nova-novncproxy --config-file /etc/nova/nova.conf", portNoVNC, nova...)}},
		{name: "neutron-server", kind: "Deployment", replicas: count, deps: []string{"bootstrap", "ovn-central"}, procs: []proc{
			p.kollaProc("neutron-server", "neutron-server", uwsgi("/etc/neutron/neutron-api-uwsgi.ini"), portNeutron,
				append(append([]string(nil), neutron...), "/etc/neutron/neutron-api-uwsgi.ini")...),
			p.kollaProc("neutron-rpc-server", "neutron-server", "exec neutron-rpc-server"+neutronArgs, 0, neutron...),
			p.kollaProc("neutron-periodic-workers", "neutron-server", "exec neutron-periodic-workers"+neutronArgs, 0, neutron...),
			p.kollaProc("neutron-ovn-maintenance-worker", "neutron-server", "exec neutron-ovn-maintenance-worker"+neutronArgs, 0, neutron...),
		}},
	}
}

// computeWorkload runs Open vSwitch, ovn-controller, libvirt, nova-compute
// and the OVN metadata agent on each host, privileged on its network.
func (p *plan) computeWorkload(hostKind string, count int) workload {
	ovsRun := []hostPath{{path: "/run/openvswitch"}}
	ovsDB := append(ovsRun, hostPath{path: "/var/lib/openvswitch"})
	modules := hostPath{path: "/lib/modules"}
	libvirt := []hostPath{{path: "/run/libvirt"}, {path: "/var/lib/libvirt"}, {path: "/var/lib/nova"}, {path: "/dev"}, {path: "/sys/fs/cgroup"}, modules}
	priv := func(pr proc, hp []hostPath) proc {
		pr.privileged, pr.root, pr.hostPaths = true, true, hp
		return pr
	}
	ovnController := strings.Join([]string{
		"mkdir -p /run/ovn",
		"until ovs-vsctl --timeout=5 show >/dev/null 2>&1; do sleep 2; done",
		"{ ovs-vsctl get open . external-ids:system-id >/dev/null 2>&1 || ovs-vsctl set open . external-ids:system-id=\"$(hostname)\"; }",
		fmt.Sprintf("ovs-vsctl set open . external-ids:ovn-remote=%s external-ids:ovn-encap-type=geneve external-ids:ovn-encap-ip=\"$HOST_IP\" external-ids:ovn-bridge-mappings=%s:%s external-ids:ovn-cms-options=enable-chassis-as-gw external-ids:hostname=\"$(hostname)\"",
			p.ovn("sb"), physnet, providerBridge),
		"ovs-vsctl --may-exist add-br " + providerBridge,
		fmt.Sprintf("if [ -e /sys/class/net/%[1]s ]; then ovs-vsctl --may-exist add-port %[2]s %[1]s && ip link set %[1]s up; fi", p.iface, providerBridge),
		"exec ovn-controller --pidfile=/run/ovn/ovn-controller.pid unix:/run/openvswitch/db.sock",
	}, " && ")
	novaCompute := p.kollaProc("nova-compute", "nova-compute", strings.Join([]string{
		"{ [ -e /dev/kvm ] || export OS_LIBVIRT__VIRT_TYPE=qemu; }",
		"export OS_DEFAULT__MY_IP=\"$HOST_IP\"",
		"until [ -S /run/libvirt/libvirt-sock ]; do sleep 2; done",
		"exec nova-compute --config-file /etc/nova/nova.conf --config-file /etc/nova/nova-compute.conf",
	}, " && "), 0, "/etc/nova/nova.conf", "/etc/nova/nova-compute.conf")
	novaCompute.hostIP = true
	ctl := p.kollaProc("ovn-controller", "ovn-controller", ovnController, 0)
	ctl.hostIP = true
	libvirtd := p.kollaProc("nova-libvirt", "nova-libvirt", "mkdir -p /run/libvirt /var/lib/libvirt/qemu && exec /usr/sbin/libvirtd", 0)
	// Guests run in libvirtd's container: on mesos its memory is theirs too.
	libvirtd.cpus, libvirtd.mem = 1, 4096
	procs := []proc{
		priv(p.kollaProc("openvswitch-db", "openvswitch-db-server", strings.Join([]string{
			"mkdir -p /run/openvswitch /var/lib/openvswitch",
			"{ [ -f /var/lib/openvswitch/conf.db ] || ovsdb-tool create /var/lib/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema; }",
			"exec ovsdb-server /var/lib/openvswitch/conf.db --remote=punix:/run/openvswitch/db.sock --remote=db:Open_vSwitch,Open_vSwitch,manager_options --pidfile=/run/openvswitch/ovsdb-server.pid",
		}, " && "), 0), ovsDB),
		priv(p.kollaProc("openvswitch-vswitchd", "openvswitch-vswitchd", strings.Join([]string{
			"{ modprobe openvswitch || lsmod | grep -q '^openvswitch'; }",
			"until [ -S /run/openvswitch/db.sock ]; do sleep 1; done",
			"ovs-vsctl --no-wait init",
			"exec ovs-vswitchd unix:/run/openvswitch/db.sock --mlockall --pidfile=/run/openvswitch/ovs-vswitchd.pid",
		}, " && "), 0), append(ovsRun, modules)),
		priv(ctl, ovsRun),
		priv(libvirtd, libvirt),
		priv(novaCompute, libvirt),
		priv(p.kollaProc("ovn-metadata-agent", "neutron-ovn-metadata-agent",
			"exec neutron-ovn-metadata-agent --config-file /etc/neutron/neutron_ovn_metadata_agent.ini", 0,
			"/etc/neutron/neutron_ovn_metadata_agent.ini"),
			[]hostPath{{path: "/run/openvswitch"}, {path: "/run/netns", bidirection: true}, {path: "/var/lib/neutron"}}),
	}
	kind := "DaemonSet"
	if hostKind == "mesos" {
		kind = "group"
	}
	return workload{name: "compute", kind: kind, replicas: count, host: true, procs: procs}
}

package openstack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/cloudinit"
)

// The Ubuntu Cloud Archive and its signing key ("Canonical Cloud Archive
// Signing Key"), fetched from keyserver.ubuntu.com by cloud-init.
const (
	ucaURL   = "http://ubuntu-cloud.archive.canonical.com/ubuntu"
	ucaKeyID = "5EDB1B62EC4926EA"
)

// restartUnits enables and restarts the units the installed release ships.
// Packaging moved APIs between daemons and Apache vhosts across releases
// (Neutron's API is an Apache vhost plus neutron-rpc-server from 2025.1),
// so the list names every candidate and skips absent ones.
const restartUnits = "/usr/local/sbin/strata-openstack-restart"

const restartScript = `#!/bin/sh
# Enables and restarts each named systemd unit that is installed.
set -eu
for u in "$@"; do
  if systemctl cat "$u.service" >/dev/null 2>&1; then
    systemctl enable "$u.service"
    systemctl restart "$u.service"
  fi
done
`

var controllerUnits = []string{"apache2", "glance-api", "placement-api", "nova-api", "nova-scheduler", "nova-conductor",
	"nova-novncproxy", "neutron-server", "neutron-rpc-server", "neutron-periodic-workers", "neutron-ovn-maintenance-worker"}

var computeUnits = []string{"libvirtd", "ovn-controller", "nova-compute", "neutron-ovn-metadata-agent"}

// waitHTTP waits, bounded, until url answers anything over HTTP.
func waitHTTP(what, url string) []string {
	return cloudinit.Sh(fmt.Sprintf("i=0; until curl -s -o /dev/null %s; do i=$((i+1)); if [ $i -ge 360 ]; then echo '%s did not answer' >&2; exit 1; fi; sleep 10; done", url, what))
}

// asUser runs a command as a service's system user, as the install
// guides do for the database tools.
func asUser(user string) func(string) string {
	return func(cmd string) string { return fmt.Sprintf("su -s /bin/sh -c '%s' %s", cmd, user) }
}

func (p *plan) renderNode(n layers.Node) (layers.Bootstrap, error) {
	if !hostRe.MatchString(n.Machine.Name) {
		return layers.Bootstrap{}, fmt.Errorf("openstack: machine name %q is not a host name", n.Machine.Name)
	}
	if n.Machine.Address != "" && !hostRe.MatchString(n.Machine.Address) {
		return layers.Bootstrap{}, fmt.Errorf("openstack: machine address %q is not an address", n.Machine.Address)
	}
	marker, err := json.MarshalIndent(map[string]any{
		"kind": Kind, "stack": n.Stack, "layer": n.Name, "role": n.Role,
		"index": n.Machine.Index, "version": p.version,
	}, "", "  ")
	if err != nil {
		return layers.Bootstrap{}, err
	}
	cfg := &cloudinit.Config{
		Hostname:       n.Machine.Name,
		ManageEtcHosts: true,
		PackageUpdate:  true,
		Apt: &cloudinit.Apt{Sources: map[string]cloudinit.AptSource{
			"cloud-archive-" + p.series: {
				Source: fmt.Sprintf("deb %s noble-updates/%s main", ucaURL, p.series),
				Keyid:  ucaKeyID,
			},
		}},
		WriteFiles: []cloudinit.File{
			{Path: "/etc/strata/node.json", Content: string(marker) + "\n", Permissions: "0644"},
			{Path: restartUnits, Content: restartScript, Permissions: "0755"},
		},
	}
	secretNames := roleSecrets(n.Role, false)
	vals := p.secrets(secretNames)
	cfg.WriteFiles = append(cfg.WriteFiles, cloudinit.File{Path: envFile, Content: envFileContent(secretNames, vals), Permissions: "0600"})

	// Config files are written after the packages are installed (defer)
	// so they replace the packaged defaults and their owners exist.
	conf := func(path, owner string, f ini) {
		text, _ := f.render(vals, true)
		cfg.WriteFiles = append(cfg.WriteFiles, cloudinit.File{Path: path, Content: text, Owner: "root:" + owner, Permissions: "0640", Defer: true})
	}
	switch n.Role {
	case RoleController:
		p.controllerNode(n, cfg, conf, vals)
	case RoleCompute:
		p.computeNode(n, cfg, conf)
	default:
		return layers.Bootstrap{}, fmt.Errorf("openstack: unknown role %q", n.Role)
	}
	cfg.FinalMessage = fmt.Sprintf("strata: openstack %s %s/%s ready after $UPTIME seconds", n.Role, n.Stack, n.Name)
	out, err := cfg.Marshal()
	if err != nil {
		return layers.Bootstrap{}, err
	}
	return layers.Bootstrap{Format: "cloud-config", UserData: out, Sensitive: true}, nil
}

func envFileContent(names []string, vals map[string]string) string {
	var b strings.Builder
	b.WriteString("# OpenStack secrets of this node, derived per stack by strata.\n")
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, n := range sorted {
		fmt.Fprintf(&b, "export %s='%s'\n", n, vals[n])
	}
	return b.String()
}

func (p *plan) controllerNode(n layers.Node, cfg *cloudinit.Config, conf func(string, string, ini), vals map[string]string) {
	bootstrap := n.Machine.Index == first(n.Members[RoleController]).Index
	pkgs := []string{"curl", "keystone", "glance", "placement-api", "nova-api", "nova-conductor", "nova-scheduler",
		"nova-novncproxy", "neutron-server", "neutron-plugin-ml2", "python3-openstackclient", "python3-pymysql"}
	if bootstrap {
		// Controller 0 also runs the shared backing services.
		pkgs = append(pkgs, "mariadb-server", "rabbitmq-server", "memcached", "python3-memcache", "ovn-central")
	}
	sort.Strings(pkgs)
	cfg.Packages = pkgs

	conf("/etc/keystone/keystone.conf", "keystone", p.keystoneConf())
	conf("/etc/glance/glance-api.conf", "glance", p.glanceConf())
	conf("/etc/placement/placement.conf", "placement", p.placementConf())
	conf("/etc/nova/nova.conf", "nova", p.novaConf(RoleController))
	conf("/etc/neutron/neutron.conf", "neutron", p.neutronConf())
	conf("/etc/neutron/plugins/ml2/ml2_conf.ini", "neutron", p.ml2Conf())
	// Derived Fernet keys: every controller validates every other's tokens.
	for _, k := range []struct{ dir, name, secret string }{
		{"fernet-keys", "0", sFernet0}, {"fernet-keys", "1", sFernet1},
		{"credential-keys", "0", sCred0}, {"credential-keys", "1", sCred1},
	} {
		cfg.WriteFiles = append(cfg.WriteFiles, cloudinit.File{Path: "/etc/keystone/" + k.dir + "/" + k.name,
			Content: vals[k.secret], Owner: "keystone:keystone", Permissions: "0600", Defer: true})
	}
	cfg.WriteFiles = append(cfg.WriteFiles, cloudinit.File{Path: "/root/admin-openrc", Permissions: "0600", Content: fmt.Sprintf(
		"export OS_AUTH_URL=%s\nexport OS_IDENTITY_API_VERSION=3\nexport OS_REGION_NAME=%s\nexport OS_USERNAME=admin\nexport OS_PASSWORD='%s'\nexport OS_PROJECT_NAME=admin\nexport OS_USER_DOMAIN_NAME=Default\nexport OS_PROJECT_DOMAIN_NAME=Default\n",
		p.url("keystone", portKeystone, "/v3", true), p.region, vals[sAdmin])})

	run := [][]string{{"chown", "-R", "keystone:keystone", "/etc/keystone/fernet-keys", "/etc/keystone/credential-keys"},
		{"chmod", "0700", "/etc/keystone/fernet-keys", "/etc/keystone/credential-keys"}}
	if bootstrap {
		cfg.WriteFiles = append(cfg.WriteFiles,
			cloudinit.File{Path: "/etc/mysql/mariadb.conf.d/99-openstack.cnf", Permissions: "0644", Defer: true, Content: "[mysqld]\nbind-address = 0.0.0.0\ndefault-storage-engine = innodb\ninnodb_file_per_table = on\nmax_connections = 4096\ncollation-server = utf8_general_ci\ncharacter-set-server = utf8\n"},
			cloudinit.File{Path: dbInitScript, Content: p.dbInit(false), Permissions: "0700"},
			cloudinit.File{Path: registerScript, Content: p.register(), Permissions: "0700"},
		)
		nova := asUser("nova")
		run = append(run,
			[]string{"systemctl", "restart", "mariadb"},
			// Listen on every address instead of the packaged loopback ones.
			[]string{"sed", "-i", "-e", "/^-l /d", "-e", "$a -l 0.0.0.0", "/etc/memcached.conf"},
			[]string{"systemctl", "restart", "memcached"},
			[]string{"sh", dbInitScript},
			cloudinit.Sh(". "+envFile+" && { rabbitmqctl add_user openstack \"$"+sRabbit+"\" 2>/dev/null || rabbitmqctl change_password openstack \"$"+sRabbit+"\"; } && rabbitmqctl set_permissions openstack '.*' '.*' '.*'"),
			[]string{"systemctl", "enable", "--now", "ovn-central"},
			cloudinit.Sh("i=0; until ovn-nbctl --timeout=5 show >/dev/null 2>&1 && ovn-sbctl --timeout=5 show >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 60 ] || exit 1; sleep 2; done"),
			[]string{"ovn-nbctl", "set-connection", fmt.Sprintf("ptcp:%d:0.0.0.0", portOVNNB), "--", "set", "connection", ".", "inactivity_probe=60000"},
			[]string{"ovn-sbctl", "set-connection", fmt.Sprintf("ptcp:%d:0.0.0.0", portOVNSB), "--", "set", "connection", ".", "inactivity_probe=60000"},
			cloudinit.Sh(asUser("keystone")("keystone-manage db_sync")),
			cloudinit.Sh(". "+envFile+" && "+p.keystoneBootstrap()),
			cloudinit.Sh(asUser("glance")("glance-manage db_sync")),
			cloudinit.Sh(asUser("placement")("placement-manage db sync")),
			cloudinit.Sh(novaDBSync(nova)),
			cloudinit.Sh(asUser("neutron")(neutronDBSync)),
			append([]string{restartUnits}, controllerUnits...),
			[]string{"sh", registerScript},
		)
	} else {
		// The other controllers share controller 0's databases: wait
		// until it has synced them and serves Neutron, its last step.
		run = append(run,
			waitHTTP("controller 0", fmt.Sprintf("http://%s:%d/", p.ctrl0, portNeutron)),
			append([]string{restartUnits}, controllerUnits...))
	}
	cfg.Runcmd = run
}

func (p *plan) computeNode(n layers.Node, cfg *cloudinit.Config, conf func(string, string, ini)) {
	cfg.Packages = []string{"curl", "neutron-ovn-metadata-agent", "nova-compute", "openvswitch-switch", "ovn-host"}
	conf("/etc/nova/nova.conf", "nova", p.novaConf(RoleCompute))
	conf("/etc/nova/nova-compute.conf", "nova", novaComputeConf())
	conf("/etc/neutron/neutron_ovn_metadata_agent.ini", "neutron", p.metadataAgentConf())

	ip := `"$IP"`
	run := [][]string{cloudinit.Sh(`[ -e /dev/kvm ] || sed -i 's/^virt_type = kvm$/virt_type = qemu/' /etc/nova/nova-compute.conf`)}
	getIP := ""
	if n.Machine.Address != "" {
		ip = n.Machine.Address
	} else {
		// Unknown before boot: the address of the default route.
		getIP = `IP=$(ip -4 route get 1.1.1.1 | awk '{for (i = 1; i < NF; i++) if ($i == "src") { print $(i+1); exit }}') && `
	}
	run = append(run,
		cloudinit.Sh(getIP+`sed -i "/^\[DEFAULT\]/a my_ip = `+ip+`" /etc/nova/nova-compute.conf`),
		[]string{"systemctl", "enable", "--now", "openvswitch-switch"},
		cloudinit.Sh(getIP+fmt.Sprintf("ovs-vsctl set open . external-ids:ovn-remote=%s external-ids:ovn-encap-type=geneve external-ids:ovn-encap-ip=%s external-ids:ovn-bridge-mappings=%s:%s external-ids:ovn-cms-options=enable-chassis-as-gw",
			p.ovn("sb"), ip, physnet, providerBridge)),
		[]string{"ovs-vsctl", "--may-exist", "add-br", providerBridge},
		cloudinit.Sh(fmt.Sprintf("if [ -e /sys/class/net/%[1]s ]; then ovs-vsctl --may-exist add-port %[2]s %[1]s && ip link set %[1]s up; fi", p.iface, providerBridge)),
		waitHTTP("the compute API", p.url("nova-api", portNova, "/", false)),
		append([]string{restartUnits}, computeUnits...),
	)
	cfg.Runcmd = run
}

package openstack

import (
	"fmt"
	"regexp"
	"strings"
)

// An ini file as oslo.config reads it. Values may hold ${SECRET}
// references to the role's secrets.
type ini []section

type section struct {
	name string
	opts [][2]string
}

// sec builds a section from alternating keys and values.
func sec(name string, kv ...string) section {
	s := section{name: name}
	for i := 0; i+1 < len(kv); i += 2 {
		s.opts = append(s.opts, [2]string{kv[i], kv[i+1]})
	}
	return s
}

// envVar is one environment variable of a hosted process; Value may hold
// ${SECRET} references.
type envVar struct{ Name, Value string }

var secretRef = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)

// refs lists the secrets a value references, in order.
func refs(v string) []string {
	var out []string
	for _, m := range secretRef.FindAllStringSubmatch(v, -1) {
		out = append(out, m[1])
	}
	return out
}

// expand replaces ${SECRET} references with their values.
func expand(v string, vals map[string]string) string {
	return secretRef.ReplaceAllStringFunc(v, func(m string) string {
		return vals[m[2:len(m)-1]]
	})
}

// render writes the file. With inline set (machines) secrets are written
// into the file, which is then kept 0640. Otherwise (hosted) options that
// hold secrets stay out of the file, which goes into a ConfigMap or an app
// definition, and come back as oslo.config environment variables
// (OS_<GROUP>__<OPTION>, which take precedence over config files).
func (f ini) render(vals map[string]string, inline bool) (string, []envVar) {
	var b strings.Builder
	var env []envVar
	for i, s := range f {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "[%s]\n", s.name)
		for _, o := range s.opts {
			if len(refs(o[1])) > 0 && !inline {
				env = append(env, envVar{Name: "OS_" + strings.ToUpper(s.name) + "__" + strings.ToUpper(o[0]), Value: o[1]})
				continue
			}
			fmt.Fprintf(&b, "%s = %s\n", o[0], expand(o[1], vals))
		}
	}
	return b.String(), env
}

func ref(secret string) string { return "${" + secret + "}" }

func (p *plan) dbURL(user, secret, db string) string {
	return fmt.Sprintf("mysql+pymysql://%s:%s@%s/%s", user, ref(secret), p.host("mariadb"), db)
}

func (p *plan) transportURL() string {
	return fmt.Sprintf("rabbit://openstack:%s@%s:%d/", ref(sRabbit), p.host("rabbitmq"), portRabbit)
}

func (p *plan) memcached() string { return fmt.Sprintf("%s:%d", p.host("memcached"), portMemcached) }

func (p *plan) ovn(db string) string {
	if db == "nb" {
		return fmt.Sprintf("tcp:%s:%d", p.host("ovn-nb"), portOVNNB)
	}
	return fmt.Sprintf("tcp:%s:%d", p.host("ovn-sb"), portOVNSB)
}

// authtoken is keystonemiddleware's section for a service's API.
func (p *plan) authtoken(user, secret string) section {
	return sec("keystone_authtoken",
		"www_authenticate_uri", p.url("keystone", portKeystone, "", true),
		"auth_url", p.url("keystone", portKeystone, "", false),
		"memcached_servers", p.memcached(),
		"auth_type", "password",
		"project_domain_name", "Default",
		"user_domain_name", "Default",
		"project_name", "service",
		"username", user,
		"password", ref(secret))
}

// serviceAuth is a keystoneauth section one service uses to call another.
func (p *plan) serviceAuth(group, user, secret string, extra ...string) section {
	s := sec(group,
		"auth_url", p.authURL(),
		"auth_type", "password",
		"project_domain_name", "Default",
		"user_domain_name", "Default",
		"region_name", p.region,
		"project_name", "service",
		"username", user,
		"password", ref(secret))
	s.opts = append(s.opts, sec("", extra...).opts...)
	return s
}

func (p *plan) keystoneConf() ini {
	return ini{
		sec("DEFAULT"),
		sec("cache", "enabled", "true", "backend", "oslo_cache.memcache_pool", "memcache_servers", p.memcached()),
		sec("database", "connection", p.dbURL("keystone", sKeystoneDB, "keystone")),
		sec("token", "provider", "fernet"),
	}
}

func (p *plan) glanceConf() ini {
	return ini{
		sec("DEFAULT", "enabled_backends", "fs:file"),
		sec("database", "connection", p.dbURL("glance", sGlanceDB, "glance")),
		sec("fs", "filesystem_store_datadir", "/var/lib/glance/images/"),
		sec("glance_store", "default_backend", "fs"),
		p.authtoken("glance", sGlance),
		sec("paste_deploy", "flavor", "keystone"),
	}
}

func (p *plan) placementConf() ini {
	return ini{
		sec("DEFAULT"),
		sec("api", "auth_strategy", "keystone"),
		p.authtoken("placement", sPlacement),
		sec("placement_database", "connection", p.dbURL("placement", sPlacementDB, "placement")),
	}
}

// novaConf is nova.conf for the controller's services or for a compute.
func (p *plan) novaConf(role string) ini {
	f := ini{sec("DEFAULT", "transport_url", p.transportURL())}
	if role == RoleController {
		f[0].opts = append(f[0].opts, [2]string{"enabled_apis", "osapi_compute,metadata"})
		f = append(f,
			sec("api", "auth_strategy", "keystone"),
			sec("api_database", "connection", p.dbURL("nova", sNovaDB, "nova_api")),
			sec("database", "connection", p.dbURL("nova", sNovaDB, "nova")))
	} else {
		f = append(f, sec("api", "auth_strategy", "keystone"))
	}
	f = append(f,
		sec("glance", "api_servers", p.url("glance-api", portGlance, "", false)),
	)
	if role == RoleController {
		f = append(f, p.authtoken("nova", sNova),
			p.serviceAuth("neutron", "neutron", sNeutron,
				"service_metadata_proxy", "true",
				"metadata_proxy_shared_secret", ref(sMetadata)))
	} else {
		f = append(f, p.serviceAuth("neutron", "neutron", sNeutron))
	}
	f = append(f,
		sec("oslo_concurrency", "lock_path", "/var/lib/nova/tmp"),
		p.serviceAuth("placement", "placement", sPlacement))
	if role == RoleController {
		f = append(f, sec("scheduler", "discover_hosts_in_cells_interval", "300"))
	}
	f = append(f, p.serviceAuth("service_user", "nova", sNova, "send_service_user_token", "true"))
	vnc := sec("vnc", "enabled", "true", "server_listen", "0.0.0.0", "server_proxyclient_address", "$my_ip")
	if role == RoleCompute {
		vnc.opts = append(vnc.opts, [2]string{"novncproxy_base_url", p.url("nova-novncproxy", portNoVNC, "/vnc_auto.html", true)})
	}
	return append(f, vnc)
}

// novaComputeConf picks the hypervisor; virt_type falls back to qemu where
// the machine has no /dev/kvm (done at boot).
func novaComputeConf() ini {
	return ini{
		sec("DEFAULT", "compute_driver", "libvirt.LibvirtDriver"),
		sec("libvirt", "virt_type", "kvm"),
	}
}

func (p *plan) neutronConf() ini {
	return ini{
		sec("DEFAULT",
			"core_plugin", "ml2",
			"service_plugins", "ovn-router",
			"allow_overlapping_ips", "true",
			"auth_strategy", "keystone",
			"transport_url", p.transportURL(),
			"notify_nova_on_port_status_changes", "true",
			"notify_nova_on_port_data_changes", "true"),
		sec("database", "connection", p.dbURL("neutron", sNeutronDB, "neutron")),
		p.authtoken("neutron", sNeutron),
		p.serviceAuth("nova", "nova", sNova),
		sec("oslo_concurrency", "lock_path", "/var/lib/neutron/tmp"),
	}
}

func (p *plan) ml2Conf() ini {
	return ini{
		sec("ml2",
			"type_drivers", "flat,geneve",
			"tenant_network_types", "geneve",
			"mechanism_drivers", "ovn",
			"extension_drivers", "port_security",
			"overlay_ip_version", "4"),
		sec("ml2_type_flat", "flat_networks", physnet),
		sec("ml2_type_geneve", "vni_ranges", "1:65536", "max_header_size", "38"),
		sec("ovn",
			"ovn_nb_connection", p.ovn("nb"),
			"ovn_sb_connection", p.ovn("sb"),
			"ovn_l3_scheduler", "leastloaded",
			"ovn_metadata_enabled", "true",
			"enable_distributed_floating_ip", "true"),
		sec("securitygroup", "enable_security_group", "true"),
	}
}

func (p *plan) metadataAgentConf() ini {
	return ini{
		sec("DEFAULT",
			"nova_metadata_host", p.host("nova-metadata"),
			"nova_metadata_port", fmt.Sprint(portMetadata),
			"metadata_proxy_shared_secret", ref(sMetadata)),
		sec("ovn", "ovn_sb_connection", p.ovn("sb")),
		sec("ovs", "ovsdb_connection", "unix:/run/openvswitch/db.sock"),
	}
}

// uwsgiConf serves one WSGI module, as Kolla's own uWSGI template does.
func uwsgiConf(module string, port int) string {
	return fmt.Sprintf(`[uwsgi]
add-header = Connection: close
buffer-size = 65535
die-on-term = true
enable-threads = true
exit-on-reload = false
hook-master-start = unix_signal:15 gracefully_kill_them_all
http-socket = 0.0.0.0:%d
lazy-apps = true
master = true
module = %s
plugins-dir = /usr/lib/uwsgi/plugins
plugins = python3
processes = 2
thunder-lock = true
worker-reload-mercy = 80
`, port, module)
}

// Paths of the scripts every placement runs.
const (
	envFile        = "/etc/strata/openstack.env"
	dbInitScript   = "/usr/local/sbin/strata-openstack-db-init"
	registerScript = "/usr/local/sbin/strata-openstack-register"
)

// sourceEnv loads the secrets on a machine; hosted processes get them as
// environment variables instead and have no such file.
const sourceEnv = "[ ! -r " + envFile + " ] || . " + envFile + "\n"

// dbInit creates the service databases and users. On a machine root logs
// in over the unix socket; hosted, it logs in over TCP as root.
func (p *plan) dbInit(hosted bool) string {
	client := "mariadb"
	if hosted {
		client = "MYSQL_PWD=\"$" + sDBRoot + "\" mariadb -h " + p.host("mariadb") + " -u root"
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Creates the OpenStack databases and their users; safe to re-run.\nset -eu\n")
	b.WriteString(sourceEnv)
	fmt.Fprintf(&b, "sql() { %s \"$@\"; }\n", client)
	b.WriteString("i=0\nuntil sql -e 'SELECT 1' >/dev/null 2>&1; do\n  i=$((i+1)); [ $i -lt 200 ] || { echo 'MariaDB did not come up' >&2; exit 1; }\n  sleep 3\ndone\n")
	b.WriteString("sql <<SQL\n")
	for _, d := range []struct {
		user, secret string
		dbs          []string
	}{
		{"keystone", sKeystoneDB, []string{"keystone"}},
		{"glance", sGlanceDB, []string{"glance"}},
		{"placement", sPlacementDB, []string{"placement"}},
		{"nova", sNovaDB, []string{"nova_api", "nova", "nova_cell0"}},
		{"neutron", sNeutronDB, []string{"neutron"}},
	} {
		for _, db := range d.dbs {
			fmt.Fprintf(&b, "CREATE DATABASE IF NOT EXISTS %s;\n", db)
		}
		fmt.Fprintf(&b, "CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '${%s}';\n", d.user, d.secret)
		fmt.Fprintf(&b, "ALTER USER '%s'@'%%' IDENTIFIED BY '${%s}';\n", d.user, d.secret)
		for _, db := range d.dbs {
			fmt.Fprintf(&b, "GRANT ALL PRIVILEGES ON %s.* TO '%s'@'%%';\n", db, d.user)
		}
	}
	b.WriteString("FLUSH PRIVILEGES;\nSQL\n")
	return b.String()
}

// keystoneBootstrap creates the admin user, project, roles and Keystone's
// own endpoints; keystone-manage bootstrap is idempotent.
func (p *plan) keystoneBootstrap() string {
	pub := p.url("keystone", portKeystone, "/v3/", true)
	internal := p.url("keystone", portKeystone, "/v3/", false)
	return fmt.Sprintf(`keystone-manage bootstrap --bootstrap-password "$%s" --bootstrap-admin-url %s --bootstrap-internal-url %s --bootstrap-public-url %s --bootstrap-region-id %s`,
		sAdmin, internal, internal, pub, p.region)
}

// novaDBSync syncs the API and cell databases and maps cell0 and cell1.
func novaDBSync(asNova func(string) string) string {
	return strings.Join([]string{
		asNova("nova-manage api_db sync"),
		asNova("nova-manage cell_v2 map_cell0"),
		"{ " + asNova("nova-manage cell_v2 list_cells") + " | grep -q ' " + cell + " ' || " + asNova("nova-manage cell_v2 create_cell --name="+cell+" --verbose") + "; }",
		asNova("nova-manage db sync"),
	}, " && ")
}

const neutronDBSync = "neutron-db-manage --config-file /etc/neutron/neutron.conf --config-file /etc/neutron/plugins/ml2/ml2_conf.ini upgrade head"

// apiService is one service of the catalogue.
type apiService struct {
	name, typ, desc, host string
	port                  int
	path                  string
}

func (p *plan) catalogue() []apiService {
	return []apiService{
		{"glance", "image", "OpenStack Image", "glance-api", portGlance, ""},
		{"placement", "placement", "Placement API", "placement-api", portPlacement, ""},
		{"nova", "compute", "OpenStack Compute", "nova-api", portNova, "/v2.1"},
		{"neutron", "network", "OpenStack Networking", "neutron-server", portNeutron, ""},
	}
}

// register creates the service project, the service users and the
// catalogue in Keystone; every step checks first, so it is safe to re-run.
func (p *plan) register() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Registers the OpenStack service users and endpoints in Keystone; safe to re-run.\nset -eu\n")
	b.WriteString(sourceEnv)
	fmt.Fprintf(&b, "export OS_AUTH_URL=%s OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=%s\n", p.authURL(), p.region)
	fmt.Fprintf(&b, "export OS_USERNAME=admin OS_PASSWORD=\"$%s\" OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default\n", sAdmin)
	b.WriteString(`i=0
until openstack token issue >/dev/null 2>&1; do
  i=$((i+1)); [ $i -lt 360 ] || { echo 'Keystone did not answer' >&2; exit 1; }
  sleep 5
done
openstack project show service >/dev/null 2>&1 || openstack project create --domain default --description "Service Project" service
openstack role show service >/dev/null 2>&1 || openstack role create service
user() {
  openstack user show --domain default "$1" >/dev/null 2>&1 || openstack user create --domain default --password "$2" "$1"
  openstack user set --password "$2" "$1"
  openstack role add --project service --user "$1" admin
  openstack role add --project service --user "$1" service
}
service() {
  openstack service show "$1" >/dev/null 2>&1 || openstack service create --name "$1" --description "$3" "$2"
}
endpoint() {
`)
	fmt.Fprintf(&b, "  [ -n \"$(openstack endpoint list --service \"$1\" --interface \"$2\" --region %s -f value -c ID)\" ] || openstack endpoint create --region %s \"$1\" \"$2\" \"$3\"\n}\n", p.region, p.region)
	for _, u := range []struct{ name, secret string }{
		{"glance", sGlance}, {"placement", sPlacement}, {"nova", sNova}, {"neutron", sNeutron},
	} {
		fmt.Fprintf(&b, "user %s \"$%s\"\n", u.name, u.secret)
	}
	for _, s := range p.catalogue() {
		fmt.Fprintf(&b, "service %s %s %q\n", s.name, s.typ, s.desc)
		fmt.Fprintf(&b, "endpoint %s public %s\n", s.name, p.url(s.host, s.port, s.path, true))
		fmt.Fprintf(&b, "endpoint %s internal %s\n", s.name, p.url(s.host, s.port, s.path, false))
		fmt.Fprintf(&b, "endpoint %s admin %s\n", s.name, p.url(s.host, s.port, s.path, false))
	}
	return b.String()
}

package mesos

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/cloudinit"
)

// Paths on a node.
const (
	confDir       = "/etc/mesos"
	ipEnv         = confDir + "/ip.env"
	zkConfDir     = "/etc/zookeeper/conf_strata"
	pkgCache      = "/var/cache/strata"
	tarPrefix     = "/opt/mesos"
	strataBin     = "/usr/local/lib/strata"
	masterWorkDir = "/var/lib/mesos/master"
	agentWorkDir  = "/var/lib/mesos/agent"
	logDir        = "/var/log/mesos"
)

// RenderNode implements layers.Layer: the #cloud-config for one machine.
func (l *Layer) RenderNode(ctx context.Context, n layers.Node) (layers.Bootstrap, error) {
	if err := ctx.Err(); err != nil {
		return layers.Bootstrap{}, err
	}
	if err := checkPlacement(n.Role, layers.Pool); err != nil {
		return layers.Bootstrap{}, err
	}
	cfg, err := resolve(n.Cluster)
	if err != nil {
		return layers.Bootstrap{}, err
	}
	masters := sortedMembers(n.Members[RoleMaster])
	if len(masters) == 0 {
		return layers.Bootstrap{}, fmt.Errorf("mesos: layer %q has no master members", n.Name)
	}

	marker, _ := json.MarshalIndent(map[string]any{
		"stack": n.Stack, "layer": n.Name, "kind": Kind, "role": n.Role,
		"index": n.Machine.Index, "machine": n.Machine.Name, "version": n.Version,
	}, "", "  ")
	cc := &cloudinit.Config{
		Hostname:      n.Machine.Name,
		PackageUpdate: true,
		Packages:      []string{"ca-certificates", "curl", "docker.io"},
		WriteFiles: []cloudinit.File{
			{Path: "/etc/strata/node.json", Content: string(marker) + "\n", Permissions: "0644"},
		},
	}
	// Mesos must bind to and advertise the node's real address, never the
	// 127.0.1.1 a hostname may resolve to.
	var runcmd [][]string
	if n.Machine.Address != "" {
		cc.WriteFiles = append(cc.WriteFiles, cloudinit.File{Path: ipEnv, Permissions: "0644",
			Content: fmt.Sprintf("MESOS_IP=%s\nLIBPROCESS_IP=%s\n", n.Machine.Address, n.Machine.Address)})
	} else {
		runcmd = append(runcmd, cloudinit.Sh(`ip=$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'); `+
			`[ -n "$ip" ] || ip=$(hostname -I | awk '{print $1}'); `+
			`printf 'MESOS_IP=%s\nLIBPROCESS_IP=%s\n' "$ip" "$ip" > `+ipEnv))
	}
	runcmd = append(runcmd, installMesos(cfg)...)

	zk := memberHosts(masters)
	host := n.Machine.Host()
	switch n.Role {
	case RoleMaster:
		cc.Packages = append(cc.Packages, "zookeeperd")
		cc.WriteFiles = append(cc.WriteFiles,
			cloudinit.File{Path: zkConfDir + "/zoo.cfg", Content: zooCfg(masters), Permissions: "0644"},
			cloudinit.File{Path: zkConfDir + "/myid", Content: fmt.Sprintf("%d\n", n.Machine.Index+1), Permissions: "0644"},
			cloudinit.File{Path: confDir + "/master.env", Permissions: "0644", Content: envFile(map[string]string{
				"MESOS_ZK":                      zkURL(zk, "/mesos"),
				"MESOS_QUORUM":                  fmt.Sprint(quorum(len(masters))),
				"MESOS_CLUSTER":                 clusterName(n.Cluster),
				"MESOS_HOSTNAME":                host,
				"MESOS_PORT":                    fmt.Sprint(masterPort),
				"MESOS_WORK_DIR":                masterWorkDir,
				"MESOS_LOG_DIR":                 logDir,
				"MESOS_AUTHENTICATE_AGENTS":     "true",
				"MESOS_AUTHENTICATE_FRAMEWORKS": "true",
				"MESOS_CREDENTIALS":             confDir + "/credentials.json",
			})},
			cloudinit.File{Path: confDir + "/credentials.json", Content: mastersCredentials(n.Cluster), Permissions: "0600", Owner: "root:root"},
			// Marathon's image may run as nobody; 0400 keeps it to that user and root.
			cloudinit.File{Path: "/etc/marathon/secret", Content: marathonSecret(n.Cluster), Permissions: "0400", Owner: "nobody:nogroup"},
			cloudinit.File{Path: "/etc/systemd/system/strata-mesos-master.service", Permissions: "0644",
				Content: mesosUnit(cfg, "master", "Apache Mesos master", "zookeeper.service", nil)},
			cloudinit.File{Path: "/etc/systemd/system/strata-marathon.service", Permissions: "0644",
				Content: marathonUnit(cfg, zk, host)},
		)
		runcmd = append(runcmd,
			[]string{"mkdir", "-p", masterWorkDir, logDir},
			// Debian's zookeeper picks its conf dir through alternatives;
			// ours ranks above conf_example and keeps its stock extras.
			[]string{"cp", "-r", "--update=none", "/etc/zookeeper/conf_example/.", zkConfDir + "/"},
			[]string{"update-alternatives", "--install", "/etc/zookeeper/conf", "zookeeper-conf", zkConfDir, "50"},
			[]string{"update-alternatives", "--set", "zookeeper-conf", zkConfDir},
			[]string{"systemctl", "enable", "zookeeper.service"},
			[]string{"systemctl", "restart", "zookeeper.service"},
		)
		if cfg.image != "" {
			runcmd = append(runcmd, []string{"docker", "pull", cfg.image})
		}
		runcmd = append(runcmd,
			[]string{"docker", "pull", cfg.marathon},
			[]string{"systemctl", "daemon-reload"},
			[]string{"systemctl", "enable", "--now", "strata-mesos-master.service", "strata-marathon.service"},
		)
	case RoleAgent:
		env := map[string]string{
			"MESOS_MASTER":                        zkURL(zk, "/mesos"),
			"MESOS_HOSTNAME":                      host,
			"MESOS_PORT":                          fmt.Sprint(agentPort),
			"MESOS_WORK_DIR":                      agentWorkDir,
			"MESOS_LOG_DIR":                       logDir,
			"MESOS_CREDENTIAL":                    confDir + "/credential.json",
			"MESOS_CONTAINERIZERS":                "docker,mesos",
			"MESOS_DOCKER":                        "/usr/bin/docker",
			"MESOS_EXECUTOR_REGISTRATION_TIMEOUT": "5mins",
			// Mesos 1.11 knows only cgroups v1; Ubuntu 24.04 mounts v2, so
			// isolation is posix and Docker isolates its own containers.
			"MESOS_LAUNCHER":               "posix",
			"MESOS_ISOLATION":              "posix/cpu,posix/mem,posix/disk",
			"MESOS_SYSTEMD_ENABLE_SUPPORT": "false",
		}
		if attrs := agentAttributes(n.Labels); attrs != "" {
			env["MESOS_ATTRIBUTES"] = attrs
		}
		if cfg.image != "" {
			env["MESOS_DOCKER"] = "/usr/local/bin/docker"
		}
		cc.WriteFiles = append(cc.WriteFiles,
			cloudinit.File{Path: confDir + "/agent.env", Content: envFile(env), Permissions: "0644"},
			cloudinit.File{Path: confDir + "/credential.json", Content: agentCredential(n.Cluster), Permissions: "0600", Owner: "root:root"},
			cloudinit.File{Path: "/etc/systemd/system/strata-mesos-agent.service", Permissions: "0644",
				Content: mesosUnit(cfg, "agent", "Apache Mesos agent", "", []string{
					"--pid=host", "--privileged",
					"-v /var/run/docker.sock:/var/run/docker.sock",
					"-v /sys/fs/cgroup:/sys/fs/cgroup",
					"-v " + strataBin + "/docker:/usr/local/bin/docker:ro",
				})},
		)
		runcmd = append(runcmd, []string{"mkdir", "-p", agentWorkDir, logDir})
		if cfg.image != "" {
			runcmd = append(runcmd,
				[]string{"mkdir", "-p", strataBin},
				cloudinit.Sh("curl -fsSL --retry 5 "+dockerCLIURL+" | tar -xzf - -C "+strataBin+" --strip-components=1 docker/docker"),
				[]string{"docker", "pull", cfg.image},
			)
		}
		runcmd = append(runcmd,
			[]string{"systemctl", "daemon-reload"},
			[]string{"systemctl", "enable", "--now", "strata-mesos-agent.service"},
		)
	}
	cc.Runcmd = runcmd
	cc.FinalMessage = fmt.Sprintf("strata: mesos %s %s ready after $UPTIME s", n.Role, n.Machine.Name)

	out, err := cc.Marshal()
	if err != nil {
		return layers.Bootstrap{}, err
	}
	return layers.Bootstrap{Format: "cloud-config", UserData: out, Sensitive: true}, nil
}

// installMesos fetches and installs a package artifact; an image needs
// nothing beyond docker.io.
func installMesos(cfg config) [][]string {
	if cfg.pkgURL == "" {
		return nil
	}
	file := pkgCache + "/mesos.deb"
	if cfg.pkgKind == "tar" {
		file = pkgCache + "/mesos.tar.gz"
	}
	steps := [][]string{
		{"mkdir", "-p", pkgCache},
		{"curl", "-fsSL", "--retry", "5", "-o", file, cfg.pkgURL},
	}
	if cfg.sha256 != "" {
		steps = append(steps, cloudinit.Sh(fmt.Sprintf("echo '%s  %s' | sha256sum -c - || { rm -f %s; exit 1; }", cfg.sha256, file, file)))
	}
	if cfg.pkgKind == "deb" {
		return append(steps,
			[]string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", file},
			// Community .debs ship their own units reading /etc/mesos-*;
			// ours replace them.
			cloudinit.Sh("systemctl disable --now mesos-master.service mesos-slave.service 2>/dev/null || true"),
		)
	}
	return append(steps,
		[]string{"mkdir", "-p", tarPrefix},
		[]string{"tar", "-xzf", file, "-C", tarPrefix},
	)
}

// mesosUnit runs mesos-<what> (master or agent) under systemd: through
// docker for an image, or the installed binary for a package.
func mesosUnit(cfg config, what, desc, after string, dockerArgs []string) string {
	name := "mesos-" + what
	var b strings.Builder
	fmt.Fprintf(&b, "[Unit]\nDescription=%s (strata)\nDocumentation=https://mesos.apache.org/documentation/latest/\n", desc)
	wants, afters := "network-online.target", "network-online.target docker.service"
	if after != "" {
		wants, afters = wants+" "+after, afters+" "+after
	}
	fmt.Fprintf(&b, "Wants=%s\nAfter=%s\n", wants, afters)
	if cfg.image != "" || what == "agent" {
		b.WriteString("Requires=docker.service\n")
	}
	b.WriteString("\n[Service]\nRestart=always\nRestartSec=10\nLimitNOFILE=65536\n")
	if cfg.image != "" {
		b.WriteString("TimeoutStartSec=0\n")
		fmt.Fprintf(&b, "ExecStartPre=-/usr/bin/docker rm -f %s\n", name)
		args := []string{"/usr/bin/docker run --rm --name " + name + " --net=host",
			"--env-file " + confDir + "/" + what + ".env", "--env-file " + ipEnv,
			"-v " + confDir + ":" + confDir + ":ro",
			"-v /var/lib/mesos/" + what + ":/var/lib/mesos/" + what,
			"-v " + logDir + ":" + logDir}
		args = append(args, dockerArgs...)
		args = append(args, cfg.image, name)
		fmt.Fprintf(&b, "ExecStart=%s\n", strings.Join(args, " \\\n  "))
		fmt.Fprintf(&b, "ExecStop=/usr/bin/docker stop -t 30 %s\n", name)
	} else {
		fmt.Fprintf(&b, "EnvironmentFile=%s/%s.env\nEnvironmentFile=%s\n", confDir, what, ipEnv)
		bin := "/usr/sbin/" + name
		if cfg.pkgKind == "tar" {
			bin = tarPrefix + "/sbin/" + name
			fmt.Fprintf(&b, "Environment=LD_LIBRARY_PATH=%s/lib\n", tarPrefix)
		}
		fmt.Fprintf(&b, "ExecStart=%s\n", bin)
	}
	b.WriteString("\n[Install]\nWantedBy=multi-user.target\n")
	return b.String()
}

// marathonUnit runs Marathon from its image on the master's host network.
func marathonUnit(cfg config, zk []string, host string) string {
	return fmt.Sprintf(`[Unit]
Description=Marathon (strata)
Documentation=https://mesosphere.github.io/marathon/
Wants=network-online.target
After=network-online.target docker.service strata-mesos-master.service
Requires=docker.service

[Service]
Restart=always
RestartSec=10
TimeoutStartSec=0
ExecStartPre=-/usr/bin/docker rm -f marathon
ExecStart=/usr/bin/docker run --rm --name marathon --net=host \
  --env-file %s \
  -v /etc/marathon/secret:/etc/marathon/secret:ro \
  %s \
  --master %s \
  --zk %s \
  --hostname %s \
  --http_port %d \
  --framework_name marathon \
  --mesos_authentication \
  --mesos_authentication_principal %s \
  --mesos_authentication_secret_file /etc/marathon/secret
ExecStop=/usr/bin/docker stop -t 30 marathon

[Install]
WantedBy=multi-user.target
`, ipEnv, cfg.marathon, zkURL(zk, "/mesos"), zkURL(zk, "/marathon"), host, marathonPort, marathonPrincipal)
}

// zooCfg is the ensemble's zoo.cfg: one server line per master.
func zooCfg(masters []layers.Member) string {
	var b strings.Builder
	fmt.Fprintf(&b, `tickTime=2000
initLimit=10
syncLimit=5
dataDir=/var/lib/zookeeper
clientPort=%d
autopurge.snapRetainCount=3
autopurge.purgeInterval=24
4lw.commands.whitelist=ruok,srvr,mntr
# Marathon owns 8080, where ZooKeeper's admin server would listen.
admin.enableServer=false
# Our own server line may name a host that resolves to loopback.
quorumListenOnAllIPs=true
`, zkPort)
	for _, m := range masters {
		fmt.Fprintf(&b, "server.%d=%s:%d:%d\n", m.Index+1, m.Host(), zkPeerPort, zkElectPort)
	}
	return b.String()
}

// envFile writes KEY=VALUE lines, sorted, for both docker --env-file and
// systemd EnvironmentFile (values never need quoting here).
func envFile(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	return b.String()
}

var attrRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// agentAttributes turns pool labels into Mesos agent attributes, so
// Marathon constraints can select machines; labels Mesos cannot parse are
// left out.
func agentAttributes(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k, v := range labels {
		if attrRe.MatchString(k) && attrRe.MatchString(v) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + labels[k]
	}
	return strings.Join(parts, ";")
}

// sortedMembers orders members by index, so ensembles agree everywhere.
func sortedMembers(ms []layers.Member) []layers.Member {
	out := append([]layers.Member(nil), ms...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

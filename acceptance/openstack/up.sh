#!/bin/bash
# acceptance/openstack/up.sh — a real, minimal OpenStack for Strata's acceptance tests.
#
# Usage (as root):   acceptance/openstack/up.sh        then e.g.
#                    export OS_CLIENT_CONFIG_FILE=/tmp/strata-openstack/clouds.yaml OS_CLOUD=strata
#                    or: . /tmp/strata-openstack/openrc
#                    acceptance/openstack/smoke.sh     (proves it works)
#                    acceptance/openstack/down.sh      (stops it, removes the state)
#
# What it runs: Debian 12's OpenStack Zed from its python3-* packages, as plain background processes
# bound to 127.0.0.1 with our own config files (no systemd units, no debconf, no Apache):
#
#   Keystone    :5000   (wsgi.py)      Placement :8778 (wsgi.py)    Glance :9292 (file store)
#   Neutron     :9696   (server only: ML2 without agents or mechanism drivers; Nova asks it for ports
#                        even for servers with networks "none")
#   Nova API    :8774   conductor, scheduler, and COMPUTES nova-compute processes with
#                        compute_driver = fake.FakeDriver, hosts strata-compute-1..N
#   MariaDB     :3306   (own datadir)  RabbitMQ :5672 (+ epmd :4369, Erlang distribution :25672)
#
# and seeds it: admin (project admin), user `strata` (role member) in projects `strata` (quotas
# unlimited) and `strata-quota` (instances quota 2, to test quota errors), an application credential
# `strata-appcred`, flavors m1.tiny..m1.xlarge (IDs 1..5), public images cirros-tiny (raw) and
# debian-12 (qcow2) of a few KiB (the fake driver never boots them).
#
# Writes: $BASE/clouds.yaml (clouds strata, strata-admin, strata-quota, strata-appcred),
#         $BASE/openrc (OS_* for strata@strata), $BASE/admin-openrc, logs in $BASE/state/log/.
#
# Re-runs: when the cloud is already up and healthy (same scripts, same COMPUTES) it returns in about a
# second; otherwise it stops what a previous run left and rebuilds from nothing. Installed packages are
# not installed again. Every wait is bounded; on failure it prints the log tails, stops what it
# started and exits non-zero.
#
# Env:  BASE=/tmp/strata-openstack   state root          COMPUTES=3 (1 if < 6 GiB RAM available)
#       ADMIN_PASSWORD=strata-admin  STRATA_PASSWORD=strata   APPCRED_SECRET=strata-appcred-secret
#       QUOTA_INSTANCES=2 (strata-quota)   WAIT_TIMEOUT=180 (seconds, per wait)
#       SKIP_APT_UPDATE=1   KEEP_ON_FAILURE=1 (leave processes running for debugging)
#       MARIADB_PORT RABBIT_PORT EPMD_PORT RABBIT_DIST_PORT (defaults 3306 5672 4369 25672)
set -euo pipefail
set +m   # background jobs stay in our process group, so `setsid` execs in place and $! is the service
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
export DEBIAN_FRONTEND=noninteractive

ADMIN_PASSWORD=${ADMIN_PASSWORD:-strata-admin}
STRATA_PASSWORD=${STRATA_PASSWORD:-strata}
APPCRED_SECRET=${APPCRED_SECRET:-strata-appcred-secret}
QUOTA_INSTANCES=${QUOTA_INSTANCES:-2}
DB_PASSWORD=strata-db
REGION=RegionOne
WAIT_TIMEOUT=${WAIT_TIMEOUT:-180}
KS_URL=http://$HOST:$P_KEYSTONE
RABBIT_URL=rabbit://guest:guest@$HOST:$P_RABBIT/
if [ -z "${COMPUTES:-}" ]; then
  # ~150 MiB per extra nova-compute; three are needed for a 3-member hard anti-affinity group
  avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  if [ "$avail_kib" -ge $((6 << 20)) ]; then COMPUTES=3; else COMPUTES=1; fi
fi
PKGS=(python3-nova python3-keystone python3-glance python3-placement python3-neutron
      python3-openstackclient rabbitmq-server mariadb-server)
# The stamp of a healthy cloud: a change to these scripts or to COMPUTES forces a rebuild.
STAMP="$(cat "$HERE/up.sh" "$HERE/lib.sh" "$HERE/wsgi.py" "$HERE/seed.py" | sha256sum | cut -c1-16) computes=$COMPUTES"
export KS_URL ADMIN_PASSWORD   # for probe.py

SUCCESS=
POLICY_RC_OURS=
declare -A JOBS=()
on_exit() {
  local rc=$?
  if [ -n "$POLICY_RC_OURS" ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ -n "$SUCCESS" ] && return 0
  for j in "${JOBS[@]}"; do pkill -TERM -P "$j" 2>/dev/null || true; kill "$j" 2>/dev/null || true; done
  echo "up.sh FAILED (exit $rc) after $(echo "$(date +%s.%N) - $T0" | bc | cut -d. -f1)s" >&2
  if [ -z "${LOGS_SHOWN:-}" ]; then log_tails; fi
  if [ -z "${KEEP_ON_FAILURE:-}" ] && [ -d "$PIDS" ]; then
    echo "stopping what this run started (KEEP_ON_FAILURE=1 keeps it)" >&2; stop_all
  fi
  exit "$rc"
}
trap on_exit EXIT

fail() { echo "ERROR: $*" >&2; exit 1; }

# start NAME CMD...: run a service in its own session, stdout+stderr to $LOG/NAME.log; record PID.
start() {
  local name=$1; shift
  setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid $(starttime "$pid")" > "$PIDS/$name.pid"
}

# wait_for WHAT "SERVICES" CMD...: poll CMD until it succeeds; fail at WAIT_TIMEOUT or as soon as one of
# SERVICES has died, with their log tails.
wait_for() {
  local what=$1 svcs=$2 deadline=$(( $(date +%s) + WAIT_TIMEOUT )) s; shift 2
  until "$@" >/dev/null 2>&1; do
    for s in $svcs; do
      if [ -f "$PIDS/$s.pid" ] && ! alive "$PIDS/$s.pid"; then
        echo "ERROR: $s exited while waiting for $what" >&2; LOGS_SHOWN=1; log_tails "$s"; exit 1
      fi
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "ERROR: timed out after ${WAIT_TIMEOUT}s waiting for $what" >&2
      "$@" || true
      LOGS_SHOWN=1; log_tails $svcs; exit 1
    fi
    sleep 0.5
  done
}
http_up() { curl -s -o /dev/null --max-time 2 "$1"; }
tcp_up() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# run_job NAME FUNCTION: a setup step in the background (output to $LOG/setup-NAME.log);
# wait_jobs NAME...: wait for them (bounded), fail with the step's log if one failed.
run_job() { ( set -e; "$2" ) >"$LOG/setup-$1.log" 2>&1 9>&- & JOBS[$1]=$!; }
wait_jobs() {
  local name pid deadline=$(( $(date +%s) + WAIT_TIMEOUT * 2 ))
  for name in "$@"; do
    pid=${JOBS[$name]}
    while kill -0 "$pid" 2>/dev/null; do
      [ "$(date +%s)" -lt "$deadline" ] || { LOGS_SHOWN=1; log_tails "setup-$name"; fail "setup step $name timed out"; }
      sleep 0.5
    done
    if ! wait "$pid"; then LOGS_SHOWN=1; log_tails "setup-$name"; fail "setup step $name failed"; fi
    unset "JOBS[$name]"
  done
}

healthy() {
  [ -f "$STATE/ready" ] && [ "$(cat "$STATE/ready")" = "$STAMP" ] || return 1
  local f
  for f in "$PIDS"/*.pid; do alive "$f" || return 1; done
  $PY "$HERE/probe.py" health "$COMPUTES" >/dev/null
}

summary() {
  echo "clouds.yaml: $BASE/clouds.yaml (clouds: strata strata-admin strata-quota strata-appcred)"
  echo "env:         . $BASE/openrc   (strata@strata; admin: $BASE/admin-openrc)"
  echo "services:    $(ls "$PIDS" | sed 's/\.pid$//' | tr '\n' ' ')"
  echo "RSS total:   $(services_rss_mib) MiB"
}

# ==================================================================================================
take_lock
# The first pass, outside the mount namespace: the health check, the packages and the api-paste files.
# The re-executed pass below skips it.
if [ -z "${STRATA_OS_MASKED:-}" ]; then
  if healthy; then
    SUCCESS=1; ts "already up and healthy ($STAMP)"; summary; exit 0
  fi
  if [ -e "$STATE" ]; then
    ts "previous state is not healthy (or the scripts changed): stopping it and rebuilding"
    stop_all; rm -rf "$STATE"
  fi

  # --------------------------------------------------------------------------------------- packages
  n_installed=$(dpkg-query -W -f='${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null | grep -c '^installed$' || true)
  if [ "$n_installed" -ne "${#PKGS[@]}" ]; then
    ts "installing ${PKGS[*]}"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      # maintainer scripts must not start mariadb/rabbitmq as system services: we run our own
      printf '#!/bin/sh\n# temporary, from strata acceptance/openstack/up.sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d; POLICY_RC_OURS=1
    fi
    [ -n "${SKIP_APT_UPDATE:-}" ] || apt-get update -q || warn "apt-get update failed; trying the existing lists"
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${PKGS[@]}"
    if [ -n "$POLICY_RC_OURS" ]; then rm -f /usr/sbin/policy-rc.d; POLICY_RC_OURS=; fi
    ts "packages installed"
  else
    ts "packages already installed"
  fi

  # ------------------------------------------------------------- api-paste.ini from the -common .debs
  # The python3-* packages ship no api-paste.ini; nova-common and glance-common do, but installing them
  # drags in debconf/dbconfig/systemd setup, so only unpack them.
  if [ ! -s "$CACHE/nova-api-paste.ini" ] || [ ! -s "$CACHE/glance-api-paste.ini" ]; then
    ts "fetching api-paste.ini from nova-common and glance-common"
    tmp=$(mktemp -d); chmod 755 "$tmp"
    dl() { (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root nova-common glance-common); }
    dl || { apt-get update -q && dl; }
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/x"; done
    mkdir -p "$CACHE"
    # Debian keeps them as templates under /usr/share/*-common (older packages: /etc/*)
    first() { ls "$@" 2>/dev/null | head -1; }
    cp "$(first "$tmp"/x/usr/share/nova-common/api-paste.ini "$tmp"/x/etc/nova/api-paste.ini)" "$CACHE/nova-api-paste.ini"
    cp "$(first "$tmp"/x/usr/share/glance-common/glance-api-paste.ini "$tmp"/x/etc/glance/glance-api-paste.ini)" \
       "$CACHE/glance-api-paste.ini"
    ls "$tmp"/*.deb | xargs -n1 basename > "$CACHE/from-debs.txt"
    rm -rf "$tmp"
  fi
fi

# ----------------------------------------------------------- a mount namespace without /etc/<service>
# Whatever config files they are given, oslo.config and oslo.policy also look in /etc/<project>/ and
# ~/.<project>/ (conf.d folders, policy.yaml, policy.d) and RabbitMQ in /etc/rabbitmq/ (conf.d,
# advanced.config): on a machine where a service was once installed, its leftovers would leak into
# the test cloud, and a cloud that works there can fail on a new machine. So from here on (the
# packages are installed) everything runs in a mount namespace of its own, where each of those
# folders that exists is covered by an empty read-only tmpfs; the services keep that namespace.
# The rest of the file system is shared, so $BASE, the logs and the PIDs are as before.
if [ -z "${STRATA_OS_MASKED:-}" ]; then
  export STRATA_OS_MASKED=1 T0
  exec unshare --mount --propagation private /bin/bash "$HERE/up.sh"
fi
for d in /etc/{keystone,nova,neutron,glance,placement,rabbitmq,mysql,openstack} \
         "$HOME"/.{keystone,nova,neutron,glance,placement,config/openstack}; do
  if [ -d "$d" ]; then mount -t tmpfs -o ro,size=4k,mode=755 strata-masked "$d" || fail "cannot mask $d"; fi
done

# ------------------------------------------------------------------------------------ fresh state
for p in $P_KEYSTONE $P_PLACEMENT $P_GLANCE $P_NEUTRON $P_NOVA $P_MARIADB $P_RABBIT $P_RABBIT_DIST; do
  if port_busy "$p"; then
    ss -ltnpH "( sport = :$p )" >&2 || true
    fail "port $p is already in use by something up.sh did not start (see above); stop it first"
  fi
done
mkdir -p "$ETC" "$LOG" "$PIDS" "$STATE/mysql" "$STATE/rabbit" "$STATE/keystone/fernet" \
         "$STATE/keystone/credential" "$STATE/glance/images" "$STATE/glance/staging" "$STATE/neutron" \
         "$STATE/nova" "$STATE/locks"
dburl() { echo "mysql+pymysql://strata:$DB_PASSWORD@$HOST:$P_MARIADB/$1?charset=utf8"; }

# ------------------------------------------------------------------------------------------ configs
# keystonemiddleware (in every API) and the service clients of Nova all use the admin user.
authtoken() { cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS_URL
auth_url = $KS_URL
auth_type = password
username = admin
password = $ADMIN_PASSWORD
project_name = admin
user_domain_name = Default
project_domain_name = Default
region_name = $REGION
EOF
}
svcauth() { cat <<EOF
[$1]
auth_type = password
auth_url = $KS_URL
username = admin
password = $ADMIN_PASSWORD
project_name = admin
user_domain_name = Default
project_domain_name = Default
region_name = $REGION
EOF
}

cat > "$ETC/keystone.conf" <<EOF
[database]
connection = $(dburl keystone)
[identity]
# bcrypt's minimum cost: every password login (service users, tests, readiness probes) costs ~1 ms
# of CPU instead of ~250 ms
password_hash_rounds = 4
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $STATE/keystone/fernet
[fernet_receipts]
# MFA receipts have a key repository of their own, /etc/keystone/fernet-keys/ by default, which
# keystone-manage bootstrap validates: point it at ours, or a machine without /etc/keystone fails
key_repository = $STATE/keystone/fernet
[credential]
key_repository = $STATE/keystone/credential
EOF

cat > "$ETC/placement.conf" <<EOF
[api]
auth_strategy = keystone
[placement_database]
connection = $(dburl placement)
$(authtoken)
EOF

cp "$CACHE/glance-api-paste.ini" "$ETC/glance-api-paste.ini"
cat > "$ETC/glance-api.conf" <<EOF
[DEFAULT]
bind_host = $HOST
bind_port = $P_GLANCE
# 0: serve from the main process (no forked worker; saves ~140 MiB)
workers = 0
node_staging_uri = file://$STATE/glance/staging
[database]
connection = $(dburl glance)
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $STATE/glance/images
[paste_deploy]
flavor = keystone
config_file = $ETC/glance-api-paste.ini
[oslo_concurrency]
lock_path = $STATE/locks
$(authtoken)
EOF

# Neutron's api-paste.ini (upstream's, less the unused noauth pipelines).
cat > "$ETC/neutron-api-paste.ini" <<'EOF'
[composite:neutron]
use = egg:Paste#urlmap
/: neutronversions_composite
/v2.0: neutronapi_v2_0
[composite:neutronapi_v2_0]
use = call:neutron.auth:pipeline_factory
keystone = cors http_proxy_to_wsgi request_id catch_errors authtoken keystonecontext extensions neutronapiapp_v2_0
[composite:neutronversions_composite]
use = call:neutron.auth:pipeline_factory
keystone = cors http_proxy_to_wsgi neutronversions
[filter:request_id]
paste.filter_factory = oslo_middleware:RequestId.factory
[filter:catch_errors]
paste.filter_factory = oslo_middleware:CatchErrors.factory
[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = neutron
[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory
[filter:keystonecontext]
paste.filter_factory = neutron.auth:NeutronKeystoneContext.factory
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
[filter:extensions]
paste.filter_factory = neutron.api.extensions:plugin_aware_extension_middleware_factory
[app:neutronversions]
paste.app_factory = neutron.pecan_wsgi.app:versions_factory
[app:neutronapiapp_v2_0]
paste.app_factory = neutron.api.v2.router:APIRouter.factory
EOF
cat > "$ETC/neutron.conf" <<EOF
[DEFAULT]
bind_host = $HOST
bind_port = $P_NEUTRON
core_plugin = ml2
service_plugins =
auth_strategy = keystone
transport_url = $RABBIT_URL
api_workers = 0
rpc_workers = 0
rpc_state_report_workers = 0
api_paste_config = $ETC/neutron-api-paste.ini
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
state_path = $STATE/neutron
[database]
connection = $(dburl neutron)
[ml2]
type_drivers = local,flat
tenant_network_types = local
mechanism_drivers =
extension_drivers = port_security
[oslo_concurrency]
lock_path = $STATE/locks
$(authtoken)
EOF

cp "$CACHE/nova-api-paste.ini" "$ETC/nova-api-paste.ini"
cat > "$ETC/nova.conf" <<EOF
[DEFAULT]
transport_url = $RABBIT_URL
compute_driver = fake.FakeDriver
host = strata-control
my_ip = $HOST
state_path = $STATE/nova
enabled_apis = osapi_compute
osapi_compute_listen = $HOST
osapi_compute_listen_port = $P_NOVA
osapi_compute_workers = 1
heal_instance_info_cache_interval = -1
# start periodic tasks at once, not after a random delay of up to 60 s (host discovery is one of them)
periodic_fuzzy_delay = 0
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $ETC/nova-api-paste.ini
[api_database]
connection = $(dburl nova_api)
[database]
connection = $(dburl nova_cell1)
[conductor]
workers = 1
[scheduler]
workers = 1
# the scheduler maps newly registered computes into cell1 by itself (no nova-manage discover_hosts)
discover_hosts_in_cells_interval = 5
[oslo_concurrency]
lock_path = $STATE/locks
[vnc]
enabled = false
[quota]
# unlimited by default (the 11th server would fail otherwise); strata-quota gets instances=$QUOTA_INSTANCES
instances = -1
cores = -1
ram = -1
server_groups = -1
server_group_members = -1
[glance]
region_name = $REGION
$(authtoken)
$(svcauth placement)
$(svcauth neutron)
EOF
for i in $(seq 1 "$COMPUTES"); do
  mkdir -p "$STATE/nova/compute-$i"
  cat > "$ETC/nova-compute-$i.conf" <<EOF
[DEFAULT]
host = strata-compute-$i
state_path = $STATE/nova/compute-$i
EOF
done
ts "configs written ($COMPUTES computes)"

# ---------------------------------------------------------------------------------- MariaDB, RabbitMQ
ts "starting mariadb and rabbitmq"
MYSQL=(mariadb --no-defaults -S "$STATE/mysql/sock" -uroot)
mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql/data" \
  --auth-root-authentication-method=normal --skip-test-db >"$LOG/mariadb-install.log" 2>&1 ||
  { LOGS_SHOWN=1; log_tails mariadb-install; fail "mariadb-install-db failed"; }
start mariadb /usr/sbin/mariadbd --no-defaults --user=root --datadir="$STATE/mysql/data" \
  --socket="$STATE/mysql/sock" --pid-file="$STATE/mysql/pid" --bind-address=$HOST --port="$P_MARIADB" \
  --skip-name-resolve --skip-log-bin --max-connections=1000 --innodb-buffer-pool-size=128M \
  --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --character-set-server=utf8 \
  --log-error="$LOG/mariadb.log"

cat > "$ETC/rabbitmq.conf" <<EOF
listeners.tcp.default = $HOST:$P_RABBIT
loopback_users.guest = true
EOF
echo '[].' > "$ETC/rabbitmq-plugins"
# epmd: started by us (so down.sh can stop it by PID) unless one already serves this port
port_busy "$P_EPMD" || start epmd /usr/bin/epmd -address $HOST -port "$P_EPMD"
(
  export HOME=$STATE/rabbit RABBITMQ_HOME=/usr/lib/rabbitmq RABBITMQ_CONF_ENV_FILE=/dev/null
  export RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=$HOST RABBITMQ_NODE_PORT=$P_RABBIT
  export RABBITMQ_DIST_PORT=$P_RABBIT_DIST ERL_EPMD_ADDRESS=$HOST ERL_EPMD_PORT=$P_EPMD
  export RABBITMQ_CONFIG_FILE=$ETC/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$ETC/rabbitmq-plugins
  export RABBITMQ_MNESIA_BASE=$STATE/rabbit/mnesia RABBITMQ_LOG_BASE=$LOG/rabbitmq-logs
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  start rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
)

wait_for "mariadb" mariadb "${MYSQL[@]}" -e 'select 1'
{
  echo "CREATE USER 'strata'@'$HOST' IDENTIFIED BY '$DB_PASSWORD';"
  for d in keystone placement glance neutron nova_api nova_cell0 nova_cell1; do
    echo "CREATE DATABASE $d CHARACTER SET utf8; GRANT ALL ON $d.* TO 'strata'@'$HOST';"
  done
} | "${MYSQL[@]}"
ts "mariadb ready"

# ------------------------------------------------- database schemas, in parallel; each API starts
# as soon as its schema is there (they only need Keystone when a request arrives)
setup_keystone() {
  local km=(keystone-manage --config-file "$ETC/keystone.conf")
  "${km[@]}" db_sync
  # what `keystone-manage fernet_setup` / `credential_setup` write (a primary key 1 and a staged key 0,
  # each urlsafe-base64 of 32 random bytes), without two more ~4 s keystone-manage start-ups
  local d k
  for d in "$STATE/keystone/fernet" "$STATE/keystone/credential"; do
    chmod 700 "$d"
    for k in 0 1; do
      (umask 077; $PY -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode(), end="")' > "$d/$k")
    done
  done
  "${km[@]}" bootstrap --bootstrap-password "$ADMIN_PASSWORD" --bootstrap-region-id "$REGION" \
    --bootstrap-admin-url "$KS_URL/v3/" --bootstrap-internal-url "$KS_URL/v3/" --bootstrap-public-url "$KS_URL/v3/"
  OS_KEYSTONE_CONFIG_DIR=$ETC OS_KEYSTONE_CONFIG_FILES=keystone.conf \
    start keystone $PY "$HERE/wsgi.py" $HOST "$P_KEYSTONE" keystone
}
setup_placement() {
  placement-manage --config-file "$ETC/placement.conf" db sync
  OS_PLACEMENT_CONFIG_DIR=$ETC start placement $PY "$HERE/wsgi.py" $HOST "$P_PLACEMENT" placement
}
setup_glance() {
  $PY -c 'import sys; from glance.cmd.manage import main; sys.exit(main())' \
    --config-file "$ETC/glance-api.conf" db_sync
  start glance $PY -c 'import sys; from glance.cmd.api import main; sys.exit(main())' \
    --config-file "$ETC/glance-api.conf"
}
setup_neutron() {
  # neutron-db-manage's migrations are slow (and break on SQLite): create the tables from the models
  # and stamp the migration heads instead.
  $PY -c 'import sys, sqlalchemy as sa; from neutron.db.migration.models import head
head.get_metadata().create_all(sa.create_engine(sys.argv[1]))' "$(dburl neutron)"
  $PY -c 'import sys; from neutron.db.migration.cli import main; sys.exit(main())' \
    --config-file "$ETC/neutron.conf" stamp heads
  # Without the router/port-forwarding service plugins nothing imports all models before the first
  # query, and ML2's get_ports() then fails on unconfigured backrefs: import them and configure_mappers().
  start neutron $PY -c 'import sys, sqlalchemy.orm, neutron.db.migration.models.head
sqlalchemy.orm.configure_mappers()
from neutron.cmd.eventlet.server import main; sys.exit(main())' --config-file "$ETC/neutron.conf"
}
nova_manage() { $PY -c 'import sys; from nova.cmd.manage import main; sys.exit(main())' --config-file "$ETC/nova.conf" "$@"; }
setup_nova_db() {
  nova_manage api_db sync
  nova_manage cell_v2 map_cell0 --database_connection "$(dburl nova_cell0)"
  nova_manage cell_v2 create_cell --name cell1 --transport-url "$RABBIT_URL" --database_connection "$(dburl nova_cell1)"
  nova_manage db sync
}
ts "schemas: keystone placement glance neutron nova (parallel)"
run_job keystone setup_keystone
run_job nova setup_nova_db
run_job placement setup_placement
run_job glance setup_glance
run_job neutron setup_neutron

wait_jobs keystone
wait_for "keystone on :$P_KEYSTONE" keystone http_up "$KS_URL/v3"
ts "keystone up; seeding identity"
export KS_URL HOST REGION ADMIN_PASSWORD STRATA_PASSWORD APPCRED_SECRET QUOTA_INSTANCES P_GLANCE P_PLACEMENT P_NOVA P_NEUTRON
export SEED_OUT=$STATE/seed.json
$PY "$HERE/seed.py" identity > "$LOG/setup-seed-identity.log" 2>&1 ||
  { LOGS_SHOWN=1; log_tails setup-seed-identity keystone; fail "seeding identity failed"; }

wait_jobs placement glance neutron nova
ts "schemas done"
wait_for "rabbitmq on :$P_RABBIT" "rabbitmq epmd" tcp_up "$P_RABBIT"
wait_for "placement on :$P_PLACEMENT" placement http_up "http://$HOST:$P_PLACEMENT/"

# ---------------------------------------------------------------------------------------------- nova
ts "starting nova api, conductor, scheduler, $COMPUTES compute(s)"
start nova-api $PY -c 'import sys; from nova.cmd.api import main; sys.exit(main())' --config-file "$ETC/nova.conf"
start nova-conductor $PY -c 'import sys; from nova.cmd.conductor import main; sys.exit(main())' --config-file "$ETC/nova.conf"
start nova-scheduler $PY -c 'import sys; from nova.cmd.scheduler import main; sys.exit(main())' --config-file "$ETC/nova.conf"
for i in $(seq 1 "$COMPUTES"); do
  start "nova-compute-$i" $PY -c 'import sys; from nova.cmd.compute import main; sys.exit(main())' \
    --config-file "$ETC/nova.conf" --config-file "$ETC/nova-compute-$i.conf"
done

wait_for "glance on :$P_GLANCE" glance http_up "http://$HOST:$P_GLANCE/"
wait_for "neutron on :$P_NEUTRON" neutron http_up "http://$HOST:$P_NEUTRON/"
wait_for "nova-api on :$P_NOVA" nova-api http_up "http://$HOST:$P_NOVA/"
ts "APIs up; seeding flavors, images, quotas"
$PY "$HERE/seed.py" resources > "$LOG/setup-seed-resources.log" 2>&1 ||
  { LOGS_SHOWN=1; log_tails setup-seed-resources nova-api glance; fail "seeding resources failed"; }

computes_svcs="nova-conductor nova-scheduler placement $(seq -f 'nova-compute-%g' 1 "$COMPUTES" | tr '\n' ' ')"
wait_for "$COMPUTES nova-compute(s) up and in placement" "$computes_svcs" $PY "$HERE/probe.py" computes "$COMPUTES"
mapped() { [ "$("${MYSQL[@]}" -N -e 'select count(*) from nova_api.host_mappings')" -ge "$COMPUTES" ]; }
wait_for "$COMPUTES compute host(s) mapped to cell1" nova-scheduler mapped
ts "computes up and mapped"

# --------------------------------------------------------------------------------- clouds.yaml, env
APPCRED_ID=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["appcred_id"])' "$SEED_OUT")
cloud() {  # cloud NAME USER PASSWORD PROJECT
  cat <<EOF
  $1:
    auth:
      auth_url: $KS_URL/v3
      username: $2
      password: $3
      project_name: $4
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
EOF
}
{
  echo "# Written by strata acceptance/openstack/up.sh: the local test cloud (127.0.0.1)."
  echo "clouds:"
  cloud strata strata "$STRATA_PASSWORD" strata
  cloud strata-admin admin "$ADMIN_PASSWORD" admin
  cloud strata-quota strata "$STRATA_PASSWORD" strata-quota
  cat <<EOF
  strata-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: $KS_URL/v3
      application_credential_id: $APPCRED_ID
      application_credential_secret: $APPCRED_SECRET
    region_name: $REGION
    interface: public
    identity_api_version: 3
EOF
} > "$BASE/clouds.yaml.tmp"
mv "$BASE/clouds.yaml.tmp" "$BASE/clouds.yaml"
openrc() {  # openrc USER PASSWORD PROJECT PROJECT_ID
  cat <<EOF
# Written by strata acceptance/openstack/up.sh: $1 in project $3 of the local test cloud.
# (Use this or clouds.yaml with OS_CLOUD, not both: OS_* variables override clouds.yaml entries.)
export OS_AUTH_URL=$KS_URL/v3 OS_AUTH_TYPE=password OS_IDENTITY_API_VERSION=3
export OS_USERNAME=$1 OS_PASSWORD=$2 OS_PROJECT_NAME=$3 OS_PROJECT_ID=$4
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
# gophercloud's AuthOptionsFromEnv takes the domain from OS_DOMAIN_NAME (the openstack CLI ignores it here)
export OS_DOMAIN_NAME=Default
export OS_REGION_NAME=$REGION OS_INTERFACE=public
EOF
}
pid_of() { $PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["projects"][sys.argv[2]])' "$SEED_OUT" "$1"; }
openrc strata "$STRATA_PASSWORD" strata "$(pid_of strata)" > "$BASE/openrc"
openrc admin "$ADMIN_PASSWORD" admin "$(pid_of admin)" > "$BASE/admin-openrc"

# ------------------------------------------------------------------------------------------- ready
$PY "$HERE/probe.py" health "$COMPUTES" || fail "final health check failed"
echo "$STAMP" > "$STATE/ready"
SUCCESS=1
ts "UP"
summary

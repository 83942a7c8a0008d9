# shellcheck shell=bash
# Shared by up.sh, down.sh and smoke.sh: paths, process bookkeeping, small helpers.
# Sourced, never run. Everything lives under $BASE (default /tmp/strata-openstack):
#
#   $BASE/clouds.yaml   clouds: strata, strata-admin, strata-quota, strata-appcred
#   $BASE/openrc        OS_* for the `strata` user      ($BASE/admin-openrc: for admin)
#   $BASE/cache/        api-paste.ini files taken from the nova-common/glance-common .debs (kept by down.sh)
#   $BASE/state/        configs (etc/), logs (log/), PIDs (pids/), databases, image store (removed by down.sh)
#   $BASE/lock          flock: one up.sh/down.sh at a time

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin  # no pyenv shims: Debian's python3
BASE=${BASE:-/tmp/strata-openstack}
STATE=$BASE/state
ETC=$STATE/etc
LOG=$STATE/log
PIDS=$STATE/pids
CACHE=${CACHE:-$BASE/cache}
PY=/usr/bin/python3
HOST=127.0.0.1

# Ports (all bound to 127.0.0.1). Fixed: they are the ones OpenStack clients expect.
P_KEYSTONE=5000 P_PLACEMENT=8778 P_GLANCE=9292 P_NEUTRON=9696 P_NOVA=8774
P_MARIADB=${MARIADB_PORT:-3306} P_RABBIT=${RABBIT_PORT:-5672} P_EPMD=${EPMD_PORT:-4369} P_RABBIT_DIST=${RABBIT_DIST_PORT:-25672}

T0=${T0:-$(date +%s.%N)}
ts() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }
warn() { echo "WARNING: $*" >&2; }

# take_lock: serialise up.sh/down.sh (a second caller waits, then sees a healthy cloud and returns).
# Services are started with fd 9 closed so they never hold the lock.
take_lock() {
  mkdir -p "$BASE"
  [ -n "${STRATA_OS_LOCKED:-}" ] && return 0
  exec 9>"$BASE/lock"
  flock -w "${LOCK_TIMEOUT:-900}" 9 || { echo "another up.sh/down.sh holds $BASE/lock" >&2; exit 1; }
  export STRATA_OS_LOCKED=1
}

# A PID file holds "PID STARTTIME" (field 22 of /proc/PID/stat) so a recycled PID is never mistaken
# for ours. Each service runs in its own session (setsid), so PID = its process group id.
starttime() { [ -r "/proc/$1/stat" ] && sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f20; }

# alive PIDFILE: the recorded process is still ours and not a zombie (PID 1 here may not reap orphans).
alive() {
  local pid st state
  read -r pid st < "$1" 2>/dev/null || return 1
  [ -n "$pid" ] && [ "$(starttime "$pid")" = "$st" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# group_live PGID: some non-zombie process is left in that process group.
group_live() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ {f=1} END {exit !f}'; }

# our_pgids: process groups of every service we recorded that is still ours.
our_pgids() {
  local f pid st
  for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    read -r pid st < "$f" || continue
    if [ "$(starttime "$pid")" = "$st" ] || group_live "$pid"; then echo "$pid"; fi
  done
}

# services_rss_mib: total resident memory of all our process groups, in MiB.
services_rss_mib() {
  local g
  g=$(our_pgids | tr '\n' ' ')
  [ -n "$g" ] || { echo 0; return; }
  ps -e -o pgid=,rss= | awk -v gs="$g" 'BEGIN {n = split(gs, a, " "); for (i = 1; i <= n; i++) w[a[i]] = 1}
    ($1 in w) {s += $2} END {printf "%d\n", s / 1024}'
}

# rss_table: RSS per recorded service (MiB), for the README figures.
rss_table() {
  local f name pid st
  for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid); read -r pid st < "$f" || continue
    ps -e -o pgid=,rss= | awk -v g="$pid" -v n="$name" '$1 == g {s += $2} END {printf "  %-16s %5d MiB\n", n, s / 1024}'
  done
}

# stop_all: TERM every recorded process group, wait (bounded), then KILL what is left. Only groups whose
# leader's PID+start time match what we recorded (or that are still alive under that PGID) are touched.
stop_all() {
  local pgids g i left
  pgids=$(our_pgids)
  if [ -n "$pgids" ]; then
    for g in $pgids; do kill -TERM -- "-$g" 2>/dev/null || true; done
    for i in $(seq 1 "${STOP_TIMEOUT:-20}"); do
      left=""
      for g in $pgids; do group_live "$g" && left="$left $g"; done
      [ -z "$left" ] && break
      sleep 1
    done
    for g in $left; do warn "process group $g did not stop on TERM: KILL"; kill -KILL -- "-$g" 2>/dev/null || true; done
  fi
  rm -f "$PIDS"/*.pid 2>/dev/null || true
}

# port_busy PORT: something listens on 127.0.0.1:PORT (or on all addresses).
port_busy() { ss -ltnH "( sport = :$1 )" 2>/dev/null | grep -q .; }

# log_tails NAME...: last lines of those services' logs (all logs when no name is given).
log_tails() {
  local f names=("$@")
  [ ${#names[@]} -gt 0 ] || names=($(ls "$LOG" 2>/dev/null | sed 's/\.log$//'))
  for n in "${names[@]}"; do
    f=$LOG/$n.log
    [ -s "$f" ] || continue
    echo "----- tail of $f" >&2
    tail -n "${TAIL_LINES:-25}" "$f" >&2
  done
}

#!/bin/bash
# acceptance/openstack/down.sh — stop the test cloud started by up.sh and remove its state.
#
# Usage:  acceptance/openstack/down.sh            (as root, like up.sh)
# Env:    BASE   state root used by up.sh (default /tmp/strata-openstack)
#         PURGE=1  also remove $BASE/cache (the api-paste.ini files taken from the .debs)
#
# Stops exactly the processes up.sh recorded in $BASE/state/pids (each service, MariaDB, RabbitMQ and
# the epmd it uses run in their own process group; a PID file is honoured only if the process's start
# time still matches, so a recycled PID is never signalled). Nothing is killed by name. Safe to run when
# nothing is up. Packages stay installed.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

take_lock
n=$(our_pgids | wc -l)
stop_all
rm -rf "$STATE" "$BASE/clouds.yaml" "$BASE/openrc" "$BASE/admin-openrc"
[ -n "${PURGE:-}" ] && rm -rf "$CACHE"
echo "down: stopped $n process group(s), removed $STATE"

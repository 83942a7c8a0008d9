#!/bin/bash
# acceptance/openstack/smoke.sh — prove the test cloud from up.sh does what Strata's tests need,
# with the `openstack` CLI and curl only. Leaves no server behind (checks that none remain).
#
#  1. a server (microversion 2.37, networks "none", user_data, metadata) goes ACTIVE; its user_data
#     reads back (microversion >= 2.3; an admin-only attribute by Nova's default policy)
#  2. an anti-affinity server group with 3 members lands on 3 distinct hosts (needs COMPUTES >= 3);
#     a 4th member fails with "No valid host"
#  3. project strata-quota (instances quota 2): the 3rd server is refused; the exact Nova error is printed
#  4. everything is deleted; zero servers remain in strata and strata-quota
#
# Usage: acceptance/openstack/smoke.sh     Env: BASE (default /tmp/strata-openstack)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
for v in $(env | grep -o '^OS_[A-Z_]*'); do unset "$v"; done   # only clouds.yaml counts
export OS_CLIENT_CONFIG_FILE=$BASE/clouds.yaml
[ -s "$OS_CLIENT_CONFIG_FILE" ] || { echo "no $OS_CLIENT_CONFIG_FILE: run up.sh first" >&2; exit 1; }
os() { openstack --os-cloud "$@"; }                       # os CLOUD ARGS...
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
since() { echo "$(date +%s.%N) - $1" | bc | xargs printf '%.1f'; }

# wait_status CLOUD STATUS ID...: bounded wait until every server has STATUS (ERROR fails)
wait_status() {
  local cloud=$1 want=$2 id st deadline=$(( $(date +%s) + 120 )); shift 2
  for id in "$@"; do
    while :; do
      st=$(os "$cloud" server show "$id" -f value -c status)
      [ "$st" = "$want" ] && break
      [ "$st" = ERROR ] && { os "$cloud" server show "$id" -f json -c fault >&2; return 1; }
      [ "$(date +%s)" -lt "$deadline" ] || { echo "timeout: $id is $st" >&2; return 1; }
      sleep 1
    done
  done
}

# ----------------------------------------------------------------------------------- 1. one server
printf '#cloud-config\nruncmd:\n  - echo strata smoke\n' > "$TMP/user-data"
t=$(date +%s.%N)
id=$(os strata --os-compute-api-version 2.37 server create --image cirros-tiny --flavor m1.tiny --nic none \
       --user-data "$TMP/user-data" --property strata-role=smoke --property strata-stack=smoke \
       smoke-1 -f value -c id)
wait_status strata ACTIVE "$id"
ts "1. server $id ACTIVE in $(since "$t")s (create → ACTIVE, CLI)"
props=$(os strata server show "$id" -f value -c properties)
echo "   metadata: $props"
case $props in *strata-role*smoke*) ;; *) echo "FAIL: metadata missing" >&2; exit 1;; esac
ud=$(os strata-admin --os-compute-api-version 2.3 server show "$id" -f json | $PY -c \
       'import base64, json, sys; print(base64.b64decode(json.load(sys.stdin)["OS-EXT-SRV-ATTR:user_data"]).decode(), end="")')
[ "$ud" = "$(cat "$TMP/user-data")" ] || { echo "FAIL: user_data read back as: $ud" >&2; exit 1; }
echo "   user_data read back (admin, microversion 2.3): identical"
if os strata --os-compute-api-version 2.3 server show "$id" -f json | grep -q 'OS-EXT-SRV-ATTR:user_data'; then
  echo "   user_data is visible to the project user too"
else
  echo "   user_data is NOT visible to the project user (admin-only policy, as on most clouds)"
fi

# ---------------------------------------------------------------------- 2. anti-affinity group of 3
t=$(date +%s.%N)
gid=$(os strata --os-compute-api-version 2.64 server group create --policy anti-affinity smoke-aa -f value -c id)
members=()
for i in 1 2 3; do
  members+=("$(os strata --os-compute-api-version 2.37 server create --image debian-12 --flavor m1.small \
                 --nic none --hint group="$gid" "smoke-aa-$i" -f value -c id)")
done
wait_status strata ACTIVE "${members[@]}"
hosts=$(for m in "${members[@]}"; do os strata-admin server show "$m" -f value -c OS-EXT-SRV-ATTR:host; done | sort -u | tr '\n' ' ')
n_hosts=$(echo "$hosts" | wc -w)
ts "2. anti-affinity group $gid: 3 members ACTIVE in $(since "$t")s on hosts: $hosts"
[ "$n_hosts" = 3 ] || { echo "FAIL: members share hosts" >&2; exit 1; }
extra=$(os strata --os-compute-api-version 2.37 server create --image debian-12 --flavor m1.small \
          --nic none --hint group="$gid" smoke-aa-4 -f value -c id)
st=; for _ in $(seq 1 60); do st=$(os strata server show "$extra" -f value -c status); [ "$st" = BUILD ] || break; sleep 1; done
echo "   4th member: $st, fault: $(os strata server show "$extra" -f json -c fault | $PY -c \
       'import json, sys; print(json.load(sys.stdin).get("fault", {}).get("message"))')"

# ----------------------------------------------------------------------------------- 3. quota error
t=$(date +%s.%N)
qids=()
for i in 1 2; do
  qids+=("$(os strata-quota --os-compute-api-version 2.37 server create --image cirros-tiny --flavor m1.tiny \
             --nic none "smoke-quota-$i" -f value -c id)")
done
wait_status strata-quota ACTIVE "${qids[@]}"
# the 3rd, through the API directly, to see Nova's exact status and body
token=$(os strata-quota token issue -f value -c id)
nova=$(os strata-quota catalog show compute -f json | $PY -c \
        'import json, sys; print([e["url"] for e in json.load(sys.stdin)["endpoints"] if e["interface"] == "public"][0])')
image=$(os strata-quota image show cirros-tiny -f value -c id)
code=$(curl -s -o "$TMP/quota.json" -w '%{http_code}' -X POST "$nova/servers" -H "X-Auth-Token: $token" \
        -H 'Content-Type: application/json' -H 'OpenStack-API-Version: compute 2.37' \
        -d "{\"server\": {\"name\": \"smoke-quota-3\", \"imageRef\": \"$image\", \"flavorRef\": \"1\", \"networks\": \"none\"}}")
ts "3. strata-quota: 2 servers ACTIVE, 3rd refused: HTTP $code $(cat "$TMP/quota.json")"
[ "$code" = 403 ] || { echo "FAIL: expected 403" >&2; exit 1; }
cli_err=$(os strata-quota --os-compute-api-version 2.37 server create --image cirros-tiny --flavor m1.tiny \
            --nic none smoke-quota-3 2>&1 >/dev/null || true)
echo "   CLI says: $cli_err"

# ---------------------------------------------------------------------------------- 4. delete all
t=$(date +%s.%N)
# (no --wait: the CLI polls each server in turn every 5 s; poll the lists instead)
os strata server delete "$id" "${members[@]}" "$extra"
os strata-quota server delete "${qids[@]}"
deadline=$(( $(date +%s) + 120 ))
while :; do
  left=$(( $(os strata server list -f value -c ID | wc -l) + $(os strata-quota server list -f value -c ID | wc -l) ))
  [ "$left" = 0 ] || [ "$(date +%s)" -ge "$deadline" ] && break
  sleep 1
done
os strata server group delete "$gid"
ts "4. deleted everything in $(since "$t")s; servers left: $left"
[ "$left" = 0 ] || { echo "FAIL: servers remain" >&2; exit 1; }
echo "SMOKE OK"

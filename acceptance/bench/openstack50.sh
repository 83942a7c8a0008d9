#!/usr/bin/env bash
# 50 servers created (ACTIVE) and deleted against the local OpenStack
# (acceptance/openstack/up.sh): `strata up` + `strata down` of a 50-machine
# pool, against a minimal direct gophercloud loop (osdirect) doing the same
# at the same concurrency and polling. Target: strata within 1.2x; no
# errors. Rounds alternate the two so load from elsewhere falls on both.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-50}
PAR=${PAR:-10}
ROUNDS=${ROUNDS:-3}
OSDIR=${STRATA_OPENSTACK_DIR:-/tmp/strata-openstack}
[ -f "$OSDIR/openrc" ] || { echo "openstack50.sh: no test cloud at $OSDIR (bash acceptance/openstack/up.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/strata" ./cmd/strata
go build -o "$work/osdirect" ./acceptance/bench/osdirect
image=$(/usr/bin/python3 - "$OSDIR/clouds.yaml" <<'PY'
import sys, json, urllib.request, yaml
c = yaml.safe_load(open(sys.argv[1]))["clouds"]["strata"]["auth"]
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": c["username"], "password": c["password"], "domain": {"name": c["user_domain_name"]}}}},
        "scope": {"project": {"name": c["project_name"], "domain": {"name": c["project_domain_name"]}}}}}
req = urllib.request.Request(c["auth_url"] + "/auth/tokens", json.dumps(body).encode(), {"Content-Type": "application/json"})
resp = urllib.request.urlopen(req)
tok = resp.headers["X-Subject-Token"]
glance = [e["url"] for s in json.load(resp)["token"]["catalog"] if s["type"] == "image" for e in s["endpoints"] if e["interface"] == "public"][0]
imgs = json.load(urllib.request.urlopen(urllib.request.Request(glance + "/v2/images?name=cirros-tiny", headers={"X-Auth-Token": tok})))
print(imgs["images"][0]["id"])
PY
)
cat >"$work/bench.strata.hcl" <<HCL
stack {
  name = "bench50"
}
substrate "openstack" "lab" {
  cloud   = "strata"
  image   = "cirros-tiny"
  network = "none"
}
pool "servers" {
  substrate = substrate.openstack.lab
  size      = $N
  flavor    = "m1.tiny"
}
HCL
now() { date +%s.%N; }
: >"$work/times"
strata_round() {
  local t0 t1 t2
  t0=$(now)
  (cd "$work" && OS_CLIENT_CONFIG_FILE="$OSDIR/clouds.yaml" ./strata up bench.strata.hcl -parallelism "$PAR" >up.log 2>&1) || { cat "$work/up.log"; exit 1; }
  t1=$(now)
  (cd "$work" && OS_CLIENT_CONFIG_FILE="$OSDIR/clouds.yaml" ./strata down bench.strata.hcl -parallelism "$PAR" >down.log 2>&1) || { cat "$work/down.log"; exit 1; }
  t2=$(now)
  awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {printf "%.2f %.2f\n", b-a, c-b}'
}
direct_round() { (set -a; . "$OSDIR/openrc"; set +a; "$work/osdirect" -n "$N" -parallelism "$PAR" -flavor 1 -image "$image"); }
for r in $(seq "$ROUNDS"); do
  # Who goes first alternates too: a cloud still settling after the
  # previous run must not always slow the same one.
  if [ $((r % 2)) = 1 ]; then read -r su sd < <(strata_round); read -r du dd < <(direct_round)
  else read -r du dd < <(direct_round); read -r su sd < <(strata_round); fi
  awk -v r="$r" -v su="$su" -v sd="$sd" -v du="$du" -v dd="$dd" 'BEGIN {
    printf "round %d: strata up %.2f + down %.2f = %.2f s; direct gophercloud %.2f + %.2f = %.2f s; ratio %.3f\n", r, su, sd, su+sd, du, dd, du+dd, (su+sd)/(du+dd) }' | tee -a "$work/times"
done
# Fields: $10 is strata's total, $18 the direct loop's.
awk '{s+=$10; d+=$18} END {printf "mean over %d rounds: strata %.2f s, direct %.2f s, ratio %.3f (target <= 1.2)\n", NR, s/NR, d/NR, s/d}' "$work/times"

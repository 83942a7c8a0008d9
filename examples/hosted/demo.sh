#!/usr/bin/env bash
# Layers on layers on the embedded defaults: the vSphere simulator for
# machines, the Marathon v2 test server for the Mesos layer's API (Mesos
# and Marathon are retired and cannot run here), and a real Kubernetes
# API server with kwok nodes serving the CA the stack derives. strata up of
# examples/stacks/layers-on-layers.strata.hcl brings Mesos up on two VMs,
# Kubernetes as Marathon apps on it, OpenStack's control plane as
# workloads on that Kubernetes; status shows it; down removes everything.
# Run it through `make hosted-demo` from the repository root.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/bin"
stack="$root/examples/stacks/layers-on-layers.strata.hcl"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME ARGS...: runs `strata sim ARGS` in the background and reads
# the environment it prints.
start() {
  local name=$1; shift
  "$bin/strata" sim "$@" -state-dir "$work/.strata" >"$work/$name.env" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 300); do [ -s "$work/$name.env" ] && break; sleep 0.1; done
  [ -s "$work/$name.env" ] || { cat "$work/$name.log" >&2; exit 1; }
  sleep 0.2 # the whole of the export lines
  # shellcheck disable=SC1090
  . "$work/$name.env"
}

echo "== starting the vSphere simulator, the Marathon test server and Kubernetes (kwok nodes)"
start vsphere vsphere
start marathon marathon
start kubernetes kubernetes -stack layers -layer-name k -nodes 3
echo "   vSphere    $VSPHERE_SERVER"
echo "   Marathon   $STRATA_MARATHON"
echo "   Kubernetes https://$STRATA_KUBE_ENDPOINT"

vars=(-var "marathon_endpoint=$STRATA_MARATHON" -var "kube_endpoint=$STRATA_KUBE_ENDPOINT" -var workers=2)
cd "$work"
echo "== strata plan"
"$bin/strata" plan "$stack" "${vars[@]}" | sed -n '/^layer\./,/^Order/p'
echo "== strata up"
"$bin/strata" up "$stack" "${vars[@]}"
echo "== strata status"
"$bin/strata" status "$stack" "${vars[@]}"
echo "== what runs on Kubernetes (kubectl get statefulsets,deployments -A -l stratastack.io/stack=layers)"
"${STRATA_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/strata/kube-v1.37.2}/kubectl" get statefulsets,deployments -A -l stratastack.io/stack=layers
echo "== what runs on Marathon (GET /v2/apps)"
curl -s "$STRATA_MARATHON/v2/apps" | python3 -c 'import json,sys; [print("  ", a["id"], "instances:", a["instances"]) for a in json.load(sys.stdin)["apps"]]'
echo "== strata down"
"$bin/strata" down "$stack" "${vars[@]}"
echo "== done: the simulators stop now"

#!/usr/bin/env bash
# Issue 3's benchmark: apply and destroy a 500-machine stack (3 Mesos
# masters + 497 agents, each with its rendered cloud-init) on the vSphere
# simulator at parallelism 50 with `strata up/down` (the engine the provider
# runs), reporting wall time and peak RSS; then the same 500 clones +
# destroys by a minimal direct govmomi loop at the same concurrency, and
# the ratio. Usage: acceptance/bench/vsphere500.sh [MACHINES] [PARALLELISM]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-500}
par=${2:-50}
work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

go build -o "$work/strata" ./cmd/strata
go build -o "$work/terraform-provider-strata" ./cmd/terraform-provider-strata
"$work/strata" sim vsphere >"$work/sim.env" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 100); do grep -q VSPHERE_SERVER "$work/sim.env" 2>/dev/null && break; sleep 0.1; done
. "$work/sim.env"
cat >"$work/b.strata.hcl" <<HCL
stack {
  name = "bench"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
  datastore  = "LocalDS_0"
  network    = "VM Network"
  template   = "ubuntu-24.04"
}
pool "p" {
  substrate = substrate.vsphere.dc
  size      = $n
  memory_mb = 1024
}
layer "mesos" "m" {
  role "master" {
    on    = pool.p
    count = 3
  }
  role "agent" {
    on = pool.p
  }
}
HCL
cd "$work"
/usr/bin/time -f "%e %M" -o up.time ./strata up b.strata.hcl -parallelism "$par" >up.log 2>&1 || { tail -20 up.log; exit 1; }
/usr/bin/time -f "%e %M" -o down.time ./strata down b.strata.hcl -parallelism "$par" >down.log 2>&1 || { tail -20 down.log; exit 1; }
read -r up_s up_kb <up.time
read -r down_s down_kb <down.time
cd - >/dev/null
echo "strata up   $n machines @ $par: ${up_s} s, peak RSS $((up_kb / 1024)) MiB"
echo "strata down $n machines @ $par: ${down_s} s, peak RSS $((down_kb / 1024)) MiB"
# The same stack through terraform and the provider; the provider's peak
# RSS is its VmHWM, sampled until it exits.
. acceptance/bench/tfconfig.sh
tf_config "$work" "$par"
cp "$work/b.strata.hcl" "$work/tf/"
tf_phase() {
  local start end hwm=0 pid kb
  start=$(date +%s.%N)
  TF_CLI_CONFIG_FILE="$work/terraformrc" terraform -chdir="$work/tf" "$@" -auto-approve -no-color >"$work/tf.log" 2>&1 &
  local tf=$!
  while kill -0 "$tf" 2>/dev/null; do
    for pid in $(pgrep -f "$work/terraform-provider-strata" || true); do
      kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ "${kb:-0}" -gt "$hwm" ] && hwm=$kb
    done
    sleep 0.2
  done
  wait "$tf" || { tail -20 "$work/tf.log"; exit 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" -v m="$hwm" -v what="$1" -v n="$n" -v p="$par" \
    'BEGIN { printf "terraform %s %d machines @ %d: %.2f s, provider peak RSS %d MiB\n", what, n, p, b - a, m / 1024 }'
}
tf_phase apply
tf_phase destroy

direct=$(STRATA_BENCH_MACHINES=$n STRATA_BENCH_PARALLEL=$par go test -run '^$' -bench '^BenchmarkDirectCloneDestroy$' -benchtime 1x ./provisioners/vsphere/ | awk '/BenchmarkDirect/ {print $3/1e9}')
echo "direct govmomi clone+destroy $n @ $par: ${direct} s"
awk -v u="$up_s" -v w="$down_s" -v d="$direct" 'BEGIN { printf "ratio strata/direct: %.2f (target < 1.2)\n", (u + w) / d }'

#!/usr/bin/env bash
# Issue 12's benchmark: 500 EC2 instances (3 Mesos masters + 497 agents,
# each with its rendered cloud-init) up and down against moto's EC2 server
# (strata sim aws) with `strata up/down` at parallelism 20, then the same
# stack through terraform and the provider, then a plain aws-sdk-go-v2 loop
# (RunInstances, running waiter, terminate, terminated waiter) at the same
# concurrency against the same server; wall times, peak RSS and the ratios.
# moto is one Python process on the same two cores, so single runs vary by
# a third: the phases take turns for ROUNDS rounds and the medians count.
# Usage: acceptance/bench/aws500.sh [MACHINES] [PARALLELISM] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-500}
par=${2:-20}
rounds=${3:-3}
work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "needs moto_server (moto 5)" >&2; exit 1; }

go build -o "$work/strata" ./cmd/strata
go build -o "$work/terraform-provider-strata" ./cmd/terraform-provider-strata

# Each phase gets a fresh server: moto keeps terminated instances, and
# a phase run after another would pay for its predecessor's.
start_sim() {
  [ -n "$sim_pid" ] && { kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; }
  "$work/strata" sim aws >"$work/sim.env" 2>"$work/sim.log" &
  sim_pid=$!
  for _ in $(seq 300); do grep -q TF_VAR_security_group_ids "$work/sim.env" 2>/dev/null && break; sleep 0.1; done
  grep -q TF_VAR_security_group_ids "$work/sim.env" || { cat "$work/sim.log" >&2; exit 1; }
  . "$work/sim.env"
  cat >"$1/b.strata.hcl" <<HCL
stack {
  name = "bench"
}
substrate "aws" "ec2" {
  ami                = "$TF_VAR_ami"
  key_name           = "$TF_VAR_key_name"
  subnet_ids         = $TF_VAR_subnet_ids
  security_group_ids = $TF_VAR_security_group_ids
  instance_type      = "t3.medium"
}
pool "p" {
  substrate = substrate.aws.ec2
  size      = $n
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
}
. acceptance/bench/tfconfig.sh
tf_config "$work" "$par"
now() { date +%s.%N; }
for r in $(seq "$rounds"); do
  start_sim "$work"
  (cd "$work" && /usr/bin/time -f "%e %M" -o up.time ./strata up b.strata.hcl -parallelism "$par" >up.log 2>&1) || { tail -20 "$work/up.log"; exit 1; }
  (cd "$work" && /usr/bin/time -f "%e %M" -o down.time ./strata down b.strata.hcl -parallelism "$par" >down.log 2>&1) || { tail -20 "$work/down.log"; exit 1; }
  read -r up_s up_kb <"$work/up.time"
  read -r down_s down_kb <"$work/down.time"
  echo "round $r: strata up $up_s s (peak RSS $((up_kb / 1024)) MiB), down $down_s s (peak RSS $((down_kb / 1024)) MiB)"
  echo "$up_s $down_s" >>"$work/strata.runs"

  start_sim "$work/tf"
  a=$(now)
  TF_CLI_CONFIG_FILE="$work/terraformrc" terraform -chdir="$work/tf" apply -auto-approve -no-color >"$work/tf.log" 2>&1 || { tail -20 "$work/tf.log"; exit 1; }
  b=$(now)
  TF_CLI_CONFIG_FILE="$work/terraformrc" terraform -chdir="$work/tf" destroy -auto-approve -no-color >"$work/tf.log" 2>&1 || { tail -20 "$work/tf.log"; exit 1; }
  c=$(now)
  awk -v r="$r" -v a="$a" -v b="$b" -v c="$c" 'BEGIN { printf "round %d: terraform apply %.2f s, destroy %.2f s\n", r, b - a, c - b }'
  awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { print b - a, c - b }' >>"$work/tf.runs"

  start_sim "$work"
  # The direct loop sends an agent's bootstrap as every instance's user-data.
  (cd "$work" && ./strata render b.strata.hcl -node p/3 >agent.userdata)
  d=$(STRATA_MOTO_URL=$AWS_ENDPOINT_URL STRATA_BENCH_USERDATA="$work/agent.userdata" STRATA_BENCH_MACHINES=$n STRATA_BENCH_PARALLEL=$par \
    go test -run '^$' -bench '^BenchmarkDirectMoto$' -benchtime 1x ./provisioners/aws/ | awk '/BenchmarkDirect/ {print $3/1e9}')
  echo "round $r: direct aws-sdk-go-v2 run+terminate $d s"
  echo "$d" >>"$work/direct.runs"
done
median() { awk '{ print $1 + $2 }' "$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
s=$(median "$work/strata.runs")
t=$(median "$work/tf.runs")
d=$(median "$work/direct.runs")
echo "medians of $rounds rounds, $n instances @ $par: strata up+down $s s, terraform apply+destroy $t s, direct SDK loop $d s"
awk -v s="$s" -v t="$t" -v d="$d" 'BEGIN { printf "ratio strata/direct: %.2f (target <= 1.2); terraform/direct: %.2f\n", s / d, t / d }'

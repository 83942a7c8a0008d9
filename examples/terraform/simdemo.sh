#!/usr/bin/env bash
# A demo on a simulator: `strata sim KIND` on 127.0.0.1 (vsphere: a vCenter
# simulator with an ubuntu-24.04 template; aws: moto's EC2 server with
# subnets in three zones, a security group and a key pair), the provider
# from Terraform's local mirror (make install; terraform init), terraform
# apply of examples/terraform/KIND, its outputs, terraform destroy, and the
# simulator stopped. `make demo` runs it for vsphere, `make aws-demo` for
# aws. Usage: examples/terraform/simdemo.sh vsphere|aws
set -euo pipefail
kind=${1:?usage: simdemo.sh vsphere|aws}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/bin"
work=$(mktemp -d)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=examples/terraform/init.sh
. "$root/examples/terraform/init.sh"

command -v terraform >/dev/null || { echo "demo: terraform (>= 1.11) or OpenTofu is required on PATH" >&2; exit 1; }
case $kind in
vsphere) last=VSPHERE_ALLOW_UNVERIFIED_SSL ;;
aws)
  last=TF_VAR_security_group_ids
  command -v moto_server >/dev/null || { echo "demo: moto_server (moto 5: pip install 'moto[server]') is required on PATH" >&2; exit 1; }
  ;;
*) echo "demo: no simulator demo for $kind" >&2; exit 2 ;;
esac

echo "== starting the simulator (strata sim $kind)"
"$bin/strata" sim "$kind" >"$work/sim.env" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 300); do grep -q "$last" "$work/sim.env" 2>/dev/null && break; sleep 0.1; done
grep -q "$last" "$work/sim.env" || { cat "$work/sim.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/sim.env"
sed 's/^/   /' "$work/sim.log"

cp "$root/examples/terraform/$kind"/*.tf "$root/examples/terraform/$kind"/*.strata.hcl "$work/"
tf_init "$work"
echo "== terraform apply"
terraform -chdir="$work" apply -auto-approve -no-color >"$work/apply.log" 2>&1 || { cat "$work/apply.log" >&2; exit 1; }
grep -E "Creation complete|Apply complete" "$work/apply.log"
echo "== the outputs"
terraform -chdir="$work" output -no-color
echo "== terraform destroy"
terraform -chdir="$work" destroy -auto-approve -no-color 2>&1 | tail -3
echo "== done: the simulator stops now"

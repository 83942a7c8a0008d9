#!/usr/bin/env bash
# The AWS demo: moto's EC2 server on 127.0.0.1 (strata sim aws, which
# needs moto_server), the provider from Terraform's local mirror (make
# install; terraform init), then terraform apply of this folder (Mesos: three masters
# over three subnets and zones, three agents), the instances, terraform
# destroy, and the server stopped. Run it through `make aws-demo`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin="$root/bin"
work=$(mktemp -d)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

command -v terraform >/dev/null || { echo "aws-demo: terraform (>= 1.11) or OpenTofu is required on PATH" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "aws-demo: moto_server (pip install 'moto[server]') is required on PATH" >&2; exit 1; }

echo "== starting moto's EC2 server (strata sim aws)"
"$bin/strata" sim aws >"$work/sim.env" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 300); do grep -q TF_VAR_security_group_ids "$work/sim.env" 2>/dev/null && break; sleep 0.1; done
grep -q TF_VAR_security_group_ids "$work/sim.env" || { cat "$work/sim.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/sim.env"
echo "   $AWS_ENDPOINT_URL: subnets $TF_VAR_subnet_ids, security group $TF_VAR_security_group_ids"

# An empty CLI configuration: no provider_installation block, so terraform
# init takes the provider from the implied local mirror, where make install
# put it (~/.terraform.d/plugins), checks the version constraint and
# writes .terraform.lock.hcl, as it does for any provider.
: >"$work/terraformrc"
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
cp "$root"/examples/terraform/aws/*.tf "$root"/examples/terraform/aws/*.strata.hcl "$work/"

echo "== terraform init (the provider make install put in the local mirror)"
terraform -chdir="$work" init -input=false -no-color | grep -E "Installing|Installed|initialized" || true

echo "== terraform apply"
terraform -chdir="$work" apply -auto-approve -no-color
echo "== the masters"
terraform -chdir="$work" output -no-color masters
echo "== terraform destroy"
terraform -chdir="$work" destroy -auto-approve -no-color 2>&1 | tail -3
echo "== done: the EC2 server stops now"

#!/usr/bin/env bash
# The main demo: a vSphere simulator on 127.0.0.1, the provider from
# Terraform's local mirror (make install put it there; terraform init), then
# terraform apply of this folder, the machines, terraform destroy, and the
# simulator stopped. Run it through `make demo` from the repository root.
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

command -v terraform >/dev/null || { echo "demo: terraform (>= 1.11) or OpenTofu is required on PATH" >&2; exit 1; }

echo "== starting the vSphere simulator (strata sim vsphere)"
"$bin/strata" sim vsphere >"$work/sim.env" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 100); do grep -q VSPHERE_SERVER "$work/sim.env" 2>/dev/null && break; sleep 0.1; done
grep -q VSPHERE_SERVER "$work/sim.env" || { cat "$work/sim.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/sim.env"
echo "   $VSPHERE_SERVER (template ubuntu-24.04)"

# An empty CLI configuration: no provider_installation block, so terraform
# init takes the provider from the implied local mirror, where make install
# put it (~/.terraform.d/plugins), checks the version constraint and
# writes .terraform.lock.hcl, as it does for any provider.
: >"$work/terraformrc"
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
cp "$root"/examples/terraform/vsphere/*.tf "$root"/examples/terraform/vsphere/*.strata.hcl "$work/"

echo "== terraform init (the provider make install put in the local mirror)"
terraform -chdir="$work" init -input=false -no-color | grep -E "Installing|Installed|initialized" || true

echo "== terraform apply"
terraform -chdir="$work" apply -auto-approve -no-color
echo "== the machines"
terraform -chdir="$work" output -no-color machines
echo "== terraform destroy"
terraform -chdir="$work" destroy -auto-approve -no-color 2>&1 | tail -3
echo "== done: the simulator stops now"

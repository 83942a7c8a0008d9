#!/usr/bin/env bash
# The bare-metal demo: a QEMU lab (strata lab up: three VMs with IPMI BMCs
# and a boot server, in a network namespace of their own), the locally
# provider from Terraform's local mirror (make install; terraform init), terraform apply of
# this folder (each machine registered, set to PXE, powered on by IPMI,
# ready when it phones home), the machines, terraform destroy (all powered
# off), lab down. Run it as root through `make lab-demo`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin="$root/bin"
labdir=${STRATA_LAB_DIR:-$root/.strata/lab}
work=$(mktemp -d)
cleanup() {
  "$bin/strata" lab down -dir "$labdir" || true
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=examples/terraform/init.sh
. "$root/examples/terraform/init.sh"

command -v terraform >/dev/null || { echo "lab-demo: terraform (>= 1.11) or OpenTofu is required on PATH" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "lab-demo: run as root (sudo make lab-demo): the lab makes a network namespace and tap devices" >&2; exit 1; }

echo "== strata lab up"
"$bin/strata" lab up -dir "$labdir"
set -a
# shellcheck disable=SC1091
. "$labdir/lab.env"
set +a

echo "== the boot server's status page: $STRATA_LAB_BOOT_SERVER/ (open it now to watch the VMs boot, until the lab goes down)"
echo "   log in with the API token, STRATA_BOOT_TOKEN in $labdir/lab.env: grep STRATA_BOOT_TOKEN $labdir/lab.env"

cp "$root"/examples/terraform/baremetal/*.tf "$root"/examples/terraform/baremetal/*.strata.hcl "$work/"
tf_init "$work"

echo "== terraform apply (the VMs PXE-boot from the boot server; consoles in $labdir/vms/*/console.log)"
start=$(date +%s)
terraform -chdir="$work" apply -auto-approve -no-color -var "boot_server=$STRATA_LAB_BOOT_SERVER"
echo "   applied in $(( $(date +%s) - start )) s"
echo "== the machines"
terraform -chdir="$work" output -no-color machines
"$bin/strata" lab status -dir "$labdir"
echo "== what vm0 printed on its console"
grep 'strata-lab:' "$labdir/vms/vm0/console.log" || true
echo "== terraform destroy (powers every machine off through its BMC)"
terraform -chdir="$work" destroy -auto-approve -no-color -var "boot_server=$STRATA_LAB_BOOT_SERVER" 2>&1 | tail -3
"$bin/strata" lab status -dir "$labdir"
echo "== done: the lab goes down now"

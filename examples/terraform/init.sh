# Sourced by the demos: tf_init WORK runs terraform init in WORK the way a
# user's configuration is initialised. The CLI configuration is empty (no
# provider_installation block), so terraform init takes the provider from
# the implied local mirror where make install put it
# (~/.terraform.d/plugins), checks the version constraint and writes
# .terraform.lock.hcl, as it does for any provider.
tf_init() {
  : >"$1/terraformrc"
  export TF_CLI_CONFIG_FILE="$1/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
  echo "== terraform init (the provider make install put in the local mirror)"
  terraform -chdir="$1" init -input=false -no-color | grep -E "Installing|Installed|initialized" || true
}

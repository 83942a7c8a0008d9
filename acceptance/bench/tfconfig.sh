# Sourced by the benchmarks: tf_config WORK PAR writes WORK/tf/main.tf
# (the provider at parallelism PAR and a strata_stack of WORK/tf/b.strata.hcl)
# and WORK/terraformrc, a dev_overrides CLI configuration for the provider
# built into WORK: the benchmarks measure the provider, not its install.
tf_config() {
  mkdir -p "$1/tf"
  cat >"$1/tf/main.tf" <<TF
terraform {
  required_providers {
    strata = { source = "stratastack/strata" }
  }
}
provider "strata" {
  parallelism = $2
}
resource "strata_stack" "b" {
  path = "\${path.module}/b.strata.hcl"
}
TF
  cat >"$1/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "registry.terraform.io/stratastack/strata" = "$1"
  }
  direct {}
}
RC
}

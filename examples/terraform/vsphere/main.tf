# A Mesos stack on vSphere through the strata provider. `make demo` runs
# it against the simulator of `strata sim vsphere`, with the provider that
# make install put in Terraform's local mirror.
terraform {
  required_version = ">= 1.11"
  required_providers {
    strata = {
      source  = "stratastack/strata"
      version = "~> 0.13"
    }
  }
}

variable "agents" {
  type        = number
  default     = 5
  description = "Mesos agents beside the three masters."
}

# vCenter comes from VSPHERE_SERVER, VSPHERE_USER, VSPHERE_PASSWORD and
# VSPHERE_ALLOW_UNVERIFIED_SSL (strata sim vsphere prints them).
provider "strata" {}

resource "strata_stack" "mesos" {
  path = "${path.module}/mesos.strata.hcl"
  vars = {
    agents = var.agents
  }
}

output "machines" {
  description = "Each machine's role, state and addresses."
  value = {
    for name, m in strata_stack.mesos.machines :
    name => "${m.role} ${m.state} ${join(",", m.addresses)}"
  }
}

output "masters" {
  description = "The Mesos masters' addresses (ZooKeeper on 2181, Mesos on 5050, Marathon on 8080)."
  value       = [for m in strata_stack.mesos.machines : m.addresses[0] if m.role == "master" && length(m.addresses) > 0]
}

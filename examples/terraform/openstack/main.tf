# A Mesos stack on OpenStack through the strata provider.
#
# Credentials come from where the OpenStack CLI finds them: OS_CLOUD and
# clouds.yaml (OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
# ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml, with
# secure.yaml beside it), or the other OS_* variables (an openrc file).
# The stack file names the clouds.yaml entry ("strata"); against the local
# test cloud of acceptance/openstack/up.sh:
#
#   export OS_CLIENT_CONFIG_FILE=/tmp/strata-openstack/clouds.yaml
#   terraform apply
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
  default     = 4
  description = "Mesos agents beside the three masters."
}

# Settings here win over OS_*; a stack's substrate block that names a
# cloud (as mesos.strata.hcl does) is reached as that clouds.yaml entry
# says. The password is sensitive and never stored in state. Left empty,
# everything comes from clouds.yaml and the environment.
provider "strata" {
  openstack {}
}

resource "strata_stack" "mesos" {
  path = "${path.module}/mesos.strata.hcl"
  vars = {
    agents = var.agents
  }
}

output "machines" {
  description = "Each machine's role, state and addresses (none on network \"none\")."
  value = {
    for name, m in strata_stack.mesos.machines :
    name => "${m.role} ${m.state} ${join(",", m.addresses)}"
  }
}

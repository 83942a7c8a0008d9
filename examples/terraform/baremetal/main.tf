# A Mesos stack on bare metal through the strata provider: each machine is
# registered with the boot server, set to PXE-boot and powered on through
# its BMC, and is ready when it phones home. `make lab-demo` runs it
# against the QEMU lab of `strata lab up`.
terraform {
  required_version = ">= 1.11"
  required_providers {
    strata = {
      source  = "stratastack/strata"
      version = "~> 0.13"
    }
  }
}

variable "boot_server" {
  type        = string
  default     = "http://169.254.77.2:8080"
  description = "The boot server's API URL (strata lab up prints it)."
}

# The boot server's token comes from STRATA_BOOT_TOKEN and the BMC
# password from STRATA_BMC_PASSWORD: `. .strata/lab/lab.env` sets both.
provider "strata" {}

resource "strata_stack" "metal" {
  path = "${path.module}/mesos.strata.hcl"
  vars = {
    boot_server = var.boot_server
  }
}

output "machines" {
  description = "Each machine's role, state and the address it phoned home from."
  value = {
    for name, m in strata_stack.metal.machines :
    name => "${m.role} ${m.state} ${join(",", m.addresses)}"
  }
}

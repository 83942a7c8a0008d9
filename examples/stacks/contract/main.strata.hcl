# The example of STACKS.md, split over a folder: every *.strata.hcl here is
# one stack.
stack {
  name = "edge-1"
}

variable "agents" {
  type        = number
  default     = 3
  description = "Mesos agents"
}

output "mesos_masters" {
  value = layer.mesos.core.role.master.addresses
}

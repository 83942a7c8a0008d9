# A Mesos cluster on vSphere: three masters (ZooKeeper, Mesos master,
# Marathon) and `agents` agents, cloned from the ubuntu-24.04 template.
# The settings match the simulator of `strata sim vsphere`; point them at
# your own datacenter, cluster, datastore, network and template.
stack {
  name = "mesos-demo"
}

variable "agents" {
  type        = number
  default     = 5
  description = "Mesos agents beside the three masters"
}

substrate "vsphere" "dc" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
  datastore  = "LocalDS_0"
  network    = "VM Network"
  template   = "ubuntu-24.04"
}

pool "mesos" {
  substrate = substrate.vsphere.dc
  size      = 3 + var.agents
  cpus      = 2
  memory_mb = 4096
}

layer "mesos" "core" {
  role "master" {
    on    = pool.mesos
    count = 3
  }
  role "agent" {
    on = pool.mesos # the rest of the pool
  }
}

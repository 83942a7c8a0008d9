# Kubernetes on an OpenStack layer: OpenStack brought up on vSphere VMs, then
# a pool of Nova servers on that new cloud, then Kubernetes on the servers.
stack {
  name = "koo"
}

variable "workers" {
  type    = number
  default = 3
}

substrate "vsphere" "dc" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
  template   = "ubuntu-24.04"
}

pool "infra" {
  substrate = substrate.vsphere.dc
  size      = 3
  cpus      = 8
  memory_mb = 32768
}

layer "openstack" "cloud" {
  region = "RegionOne"
  role "controller" {
    on    = pool.infra
    count = 1
  }
  role "compute" {
    on = pool.infra
  }
}

pool "tenant" {
  substrate = layer.openstack.cloud
  size      = 1 + var.workers
  flavor    = "m1.medium"
  image     = "ubuntu-24.04"
}

layer "kubernetes" "apps" {
  role "control-plane" {
    on    = pool.tenant
    count = 1
  }
  role "worker" {
    on = pool.tenant
  }
}

output "api" {
  value = "https://${layer.kubernetes.apps.role.control-plane.addresses[0]}:6443"
}

# Layers on layers: Mesos on two vSphere machines, Kubernetes run by
# Marathon on that Mesos, and OpenStack's control plane run as workloads
# on that Kubernetes. `make hosted-demo` brings it up on the embedded
# defaults (the vSphere simulator, the Marathon v2 test server and a real
# Kubernetes API with kwok nodes); against real layers, point the two
# endpoints at your Marathon and at your Kubernetes API's address.

stack {
  name = "layers"
}

variable "marathon_endpoint" {
  type        = string
  default     = "http://127.0.0.1:8080"
  description = "Marathon's API (strata sim marathon prints it as STRATA_MARATHON)."
}

variable "kube_endpoint" {
  type        = string
  default     = "127.0.0.1:6443"
  description = "host:port of the Kubernetes API server the control plane on Mesos serves (strata sim kubernetes prints it as STRATA_KUBE_ENDPOINT)."
}

variable "workers" {
  type    = number
  default = 2
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
  size      = 2
  cpus      = 4
  memory_mb = 8192
}

layer "mesos" "m" {
  marathon_endpoint = var.marathon_endpoint
  role "master" {
    on    = pool.mesos
    count = 1
  }
  role "agent" {
    on = pool.mesos
  }
}

layer "kubernetes" "k" {
  control_plane_endpoint = var.kube_endpoint
  role "control-plane" {
    on    = layer.mesos.m
    count = 1
  }
  role "worker" {
    on    = layer.mesos.m
    count = var.workers
  }
}

layer "openstack" "cloud" {
  role "controller" {
    on    = layer.kubernetes.k
    count = 1
  }
  role "compute" {
    on    = layer.kubernetes.k
    count = 1
  }
}

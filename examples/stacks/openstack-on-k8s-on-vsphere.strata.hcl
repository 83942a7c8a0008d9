# OpenStack on Kubernetes on vSphere, openstack-helm style: the control
# plane and the compute agents run as Kubernetes workloads.
stack {
  name = "osk"
}

substrate "vsphere" "dc" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
  datastore  = "LocalDS_0"
  network    = "VM Network"
  template   = "ubuntu-24.04"
}

pool "k8s" {
  substrate = substrate.vsphere.dc
  size      = 6
  cpus      = 8
  memory_mb = 16384
}

layer "kubernetes" "base" {
  role "control-plane" {
    on    = pool.k8s
    count = 3
  }
  role "worker" {
    on = pool.k8s
  }
}

layer "openstack" "cloud" {
  role "controller" {
    on    = layer.kubernetes.base
    count = 3
  }
  role "compute" {
    on    = layer.kubernetes.base
    count = 3
  }
}

# Mesos on Kubernetes: Kubernetes on OpenStack servers, and Mesos masters
# and agents as Kubernetes StatefulSets.
stack {
  name = "mok"
}

substrate "openstack" "lab" {
  cloud   = "devstack"
  image   = "ubuntu-24.04"
  network = "private"
}

pool "nodes" {
  substrate = substrate.openstack.lab
  size      = 4
  cpus      = 4
  memory_mb = 8192
}

layer "kubernetes" "k" {
  role "control-plane" {
    on    = pool.nodes
    count = 1
  }
  role "worker" {
    on = pool.nodes
  }
}

layer "mesos" "m" {
  role "master" {
    on    = layer.kubernetes.k
    count = 3
  }
  role "agent" {
    on    = layer.kubernetes.k
    count = 4
  }
}

# Kubernetes on Mesos on OpenStack on bare metal: an OpenStack layer on a
# rack, a pool of Nova servers on that cloud, Mesos on the servers, and
# Kubernetes as Marathon apps on Mesos.
stack {
  name = "deep"
}

substrate "baremetal" "rack1" {
  boot_server = "http://10.0.0.2:8080"
  image {
    kernel  = "http://10.0.0.2:8080/assets/vmlinuz"
    initrd  = ["http://10.0.0.2:8080/assets/initrd.gz"]
    cmdline = "console=ttyS0 ip=dhcp"
  }
  machine "r1n1" {
    mac = "52:54:00:00:01:01"
    bmc = "ipmi://10.0.1.11"
  }
  machine "r1n2" {
    mac = "52:54:00:00:01:02"
    bmc = "ipmi://10.0.1.12"
  }
  machine "r1n3" {
    mac = "52:54:00:00:01:03"
    bmc = "ipmi://10.0.1.13"
  }
  machine "r1n4" {
    mac = "52:54:00:00:01:04"
    bmc = "ipmi://10.0.1.14"
  }
}

pool "metal" {
  substrate = substrate.baremetal.rack1
  size      = 4
  machines  = ["r1n1", "r1n2", "r1n3", "r1n4"]
}

layer "openstack" "cloud" {
  role "controller" {
    on    = pool.metal
    count = 1
  }
  role "compute" {
    on = pool.metal
  }
}

pool "mesos" {
  substrate = layer.openstack.cloud
  size      = 6
  flavor    = "m1.large"
  image     = "ubuntu-24.04"
  network   = "private"
}

layer "mesos" "core" {
  role "master" {
    on    = pool.mesos
    count = 3
  }
  role "agent" {
    on = pool.mesos
  }
}

layer "kubernetes" "apps" {
  role "control-plane" {
    on    = layer.mesos.core
    count = 3
  }
  role "worker" {
    on    = layer.mesos.core
    count = 5
  }
}

# Mesos, Kubernetes and OpenStack side by side on one bare-metal pool.
stack {
  name = "trio"
}

substrate "baremetal" "lab" {
  boot_server = "http://10.0.0.2:8080"
  image {
    kernel  = "http://10.0.0.2:8080/assets/vmlinuz"
    initrd  = ["http://10.0.0.2:8080/assets/initrd.gz"]
    cmdline = "console=ttyS0"
  }
  machine "n1" {
    mac = "52:54:00:00:02:01"
    bmc = "ipmi://127.0.0.1:9001"
    labels = { rack = "a" }
  }
  machine "n2" {
    mac = "52:54:00:00:02:02"
    bmc = "ipmi://127.0.0.1:9002"
    labels = { rack = "a" }
  }
  machine "n3" {
    mac = "52:54:00:00:02:03"
    bmc = "ipmi://127.0.0.1:9003"
    labels = { rack = "a" }
  }
  machine "n4" {
    mac = "52:54:00:00:02:04"
    bmc = "ipmi://127.0.0.1:9004"
    labels = { rack = "a" }
  }
  machine "n5" {
    mac = "52:54:00:00:02:05"
    bmc = "ipmi://127.0.0.1:9005"
    labels = { rack = "a" }
  }
  machine "n6" {
    mac = "52:54:00:00:02:06"
    bmc = "ipmi://127.0.0.1:9006"
    labels = { rack = "a" }
  }
  machine "n7" {
    mac = "52:54:00:00:02:07"
    bmc = "ipmi://127.0.0.1:9007"
    labels = { rack = "a" }
  }
  machine "n8" {
    mac = "52:54:00:00:02:08"
    bmc = "ipmi://127.0.0.1:9008"
    labels = { rack = "a" }
  }
  machine "n9" {
    mac = "52:54:00:00:02:09"
    bmc = "ipmi://127.0.0.1:9009"
    labels = { rack = "a" }
  }
}

pool "rack" {
  substrate = substrate.baremetal.lab
  size      = 9
  selector  = { rack = "a" }
}

layer "mesos" "m" {
  role "master" {
    on    = pool.rack
    count = 1
  }
  role "agent" {
    on    = pool.rack
    count = 2
  }
}

layer "kubernetes" "k" {
  role "control-plane" {
    on    = pool.rack
    count = 1
  }
  role "worker" {
    on    = pool.rack
    count = 2
  }
}

layer "openstack" "o" {
  role "controller" {
    on    = pool.rack
    count = 1
  }
  role "compute" {
    on = pool.rack
  }
}

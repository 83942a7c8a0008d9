substrate "vsphere" "dc" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
  datastore  = "LocalDS_0"
  network    = "VM Network"
  template   = "ubuntu-24.04"
}

substrate "baremetal" "rack1" {
  boot_server = "http://10.0.0.2:8080"
  image {
    kernel  = "http://10.0.0.2:8080/assets/vmlinuz"
    initrd  = ["http://10.0.0.2:8080/assets/initrd.gz"]
    cmdline = "console=ttyS0"
  }
  machine "r1n1" {
    mac = "52:54:00:00:00:01"
    bmc = "ipmi://127.0.0.1:9001"
  }
  machine "r1n2" {
    mac = "52:54:00:00:00:02"
    bmc = "ipmi://127.0.0.1:9002"
  }
}

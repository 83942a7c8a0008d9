# A Mesos cluster on three bare-metal machines: one master (ZooKeeper,
# Mesos master, Marathon) and two agents. The defaults match the lab of
# `strata lab up` (three QEMU VMs, each with an IPMI BMC on 127.0.0.1, and
# a boot server whose API the host reaches at 169.254.77.2:8080); for a
# real rack, put your boot server, MACs and BMC addresses here.
#
# The lab's machines boot a tiny kernel + busybox initramfs, not a full
# OS: it fetches the machine's user-data (its role's cloud-init, rendered
# by strata) and phones home with that user-data's SHA-256, which the boot
# server checks. A real image (Ubuntu's netboot kernel and initrd, say)
# runs the cloud-init instead.
stack {
  name = "metal"
}

variable "boot_server" {
  type        = string
  default     = "http://169.254.77.2:8080"
  description = "The boot server's API, as this host reaches it"
}

variable "bmc_port" {
  type        = number
  default     = 9001
  description = "UDP port of the first machine's BMC on 127.0.0.1 (the next ones follow)"
}

variable "mac_prefix" {
  type        = string
  default     = "52:54:00:57:00"
  description = "The machines' MACs are this prefix and :00, :01, :02"
}

substrate "baremetal" "lab" {
  boot_server = var.boot_server
  image {
    # Relative names are the boot server's assets (-assets), fetched
    # through each machine's own token-bound URL.
    kernel  = "vmlinuz"
    initrd  = ["initrd.gz"]
    cmdline = "console=ttyS0 quiet"
  }
  # BMC passwords come from STRATA_BMC_PASSWORD (strata lab up writes it
  # to its lab.env), never from this file.
  machine "vm0" {
    mac      = "${var.mac_prefix}:00"
    bmc      = "ipmi://127.0.0.1:${var.bmc_port}"
    bmc_user = "admin"
  }
  machine "vm1" {
    mac      = "${var.mac_prefix}:01"
    bmc      = "ipmi://127.0.0.1:${var.bmc_port + 1}"
    bmc_user = "admin"
  }
  machine "vm2" {
    mac      = "${var.mac_prefix}:02"
    bmc      = "ipmi://127.0.0.1:${var.bmc_port + 2}"
    bmc_user = "admin"
  }
}

pool "nodes" {
  substrate = substrate.baremetal.lab
  size      = 3
  machines  = ["vm0", "vm1", "vm2"]
}

layer "mesos" "core" {
  role "master" {
    on    = pool.nodes
    count = 1
  }
  role "agent" {
    on = pool.nodes # the other two
  }
}

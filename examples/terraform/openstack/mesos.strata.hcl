# A Mesos cluster on OpenStack: three masters (ZooKeeper, Mesos master,
# Marathon) spread over the cloud's hosts by a soft-anti-affinity server
# group, and `agents` agents. Flavors are chosen from cpus/memory_mb (the
# smallest that fits); set `flavor` in a pool to name one instead.
#
# The settings match the local test cloud of acceptance/openstack/up.sh
# (clouds.yaml entry "strata", image debian-12, no networks); point them at
# your own cloud, image and network.
stack {
  name = "mesos-openstack"
}

variable "agents" {
  type        = number
  default     = 4
  description = "Mesos agents beside the three masters"
}

substrate "openstack" "lab" {
  cloud   = "strata"    # a clouds.yaml entry; without it, OS_CLOUD or the provider's openstack block say which cloud
  image   = "debian-12" # by name or id
  network = "none"      # a network name or id; "none" for no NIC, "auto" for the project's only network
}

pool "masters" {
  substrate = substrate.openstack.lab
  size      = 3
  cpus      = 2
  memory_mb = 4096
  disk_gb   = 20
  # server_group_policy = "anti-affinity" # hard: needs as many hosts as masters
}

pool "agents" {
  substrate = substrate.openstack.lab
  size      = var.agents
  cpus      = 4
  memory_mb = 8192
  disk_gb   = 40
}

layer "mesos" "core" {
  role "master" {
    on    = pool.masters
    count = 3
  }
  role "agent" {
    on = pool.agents
  }
}

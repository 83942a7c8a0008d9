pool "infra" {
  substrate = substrate.vsphere.dc
  size      = 6
  cpus      = 4
  memory_mb = 8192
  labels    = { tier = "infra" }
}

pool "metal" {
  substrate = substrate.baremetal.rack1
  size      = 2
  machines  = ["r1n1", "r1n2"]
}

pool "tenant" {
  substrate = layer.openstack.cloud
  size      = 10
  flavor    = "m1.large"
}

layer "mesos" "core" {
  version = "1.11.0"
  role "master" {
    on    = pool.infra
    count = 3
  }
  role "agent" {
    on = pool.infra
  }
}

layer "kubernetes" "apps" {
  role "control-plane" {
    on    = layer.mesos.core
    count = 3
  }
  role "worker" {
    on    = layer.mesos.core
    count = var.agents
  }
}

layer "openstack" "cloud" {
  role "controller" {
    on    = layer.kubernetes.apps
    count = 3
  }
  role "compute" {
    on = pool.metal
  }
}

# A stack from a file: three Mesos masters and var.agents agents on vSphere.
resource "strata_stack" "edge" {
  path = "${path.module}/edge.strata.hcl"
  vars = {
    agents = 5
  }
}

# A stack written inline.
resource "strata_stack" "lab" {
  source = <<-EOT
    stack {
      name = "lab"
    }

    substrate "vsphere" "dc" {
      datacenter = "DC0"
      cluster    = "DC0_C0"
      template   = "ubuntu-24.04"
    }

    pool "k8s" {
      substrate = substrate.vsphere.dc
      size      = 4
    }

    layer "kubernetes" "apps" {
      role "control-plane" {
        on    = pool.k8s
        count = 1
      }
      role "worker" {
        on = pool.k8s
      }
    }
  EOT
}

output "mesos_masters" {
  value = [for m in strata_stack.edge.machines : m.addresses[0] if m.role == "master"]
}

# The boot server comes from the provider block (or STRATA_BOOT_SERVER and
# STRATA_BOOT_TOKEN).
provider "strata" {
  baremetal {
    boot_server = "http://10.0.0.2:8080"
  }
}

# Write-only: Terraform hands it to create and update and never stores it.
# Destroy powers the machine off with the password from the environment
# (STRATA_BMC_PASSWORD here, or the variable bmc_password_env names).
variable "bmc_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

# A machine with its own profile, PXE-booted through its BMC; apply waits
# until the installed OS phones home.
resource "strata_machine" "r1n1" {
  name = "r1n1"
  mac  = "52:54:00:12:34:01"
  ip   = "10.0.0.21"
  labels = {
    rack = "r1"
  }

  bmc                     = "ipmi://10.0.1.21"
  bmc_user                = "admin"
  bmc_password_wo         = var.bmc_password
  bmc_password_wo_version = 1

  profile = {
    kernel  = "debian/vmlinuz"
    initrd  = ["debian/initrd.gz"]
    cmdline = "console=ttyS0 auto=true priority=critical"
    user_data = templatefile("${path.module}/user-data.yaml", {
      hostname = "r1n1"
    })
  }

  power_on       = true
  wait_for_ready = true
  timeouts {
    create = "30m"
  }
}

# Machines booting one shared profile. Their BMC password comes from the
# environment variable RACK2_BMC_PASSWORD, at create and at destroy.
resource "strata_machine" "rack2" {
  for_each = {
    r2n1 = "52:54:00:12:35:01"
    r2n2 = "52:54:00:12:35:02"
  }
  name             = each.key
  mac              = each.value
  bmc              = "ipmi://${each.key}-bmc.lab.example"
  bmc_user         = "operator"
  bmc_password_env = "RACK2_BMC_PASSWORD"
  profile_name     = "rescue"
  power_on         = true
}

# Registered only: it boots its profile the next time it PXE-boots, and
# destroy deregisters it without powering it off, so no password is needed.
resource "strata_machine" "spare" {
  name                 = "spare1"
  mac                  = "52:54:00:12:36:01"
  bmc                  = "redfish://spare1-bmc.lab.example"
  bmc_user             = "operator"
  power_off_on_destroy = false
  profile_name         = "rescue"
}

output "r1n1_address" {
  value = strata_machine.r1n1.address
}

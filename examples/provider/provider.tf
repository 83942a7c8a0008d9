terraform {
  required_providers {
    strata = {
      source  = "stratastack/strata"
      version = "~> 0.13"
    }
  }
}

# Every block is optional: each falls back to its ecosystem's environment
# variables (VSPHERE_SERVER, VSPHERE_USER, VSPHERE_PASSWORD,
# VSPHERE_ALLOW_UNVERIFIED_SSL for vSphere).
provider "strata" {
  parallelism = 20 # concurrent calls per substrate

  vsphere {
    server = "vcenter.example.com"
    user   = "strata@vsphere.local"
    # password: set VSPHERE_PASSWORD rather than writing it here.
  }
}

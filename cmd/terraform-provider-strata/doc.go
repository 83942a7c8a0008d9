// Command terraform-provider-strata is the Strata Terraform provider
// (registry.terraform.io/stratastack/strata, plugin protocol 6).
//
// Terraform starts it. Run it yourself with -debug to attach a debugger:
// it prints a TF_REATTACH_PROVIDERS value for Terraform to use it.
package main

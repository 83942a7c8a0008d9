// Package provider is the Terraform provider for Strata, built on
// terraform-plugin-framework (protocol 6, registry.terraform.io/stratastack/strata).
//
// It offers the strata_stack resource, which brings a stack up with the
// engine every front end shares and records each machine in Terraform state,
// and the strata_bootstrap data source, which renders one role's bootstrap so
// that machines made by other providers can join a layer.
//
// Provider settings are resolved once, in Configure: each substrate block
// falls back to its ecosystem's usual environment variables there, and
// nothing deeper in the provider reads the environment.
package provider

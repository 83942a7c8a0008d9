// Package client talks to a boot server's /api/v1 (strata boot serve) in
// the wire types of package api: profiles and machines, with 4xx answers
// as *Error and connection failures and 5xx answers as transient errors.
// The baremetal provisioner and the provider's strata_machine both use it.
package client

// Package cloudinit builds #cloud-config user-data documents: the subset of
// cloud-init's modules that layer renderers use, encoded as YAML that
// `cloud-init schema` accepts.
package cloudinit

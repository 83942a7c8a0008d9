// Package layertest checks rendered layer output against the real
// validators (cloud-init's schema, strict decoding into k8s.io/api types,
// Marathon's rules) and golden files. It is imported by tests only.
package layertest

//go:build !linux

package tftp

// gsoControl returns nil: UDP segmentation offload is Linux only, and
// without it windows are sent one datagram at a time.
func gsoControl(int) []byte { return nil }

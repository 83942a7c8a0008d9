//go:build !linux

package netns

import "errors"

// setns fails: network namespaces (and so the lab) are Linux's.
func setns(int) error { return errors.New("netns: network namespaces need Linux") }

//go:build unix && !linux

package kubetest

import "syscall"

// sysProcAttr puts a child in a process group of its own (stop signals the
// group). Without Linux's Pdeathsig, a test binary that dies without its
// cleanups leaves the processes behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

package kubetest

import "syscall"

// sysProcAttr puts a child in a process group of its own (stop signals the
// group) and has the kernel kill it when the test binary dies without
// running its cleanups (a panic, a -timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

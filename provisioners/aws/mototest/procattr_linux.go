package mototest

import (
	"os/exec"
	"syscall"
)

// orphanProof has the kernel kill moto_server if the test binary dies
// before Main stops it (a test timeout's panic, a kill).
func orphanProof(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package main

import (
	"os/exec"
	"syscall"
)

var terminateSignal = syscall.SIGTERM

// setParentDeathSignal makes the kernel kill the child if the harness
// dies, so no server outlives a crashed or killed run.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

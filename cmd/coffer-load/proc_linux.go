package main

import (
	"os/exec"
	"syscall"
	"time"
)

var terminateSignal = syscall.SIGTERM

// setParentDeathSignal makes the kernel kill the child if the harness
// dies, so no server outlives a crashed or killed run.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// selfCPU is the harness's own CPU time so far (user and system): over a
// throughput phase, the client's share of the machine.
func selfCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

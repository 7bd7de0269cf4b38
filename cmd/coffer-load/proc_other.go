//go:build !linux

package main

import (
	"os"
	"os/exec"
	"time"
)

var terminateSignal = os.Interrupt

// setParentDeathSignal: only Linux has it; children also stop when their
// stdin closes.
func setParentDeathSignal(*exec.Cmd) {}

// selfCPU: measured on Linux only.
func selfCPU() (time.Duration, bool) { return 0, false }

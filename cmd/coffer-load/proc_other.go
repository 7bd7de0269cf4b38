//go:build !linux

package main

import (
	"os"
	"os/exec"
)

var terminateSignal = os.Interrupt

// setParentDeathSignal: only Linux has it; children also stop when their
// stdin closes.
func setParentDeathSignal(*exec.Cmd) {}

//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockLogins takes an exclusive lock next to the login file, held until
// the returned function runs (or the process ends: the kernel drops it).
func lockLogins() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(loginFile()), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(loginFile()+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

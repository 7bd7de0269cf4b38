package app

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

func writeInfo(t *testing.T, dir string, info ServerInfo) {
	t.Helper()
	if err := writeFileAtomic(filepath.Join(dir, ServerInfoFile), mustJSON(info), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeMark(t *testing.T, dir string, pid int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, StartMarkFile), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestWaitServer: WaitServer tells a starting server (wait, announce once)
// from a stopped or absent one (fail after the short grace, with the kind
// of absence), and bounds the wait for one that never listens.
func TestWaitServer(t *testing.T) {
	opts := func(waits *int) WaitOptions {
		return WaitOptions{Timeout: 1500 * time.Millisecond, Grace: 300 * time.Millisecond, OnWait: func() { *waits++ }}
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T, dir string) (later func())
		wantErr   func(error) bool
		wantWaits int
		maxTime   time.Duration
	}{
		{
			name:    "no server has ever run",
			setup:   func(*testing.T, string) func() { return nil },
			wantErr: func(err error) bool { var e *NoServerError; return errors.As(err, &e) && e.StalePID == 0 },
			maxTime: time.Second,
		},
		{
			name: "server.json left by a stopped server",
			setup: func(t *testing.T, dir string) func() {
				writeInfo(t, dir, ServerInfo{Addr: closedAddr(t), PID: deadPID(t)})
				writeMark(t, dir, deadPID(t)) // a crash leaves the mark behind
				return nil
			},
			wantErr: func(err error) bool { var e *NoServerError; return errors.As(err, &e) && e.StalePID != 0 },
			maxTime: time.Second,
		},
		{
			name: "starting: mark first, server.json once listening",
			setup: func(t *testing.T, dir string) func() {
				writeInfo(t, dir, ServerInfo{Addr: closedAddr(t), PID: deadPID(t)}) // the previous run's
				writeMark(t, dir, os.Getpid())
				return func() {
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Error(err)
						return
					}
					t.Cleanup(func() { ln.Close() })
					writeInfo(t, dir, ServerInfo{Addr: ln.Addr().String(), PID: os.Getpid()})
				}
			},
			wantWaits: 1,
			maxTime:   time.Second,
		},
		{
			name: "started but never listens",
			setup: func(t *testing.T, dir string) func() {
				writeMark(t, dir, os.Getpid())
				return nil
			},
			wantErr:   func(err error) bool { var e *StartTimeoutError; return errors.As(err, &e) && e.PID == os.Getpid() },
			wantWaits: 1,
			maxTime:   3 * time.Second,
		},
		{
			name: "server.json without a pid (an older server), listening",
			setup: func(t *testing.T, dir string) func() {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				writeInfo(t, dir, ServerInfo{Addr: ln.Addr().String()})
				return nil
			},
			maxTime: 500 * time.Millisecond,
		},
		{
			name: "running",
			setup: func(t *testing.T, dir string) func() {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				writeInfo(t, dir, ServerInfo{Addr: ln.Addr().String(), PID: os.Getpid()})
				return nil
			},
			maxTime: 500 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			later := tt.setup(t, dir)
			if later != nil {
				time.AfterFunc(400*time.Millisecond, later)
			}
			waits := 0
			start := time.Now()
			info, err := WaitServer(context.Background(), dir, opts(&waits))
			took := time.Since(start)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("WaitServer = %v", err)
			case tt.wantErr == nil && info == nil:
				t.Fatal("WaitServer returned no info")
			case tt.wantErr != nil && !tt.wantErr(err):
				t.Fatalf("WaitServer = %v, %v; wrong error", info, err)
			}
			if waits != tt.wantWaits {
				t.Errorf("OnWait called %d times, want %d", waits, tt.wantWaits)
			}
			if took > tt.maxTime {
				t.Errorf("WaitServer took %s, want at most %s", took, tt.maxTime)
			}
		})
	}
}

// TestStartWritesServerInfoOnceListening: a real server's serve.pid and
// server.json, and what a clean stop leaves.
func TestStartWritesServerInfoOnceListening(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(context.Background(), Config{DataDir: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := WaitServer(context.Background(), dir, WaitOptions{Timeout: time.Second, Grace: time.Second})
	if err != nil || info.PID != os.Getpid() || info.Addr != s.Addr {
		t.Fatalf("WaitServer on a running server = %+v, %v", info, err)
	}
	if pid, ok := readPID(filepath.Join(dir, StartMarkFile)); !ok || pid != os.Getpid() {
		t.Errorf("serve.pid = %d, %v", pid, ok)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, StartMarkFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve.pid after Close: %v", err)
	}
}

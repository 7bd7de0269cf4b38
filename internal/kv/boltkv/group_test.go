package boltkv_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/boltkv"
)

// TestGroupCommit: concurrent writers share commits (fewer transactions
// than writes), and a writer whose condition fails does not take the rest
// of its group down.
func TestGroupCommit(t *testing.T) {
	s, err := boltkv.Open(filepath.Join(t.TempDir(), "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.Put(ctx, "taken", []byte("x")); err != nil {
		t.Fatal(err)
	}
	before := boltkv.Commits(s)
	const writers, each = 32, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("k/%02d/%02d", w, i)
				if err := s.Txn(ctx, kv.Put(key, []byte("v")), kv.Put(key+"/twin", []byte("v"))); err != nil {
					t.Errorf("Txn(%s) = %v", key, err)
				}
				// Every writer also loses a Create now and then; the loss
				// must be its own.
				if err := s.Create(ctx, "taken", []byte("y")); !errors.Is(err, kv.ErrExists) {
					t.Errorf("Create(taken) = %v, want ErrExists", err)
				}
			}
		})
	}
	wg.Wait()
	pairs, err := s.List(ctx, "k/")
	if err != nil || len(pairs) != 2*writers*each {
		t.Fatalf("List = %d pairs, %v, want %d", len(pairs), err, 2*writers*each)
	}
	commits := boltkv.Commits(s) - before
	t.Logf("%d writes in %d commits", 2*writers*each, commits)
	if commits >= 2*writers*each {
		t.Errorf("%d writes took %d commits: writes are not grouped", 2*writers*each, commits)
	}
}

// TestUpdatePanicStaysWithCaller: a panicking Update fn panics in its
// caller, as it would without group commit, and the writes grouped with it
// still commit.
func TestUpdatePanicStaysWithCaller(t *testing.T) {
	s, err := boltkv.Open(filepath.Join(t.TempDir(), "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if i%4 == 0 {
				defer func() {
					if recover() == nil {
						t.Errorf("Update with a panicking fn returned normally")
					}
				}()
				_ = s.Update(ctx, "p", func([]byte) ([]byte, error) { panic("fn panics") })
				return
			}
			if err := s.Put(ctx, fmt.Sprintf("ok/%d", i), []byte("v")); err != nil {
				t.Errorf("Put = %v", err)
			}
		})
	}
	wg.Wait()
	if pairs, err := s.List(ctx, "ok/"); err != nil || len(pairs) != 12 {
		t.Errorf("List(ok/) = %d pairs, %v, want 12", len(pairs), err)
	}
	if _, err := s.Get(ctx, "p"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get(p) = %v, want ErrNotFound", err)
	}
}

// TestWritesAfterClose: a closed store refuses writes instead of blocking.
func TestWritesAfterClose(t *testing.T) {
	s, err := boltkv.Open(filepath.Join(t.TempDir(), "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Txn(t.Context(), kv.Put("a", []byte("v"))); err == nil {
		t.Errorf("Txn after Close = nil, want an error")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// TestKill9KeepsAcknowledgedWrites runs concurrent writers in a child
// process, kills it with SIGKILL mid-stream, and checks that every write
// the child saw acknowledged is in the file: acknowledged means fsynced,
// also when writes share a group commit.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	if path := os.Getenv("BOLTKV_KILL_CHILD"); path != "" {
		killChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "coffer.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9KeepsAcknowledgedWrites$")
	cmd.Env = append(os.Environ(), "BOLTKV_KILL_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Scan() && len(acked) < 400 && time.Now().Before(deadline) {
		if k, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, k)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if len(acked) < 50 {
		t.Fatalf("the child acknowledged only %d writes before the kill", len(acked))
	}
	s, err := boltkv.Open(path)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	for _, k := range acked {
		if v, err := s.Get(context.Background(), k); err != nil || string(v) != "value-of-"+k {
			t.Errorf("acknowledged %s lost after SIGKILL: %q, %v", k, v, err)
		}
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}

// killChild writes from 16 goroutines forever, printing each acknowledged
// key; the parent kills it.
func killChild(path string) {
	s, err := boltkv.Open(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("w%02d/%06d", w, i)
				if err := s.Txn(context.Background(), kv.Put(k, []byte("value-of-"+k))); err != nil {
					return
				}
				mu.Lock()
				fmt.Println("acked", k)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

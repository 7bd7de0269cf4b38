package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
)

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestBackgroundJobsOneReplica: of two replicas on one etcd, exactly one
// runs the background jobs; when it stops, the other takes over. A
// server alone on its store (memory, bbolt) always runs them.
func TestBackgroundJobsOneReplica(t *testing.T) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "bg-" + hex.EncodeToString(b) + "/"
	key := filepath.Join(t.TempDir(), "master.key")
	start := func(name string) *Server {
		s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), name),
			EtcdEndpoints: []string{etcdtest.Endpoint(t)}, EtcdPrefix: prefix, MasterKeyFile: key})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	closed := map[*Server]bool{}
	stop := func(s *Server) {
		if !closed[s] {
			closed[s] = true
			s.Close()
		}
	}
	a := start("a")
	defer stop(a)
	bs := start("b")
	defer stop(bs)
	if !waitFor(10*time.Second, func() bool { return a.RunsBackgroundJobs() || bs.RunsBackgroundJobs() }) {
		t.Fatal("no replica runs the background jobs")
	}
	// Both campaign continuously; over a second, never both lead.
	leader, other := a, bs
	if bs.RunsBackgroundJobs() {
		leader, other = bs, a
	}
	for range 20 {
		if a.RunsBackgroundJobs() && bs.RunsBackgroundJobs() {
			t.Fatal("both replicas run the background jobs")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop(leader)
	if !waitFor(5*time.Second, other.RunsBackgroundJobs) {
		t.Fatal("the remaining replica did not take over the background jobs")
	}

	mem, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if !waitFor(5*time.Second, mem.RunsBackgroundJobs) {
		t.Error("an in-memory server does not run the background jobs")
	}
}

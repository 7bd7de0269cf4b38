package boltkv_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/boltkv"
	"github.com/coffer-dev/coffer/internal/kv/kvtest"
)

func newStore(t *testing.T) kv.Store {
	s, err := boltkv.Open(filepath.Join(t.TempDir(), "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { kvtest.Run(t, newStore) }

func TestConcurrent(t *testing.T) { kvtest.RunConcurrent(t, newStore) }

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	s, err := boltkv.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "a/1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "a/2", []byte{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = boltkv.Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.List(t.Context(), "a/")
	if err != nil {
		t.Fatal(err)
	}
	want := []kv.Pair{{Key: "a/1", Value: []byte("one")}, {Key: "a/2", Value: []byte{}}}
	if len(got) != len(want) {
		t.Fatalf("List after reopen = %q, want %q", got, want)
	}
	for i := range want {
		if got[i].Key != want[i].Key || !bytes.Equal(got[i].Value, want[i].Value) || got[i].Value == nil {
			t.Errorf("List after reopen [%d] = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestSecondOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	s, err := boltkv.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// bbolt's flock is per open file, so a second Open in the same process
	// contends exactly like a second process would.
	start := time.Now()
	s2, err := boltkv.Open(path)
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a held file succeeded, want a timeout")
	}
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Errorf("second Open error = %v, want bbolt ErrTimeout", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("second Open took %v, want about 1s", elapsed)
	}
}

func TestFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits on Windows (a platform limit, not a missing tool)")
	}
	path := filepath.Join(t.TempDir(), "coffer.db")
	s, err := boltkv.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %#o, want 0600", got)
	}
}

func TestRefusesUnknownSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("schema"), []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := boltkv.Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a schema-2 file succeeded, want an error")
	}
	// The failed Open must have released the lock.
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("file still locked after failed Open: %v", err)
	}
	db.Close()
}

func BenchmarkPut(b *testing.B) {
	s, err := boltkv.Open(filepath.Join(b.TempDir(), "coffer.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	value := bytes.Repeat([]byte("v"), 256)
	for b.Loop() {
		if err := s.Put(b.Context(), "bench/key", value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s, err := boltkv.Open(filepath.Join(b.TempDir(), "coffer.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(b.Context(), "bench/key", bytes.Repeat([]byte("v"), 256)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Get(b.Context(), "bench/key"); err != nil {
			b.Fatal(err)
		}
	}
}

package kvtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/kv"
)

// RunConcurrent runs the contention tests, each on a fresh store from
// newStore: many goroutines hitting one key at once, so that a backend whose
// Update, Create or Delete is not really atomic loses updates or lets two
// callers win. Run it under -race.
func RunConcurrent(t *testing.T, newStore func(t *testing.T) kv.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s kv.Store)
	}{
		{"UpdateCounter", testCounter},
		{"CreateOneWinner", testCreateRace},
		{"DeleteOneWinner", testDeleteRace},
		{"ReadersDuringWrites", testReadersDuringWrites},
		{"TxnTransfer", testTxnTransfer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.test(t, open(t, newStore))
		})
	}
}

// testCounter increments one key from many goroutines through Update. Every
// increment must land exactly once: a lost update means Update is not a
// compare-and-swap, an extra one means a retry stored twice.
func testCounter(t *testing.T, s kv.Store) {
	const workers, perWorker = 8, 50
	ctx := t.Context()
	incr := func(old []byte) ([]byte, error) {
		n := 0
		if old != nil {
			var err error
			if n, err = strconv.Atoi(string(old)); err != nil {
				return nil, err
			}
		}
		return strconv.AppendInt(nil, int64(n+1), 10), nil
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if err := s.Update(ctx, "counter", incr); err != nil {
					t.Errorf("Update(counter) = %v, want nil", err)
					return
				}
			}
		})
	}
	wg.Wait()
	wantValue(t, s, "counter", strconv.Itoa(workers*perWorker))
}

// testCreateRace creates one key from many goroutines at once: exactly one
// Create may succeed, every other one must get ErrExists, and the stored
// value must be the winner's.
func testCreateRace(t *testing.T, s kv.Store) {
	const racers = 16
	ctx := t.Context()
	var (
		wins   atomic.Int32
		winner atomic.Int32
		wg     sync.WaitGroup
	)
	for i := range racers {
		wg.Go(func() {
			err := s.Create(ctx, "gate", []byte(strconv.Itoa(i)))
			switch {
			case err == nil:
				wins.Add(1)
				winner.Store(int32(i))
			case !errors.Is(err, kv.ErrExists):
				t.Errorf("Create(gate) = %v, want nil or ErrExists", err)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of %d concurrent Creates succeeded, want exactly 1", n, racers)
	}
	wantValue(t, s, "gate", strconv.Itoa(int(winner.Load())))
}

// testDeleteRace deletes one key from many goroutines at once: exactly one
// Delete may succeed. This is the single-use gate (for example, redeeming an
// authorization code) that the contract promises.
func testDeleteRace(t *testing.T, s kv.Store) {
	const racers = 16
	ctx := t.Context()
	mustPut(t, s, "once", "v")
	var (
		wins atomic.Int32
		wg   sync.WaitGroup
	)
	for range racers {
		wg.Go(func() {
			err := s.Delete(ctx, "once")
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, kv.ErrNotFound):
				t.Errorf("Delete(once) = %v, want nil or ErrNotFound", err)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of %d concurrent Deletes succeeded, want exactly 1", n, racers)
	}
	wantNotFound(t, s, "once")
}

// testReadersDuringWrites runs Get and List while other goroutines Put. Each
// value names its own key, so a reader can tell a torn or misfiled value
// from a merely old one; and -race sees any unsynchronised sharing.
func testReadersDuringWrites(t *testing.T, s kv.Store) {
	const writers, perWriter, readers = 4, 25, 4
	ctx := t.Context()
	var (
		writing sync.WaitGroup
		reading sync.WaitGroup
		done    atomic.Bool
	)
	check := func(key string, v []byte) {
		if !strings.HasPrefix(string(v), key+"#") {
			t.Errorf("value of %q = %q, want %q#<n>", key, v, key)
		}
	}
	for w := range writers {
		writing.Go(func() {
			key := fmt.Sprintf("rw/%d", w)
			for i := range perWriter {
				if err := s.Put(ctx, key, fmt.Appendf(nil, "%s#%d", key, i)); err != nil {
					t.Errorf("Put(%q) = %v, want nil", key, err)
					return
				}
			}
		})
	}
	for r := range readers {
		reading.Go(func() {
			key := fmt.Sprintf("rw/%d", r%writers)
			for !done.Load() {
				pairs, err := s.List(ctx, "rw/")
				if err != nil {
					t.Errorf("List(rw/) = %v, want nil", err)
					return
				}
				for _, p := range pairs {
					check(p.Key, p.Value)
				}
				v, err := s.Get(ctx, key)
				if err != nil && !errors.Is(err, kv.ErrNotFound) {
					t.Errorf("Get(%q) = %v, want a value or ErrNotFound", key, err)
					return
				}
				if err == nil {
					check(key, v)
				}
			}
		})
	}
	writing.Wait()
	done.Store(true)
	reading.Wait()
	pairs, err := s.List(ctx, "rw/")
	if err != nil || len(pairs) != writers {
		t.Fatalf("List(rw/) = %d pairs, %v, want %d", len(pairs), err, writers)
	}
	for _, p := range pairs {
		if want := fmt.Sprintf("%s#%d", p.Key, perWriter-1); string(p.Value) != want {
			t.Errorf("final value of %q = %q, want %q", p.Key, p.Value, want)
		}
	}
}

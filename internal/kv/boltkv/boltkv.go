// Package boltkv is the kv.Store on a single bbolt file, the default backend
// for a single node.
//
// Invariants, and why:
//   - Writes are group-committed. bbolt allows one writer at a time and every
//     commit costs an fsync, so instead of one transaction per write, one
//     committer goroutine takes whatever writes are queued, applies them in
//     order in one read-write transaction and commits once; each writer
//     waits for that commit. There is no fixed delay: a lone writer is
//     committed at once (after one yield of the processor, see commitLoop),
//     and writers that arrive during a commit share the next one. (bbolt's
//     DB.Batch is not used because it waits a fixed MaxBatchDelay and
//     re-runs functions after any failure.)
//   - Each queued write checks all of its conditions before it changes
//     anything, so a write that fails its conditions leaves the shared
//     transaction as if it had not run, and the others still commit. Should
//     bbolt itself fail midway through one write, the whole transaction is
//     rolled back and every write in it is retried in a transaction of its
//     own, so one bad write never takes its neighbours down.
//   - NoSync stays false and a writer is answered only after the commit
//     returned, so a write that returned nil has been fsynced, as the kv
//     contract requires.
//   - Update therefore reads and writes inside the writer's transaction and
//     is a compare-and-swap without retries: it never returns
//     kv.ErrConflict. fn is called once, or, in the rare retry above, once
//     more in the transaction of its own.
//   - bbolt slices are valid only inside their transaction, so every key and
//     value leaving a transaction is copied first.
//   - The file is opened with a one-second lock timeout. bbolt holds an
//     exclusive lock on the file, so a second Open (from this or another
//     process) fails with bbolt's ErrTimeout instead of hanging. One file
//     therefore serves one process; scale-out needs etcd.
//   - The bucket layout is declared in schema.go, with a schema version key
//     that Open checks.
//
// Update runs fn inside the committer's transaction, so fn must not call
// back into the Store: it would wait for itself.
package boltkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/coffer-dev/coffer/internal/kv"
)

// maxGroup bounds how many writes share one transaction, so that one commit
// (and the latency of the first writer in it) stays bounded under load.
const maxGroup = 256

var errClosed = errors.New("boltkv: store is closed")

// Store is a kv.Store on a bbolt file. Create it with Open.
type Store struct {
	db *bbolt.DB

	mu     sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan *write
	done   chan struct{} // closed when the committer has exited

	commits atomic.Int64 // bbolt write transactions committed
	writes  atomic.Int64 // writes those transactions carried
}

// Stats counts the group commits so far: Writes/Commits is the mean batch
// size, and each commit is one bbolt transaction with its syncs.
type Stats struct {
	Commits int64 // bbolt write transactions committed
	Writes  int64 // queued writes (Put, Create, Update, Delete, Txn) they carried
}

// Stats returns the commit counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Writes: s.writes.Load()}
}

// write is one queued write. apply runs inside the shared transaction; it
// returns cond for a failure that changed nothing (a failed condition, fn's
// error) and dirty for one that may have changed something.
type write struct {
	apply  func(tx *bbolt.Tx) (cond, dirty error)
	result error
	panicV any
	ready  chan struct{}
}

// Open opens or creates the bbolt file at path with mode 0600. It fails after
// about a second if another Store holds the file open.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: time.Second,
		// NoSync is deliberately left false: see the package doc.
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		_ = db.Close() // the schema error is the one worth reporting
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	s := &Store{db: db, queue: make(chan *write, maxGroup), done: make(chan struct{})}
	go s.commitLoop()
	return s, nil
}

// submit queues apply for the next group commit and waits until that commit
// has returned. It does not give up when ctx ends while queued: a write the
// caller was told failed must not land afterwards.
func (s *Store) submit(ctx context.Context, apply func(tx *bbolt.Tx) (cond, dirty error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &write{apply: apply, ready: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	s.queue <- w
	s.mu.RUnlock()
	<-w.ready
	if w.panicV != nil {
		panic(w.panicV) // fn's panic belongs to the caller, as it did before
	}
	return w.result
}

// commitLoop is the committer: it takes the first queued write, everything
// queued behind it (up to maxGroup), and commits them together.
//
// Before committing it yields the processor once and takes what arrived
// meanwhile. A commit costs the same two fsyncs and much the same CPU
// (meta page, freelist, branch pages, the syncs' kernel time) for 1 write
// as for 30, and writers that are runnable at that moment are usually a
// few microseconds from submitting: letting them run first turns a convoy
// of small commits into fewer larger ones (32 writers: 12 -> 17 writes per
// commit, a fifth less CPU per SET; BENCHMARKS.md). It is not a delay: with
// nothing else runnable, Gosched returns at once.
func (s *Store) commitLoop() {
	defer close(s.done)
	group := make([]*write, 0, maxGroup)
	for w := range s.queue {
		group = s.drain(append(group[:0], w))
		if len(group) < maxGroup {
			runtime.Gosched()
			group = s.drain(group)
		}
		s.commit(group)
		clear(group)
	}
}

// drain appends to group what is queued now, up to maxGroup, without
// waiting.
func (s *Store) drain(group []*write) []*write {
	for len(group) < maxGroup {
		select {
		case w, ok := <-s.queue:
			if !ok {
				return group
			}
			group = append(group, w)
		default:
			return group
		}
	}
	return group
}

// commit applies a group in one transaction. When bbolt fails inside a
// write, or a write panics, the group is rolled back and each write runs
// again alone.
func (s *Store) commit(group []*write) {
	var bad error
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, w := range group {
			w.result = nil
			cond, dirty := runApply(w, tx)
			if w.panicV != nil {
				bad = errors.New("boltkv: write panicked")
				return bad
			}
			if dirty != nil {
				bad = dirty
				return bad
			}
			w.result = cond
		}
		return nil
	})
	switch {
	case err == nil:
		s.commits.Add(1)
		s.writes.Add(int64(len(group)))
	case bad != nil && len(group) > 1:
		for _, w := range group {
			if w.panicV != nil {
				close(w.ready) // do not run a panicking fn twice
				continue
			}
			s.commit([]*write{w})
		}
		return
	default:
		// The commit failed as a whole (or a lone write failed in bbolt):
		// nothing was written, and every writer hears so.
		for _, w := range group {
			if w.panicV == nil {
				w.result = fmt.Errorf("boltkv: commit: %w", err)
			}
		}
	}
	for _, w := range group {
		close(w.ready)
	}
}

func runApply(w *write, tx *bbolt.Tx) (cond, dirty error) {
	defer func() {
		if v := recover(); v != nil {
			w.panicV = v
		}
	}()
	return w.apply(tx)
}

// Get returns a copy of the value at key, or kv.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		v, ok := lookup(tx, key)
		if !ok {
			return kv.ErrNotFound
		}
		out = clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: get %q: %w", key, err)
	}
	return out, nil
}

// List returns copies of every pair whose key starts with prefix, in
// ascending byte order, which is bbolt's own key order.
func (s *Store) List(ctx context.Context, prefix string) ([]kv.Pair, error) {
	return s.scan(ctx, prefix, "", -1)
}

// ListRange returns copies of at most limit pairs under prefix with keys
// after after. The cursor seeks straight to the start, so the cost is that
// of the page, whatever the number of keys under prefix.
func (s *Store) ListRange(ctx context.Context, prefix, after string, limit int) ([]kv.Pair, error) {
	if limit <= 0 {
		return nil, errors.New("boltkv: list range needs a positive limit")
	}
	return s.scan(ctx, prefix, after, limit)
}

// scan lists keys under prefix after after; limit < 0 means no limit.
func (s *Store) scan(ctx context.Context, prefix, after string, limit int) ([]kv.Pair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []kv.Pair
	err := s.db.View(func(tx *bbolt.Tx) error {
		p := []byte(prefix)
		start := p
		if after > prefix {
			start = []byte(after)
		}
		c := tx.Bucket([]byte(dataBucket)).Cursor()
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, p) && limit != 0; k, v = c.Next() {
			if after != "" && string(k) <= after {
				continue // Seek lands on after itself when it exists
			}
			// string(k) copies the key; clone copies the value.
			out = append(out, kv.Pair{Key: string(k), Value: clone(v)})
			limit--
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: list %q: %w", prefix, err)
	}
	return out, nil
}

// Create stores value at key if key is absent, else returns kv.ErrExists.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	if err := check(key, value); err != nil {
		return err
	}
	value = clone(value) // bbolt keeps it until the commit; the caller may not
	err := s.submit(ctx, func(tx *bbolt.Tx) (error, error) {
		if _, ok := lookup(tx, key); ok {
			return kv.ErrExists, nil
		}
		return nil, put(tx, key, value)
	})
	if err != nil {
		return fmt.Errorf("boltkv: create %q: %w", key, err)
	}
	return nil
}

// Put stores value at key.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := check(key, value); err != nil {
		return err
	}
	value = clone(value)
	err := s.submit(ctx, func(tx *bbolt.Tx) (error, error) {
		return nil, put(tx, key, value)
	})
	if err != nil {
		return fmt.Errorf("boltkv: put %q: %w", key, err)
	}
	return nil
}

// Update calls fn inside the committer's transaction with a copy of the
// value at key (nil if absent), and stores its result; a nil result deletes
// the key. An error from fn is returned unchanged and nothing is written.
func (s *Store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	if err := check(key, nil); err != nil {
		return err
	}
	var fnErr error
	err := s.submit(ctx, func(tx *bbolt.Tx) (error, error) {
		fnErr = nil
		var old []byte
		if v, ok := lookup(tx, key); ok {
			old = clone(v) // nil when absent, as the contract says
		}
		v, err := fn(old)
		if err != nil {
			fnErr = err
			return err, nil
		}
		if v == nil {
			return nil, tx.Bucket([]byte(dataBucket)).Delete([]byte(key))
		}
		if len(v) > bbolt.MaxValueSize {
			return errors.New("value too large"), nil
		}
		return nil, put(tx, key, clone(v))
	})
	if fnErr != nil {
		// The contract promises fn's error back unchanged, not wrapped.
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("boltkv: update %q: %w", key, err)
	}
	return nil
}

// Delete removes key, or returns kv.ErrNotFound if it was absent.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.submit(ctx, func(tx *bbolt.Tx) (error, error) {
		if _, ok := lookup(tx, key); !ok {
			return kv.ErrNotFound, nil
		}
		return nil, tx.Bucket([]byte(dataBucket)).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("boltkv: delete %q: %w", key, err)
	}
	return nil
}

// Txn checks every condition and only then writes, all inside one group
// commit, so a Txn is all or nothing and shares the fsync of its group.
func (s *Store) Txn(ctx context.Context, ops ...kv.Op) error {
	if err := kv.ValidateTxn(ops); err != nil {
		return err
	}
	own := make([]kv.Op, len(ops))
	for i, o := range ops {
		if err := check(o.Key, o.Value); err != nil {
			return err
		}
		own[i] = kv.Op{Kind: o.Kind, Key: o.Key, Value: o.Value}
		if o.Value != nil {
			own[i].Value = clone(o.Value)
		}
	}
	err := s.submit(ctx, func(tx *bbolt.Tx) (error, error) {
		b := tx.Bucket([]byte(dataBucket))
		for i, o := range own {
			if !conditional(o.Kind) {
				continue // a Put or Remove holds whatever is there: no lookup
			}
			cur, ok := lookupIn(b, o.Key)
			if err := o.Holds(cur, ok); err != nil {
				return &kv.TxnError{Index: i, Key: o.Key, Err: err}, nil
			}
		}
		for _, o := range own {
			var err error
			switch o.Kind {
			case kv.OpPut, kv.OpCreate:
				err = putIn(b, o.Key, o.Value)
			case kv.OpDelete, kv.OpRemove:
				err = b.Delete([]byte(o.Key))
			}
			if err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("boltkv: txn: %w", err)
	}
	return nil
}

// Close stops taking writes, lets the committer finish what is queued, and
// releases the file and its lock. Calling it again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltkv: close: %w", err)
	}
	return nil
}

// lookup returns the value at key, valid only inside tx, and whether the key
// exists. It asks the cursor whether the key is there instead of reading
// presence from Bucket.Get's nil, so that a stored empty value can never
// pass for a missing one, whatever bbolt does with zero-length slices.
func lookup(tx *bbolt.Tx, key string) ([]byte, bool) {
	return lookupIn(tx.Bucket([]byte(dataBucket)), key)
}

// lookupIn is lookup in the data bucket b, for a caller that looks up
// several keys in one transaction.
func lookupIn(b *bbolt.Bucket, key string) ([]byte, bool) {
	if key == "" {
		return nil, false
	}
	k, v := b.Cursor().Seek([]byte(key))
	if k == nil || string(k) != key {
		return nil, false
	}
	if v == nil {
		v = []byte{}
	}
	return v, true
}

// put stores value at key. bbolt keeps a reference to value until the
// transaction commits, so callers pass a private copy.
func put(tx *bbolt.Tx, key string, value []byte) error {
	return putIn(tx.Bucket([]byte(dataBucket)), key, value)
}

// putIn is put in the data bucket b.
func putIn(b *bbolt.Bucket, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return b.Put([]byte(key), value)
}

// conditional reports whether an op of kind k depends on the key's
// current value, so that Txn must look it up before writing.
func conditional(k kv.OpKind) bool {
	switch k {
	case kv.OpPut, kv.OpRemove:
		return false
	}
	return true
}

// check rejects what bbolt would refuse midway through a transaction (the
// empty key, oversized keys and values) before anything is queued.
func check(key string, value []byte) error {
	switch {
	case key == "":
		return errors.New("boltkv: empty key")
	case len(key) > bbolt.MaxKeySize:
		return errors.New("boltkv: key too large")
	case len(value) > bbolt.MaxValueSize:
		return errors.New("boltkv: value too large")
	}
	return nil
}

// clone copies v out of bbolt's memory map and turns nil into an empty value,
// so that a stored key never reads back as nil (which means "absent" to
// Update's fn).
func clone(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return slices.Clone(v)
}

// Interface guard.
var _ kv.Store = (*Store)(nil)

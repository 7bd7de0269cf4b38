// Package kvfault is a kv.Store decorator that injects failures, so tests
// can drive the error paths of everything above storage: an operation on
// a key with a given prefix returns an error, fails as the backend being
// unavailable, or hangs until its context ends (a timeout).
//
// Rules are added and removed while the store is in use; with no rule the
// wrapper is a plain pass-through. A failing write never reaches the inner
// store, so a test can also check that a failed request left nothing
// half-written. Like kv/memkv it is for tests and development: production
// code never builds one, but app.Config.WrapStore accepts it.
package kvfault

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
)

// Op is a set of kv.Store operations.
type Op uint8

// Operations. Reads and Writes are the usual groups.
const (
	Get Op = 1 << iota
	List
	Create
	Put
	Update
	Delete

	Reads  = Get | List
	Writes = Create | Put | Update | Delete
	All    = Reads | Writes
)

// ErrInjected is the plain failure a rule returns by default: an error
// the store layer cannot classify (a broken disk, a corrupt page).
var ErrInjected = errors.New("kvfault: injected failure")

// ErrUnavailable is the failure of a backend that is temporarily out of
// reach (an etcd cluster without quorum): errs.Unavailable, which APIs
// answer with 503.
var ErrUnavailable = errs.E(errs.Op("kvfault"), errs.Unavailable, errs.Msg("the storage backend is unavailable"))

// Rule says which calls fail and how.
type Rule struct {
	// Ops selects operations; zero means All.
	Ops Op
	// Prefix selects keys (for List: prefixes) that start with it; ""
	// matches every key.
	Prefix string
	// Err is returned by matching calls; nil means ErrInjected.
	Err error
	// Hang makes matching calls block until their context is done and
	// then return its error (context.DeadlineExceeded or Canceled), as a
	// backend that never answers would.
	Hang bool
}

func (r Rule) matches(op Op, key string) bool {
	ops := r.Ops
	if ops == 0 {
		ops = All
	}
	return ops&op != 0 && strings.HasPrefix(key, r.Prefix)
}

// Store is the fault-injecting wrapper.
type Store struct {
	inner kv.Store

	mu    sync.Mutex
	rules map[int]Rule
	next  int
	hits  atomic.Int64
}

// Wrap returns a pass-through wrapper of inner.
func Wrap(inner kv.Store) *Store {
	return &Store{inner: inner, rules: map[int]Rule{}}
}

// Inject adds a rule and returns the function that removes it.
func (s *Store) Inject(r Rule) (remove func()) {
	s.mu.Lock()
	id := s.next
	s.next++
	s.rules[id] = r
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.rules, id)
		s.mu.Unlock()
	}
}

// Clear removes every rule.
func (s *Store) Clear() {
	s.mu.Lock()
	clear(s.rules)
	s.mu.Unlock()
}

// Hits is how many calls have failed by a rule so far; tests use it to
// prove that the fault they meant to exercise was reached.
func (s *Store) Hits() int64 { return s.hits.Load() }

// fault returns the injected error for a call, or nil to pass it through.
func (s *Store) fault(ctx context.Context, op Op, key string) error {
	s.mu.Lock()
	var hit *Rule
	for _, r := range s.rules {
		if r.matches(op, key) {
			hit = &r
			break
		}
	}
	s.mu.Unlock()
	if hit == nil {
		return nil
	}
	s.hits.Add(1)
	if hit.Hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if hit.Err != nil {
		return hit.Err
	}
	return ErrInjected
}

// Get implements kv.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.fault(ctx, Get, key); err != nil {
		return nil, err
	}
	return s.inner.Get(ctx, key)
}

// List implements kv.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]kv.Pair, error) {
	if err := s.fault(ctx, List, prefix); err != nil {
		return nil, err
	}
	return s.inner.List(ctx, prefix)
}

// Create implements kv.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	if err := s.fault(ctx, Create, key); err != nil {
		return err
	}
	return s.inner.Create(ctx, key, value)
}

// Put implements kv.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := s.fault(ctx, Put, key); err != nil {
		return err
	}
	return s.inner.Put(ctx, key, value)
}

// Update implements kv.Store. The fault is checked before fn runs, so a
// failed Update has changed nothing.
func (s *Store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	if err := s.fault(ctx, Update, key); err != nil {
		return err
	}
	return s.inner.Update(ctx, key, fn)
}

// ListRange implements kv.Store; List rules apply to it.
func (s *Store) ListRange(ctx context.Context, prefix, after string, limit int) ([]kv.Pair, error) {
	if err := s.fault(ctx, List, prefix); err != nil {
		return nil, err
	}
	return s.inner.ListRange(ctx, prefix, after, limit)
}

// Txn implements kv.Store. Each operation is matched as the call it stands
// for (a Put as Put, a Create as Create, a Delete or Remove as Delete, a
// Check as Get); if any matches a rule the whole Txn fails before it
// reaches the inner store, so nothing of it is written.
func (s *Store) Txn(ctx context.Context, ops ...kv.Op) error {
	for _, o := range ops {
		op := Get
		switch o.Kind {
		case kv.OpPut:
			op = Put
		case kv.OpCreate:
			op = Create
		case kv.OpDelete, kv.OpRemove:
			op = Delete
		}
		if err := s.fault(ctx, op, o.Key); err != nil {
			return err
		}
	}
	return s.inner.Txn(ctx, ops...)
}

// Delete implements kv.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.fault(ctx, Delete, key); err != nil {
		return err
	}
	return s.inner.Delete(ctx, key)
}

// Close implements kv.Store; it is never failed.
func (s *Store) Close() error { return s.inner.Close() }

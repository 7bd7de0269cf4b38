// Package etcdkv is the etcd v3 backend of kv.Store, for running several
// Coffer servers against one replicated store (high availability). Every
// key lives under a namespace prefix (namespace.NewKV), so one etcd cluster
// can host several Coffer installations or other applications.
//
// Create is a transaction guarded by CreateRevision == 0; Update reads the
// key and writes it back in a transaction guarded by its ModRevision (or by
// its absence), retrying when another writer got there first. That is the
// compare-and-swap the contract promises, under real contention between
// processes, not only between goroutines.
//
// Every operation has a deadline and bounded retries, a prober keeps the
// client off members that stopped answering, and a cluster without
// quorum fails operations at once with errs.Unavailable (503): see
// resilience.go.
package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/namespace"

	"github.com/coffer-dev/coffer/internal/kv"
)

// MaxUpdateAttempts bounds Update's compare-and-swap retries.
const MaxUpdateAttempts = 64

// Store is a kv.Store over etcd.
type Store struct {
	cli    *clientv3.Client
	kv     clientv3.KV
	prefix string // the namespace, for watching it (watch.go)
	owned  bool
	closed atomic.Bool

	opTimeout time.Duration
	budget    time.Duration
	attempts  int
	health    *health // nil for New: no prober, no fast failure

	maxRequest int // etcd's --max-request-bytes; zero: the default (limits.go)
}

// New wraps an existing client; Close does not close it. Operations get
// the default deadlines and retries but no health prober.
func New(cli *clientv3.Client, prefix string) *Store {
	return &Store{cli: cli, kv: namespace.NewKV(cli.KV, prefix), prefix: prefix, opTimeout: DefaultOpTimeout, budget: DefaultBudget, attempts: DefaultAttempts}
}

var errClosed = errors.New("etcdkv: store is closed")

func (s *Store) check(ctx context.Context, key string) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		// Within a namespace the empty key would address the prefix itself.
		return errors.New("etcdkv: empty key")
	}
	return nil
}

// Get implements kv.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, err
	}
	var resp *clientv3.GetResponse
	err := s.do(ctx, func(ctx context.Context, _ int) (err error) {
		resp, err = s.kv.Get(ctx, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("etcdkv: get %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("etcdkv: get %q: %w", key, kv.ErrNotFound)
	}
	return clone(resp.Kvs[0].Value), nil
}

// List implements kv.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]kv.Pair, error) {
	if err := s.check(ctx, "x"); err != nil {
		return nil, err
	}
	opts := []clientv3.OpOption{clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
	key := prefix
	if prefix == "" {
		// Everything in the namespace: from the first key on.
		key = "\x00"
		opts = append(opts, clientv3.WithFromKey())
	} else {
		opts = append(opts, clientv3.WithPrefix())
	}
	var resp *clientv3.GetResponse
	err := s.do(ctx, func(ctx context.Context, _ int) (err error) {
		resp, err = s.kv.Get(ctx, key, opts...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("etcdkv: list %q: %w", prefix, err)
	}
	out := make([]kv.Pair, 0, len(resp.Kvs))
	for _, p := range resp.Kvs {
		out = append(out, kv.Pair{Key: string(p.Key), Value: clone(p.Value)})
	}
	return out, nil
}

// ListRange implements kv.Store with one limited range read, so its cost
// is that of the page.
func (s *Store) ListRange(ctx context.Context, prefix, after string, limit int) ([]kv.Pair, error) {
	if err := s.check(ctx, "x"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, errors.New("etcdkv: list range needs a positive limit")
	}
	start := prefix
	if after >= prefix {
		start = after + "\x00" // the first key after after
	}
	end := clientv3.GetPrefixRangeEnd(prefix)
	if prefix == "" {
		end = "\x00" // with a namespace: to the end of the namespace
		if start == "" {
			start = "\x00"
		}
	}
	var resp *clientv3.GetResponse
	err := s.do(ctx, func(ctx context.Context, _ int) (err error) {
		resp, err = s.kv.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(int64(limit)),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("etcdkv: list %q: %w", prefix, err)
	}
	out := make([]kv.Pair, 0, len(resp.Kvs))
	for _, p := range resp.Kvs {
		out = append(out, kv.Pair{Key: string(p.Key), Value: clone(p.Value)})
	}
	return out, nil
}

// Txn implements kv.Store with one etcd transaction: the conditions become
// its comparisons and the writes its success branch. When a comparison
// fails, the failure branch reads the compared keys back so the error can
// name the operation that failed.
func (s *Store) Txn(ctx context.Context, ops ...kv.Op) error {
	if err := s.check(ctx, "x"); err != nil {
		return err
	}
	if err := kv.ValidateTxn(ops); err != nil {
		return err
	}
	if err := s.fits("txn", s.txnBytes(ops)); err != nil {
		return err
	}
	var cmps []clientv3.Cmp
	var then, els []clientv3.Op
	var checked []int // indexes of ops with a condition, in els order
	for i, o := range ops {
		switch o.Kind {
		case kv.OpCreate:
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(o.Key), "=", 0))
		case kv.OpDelete:
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(o.Key), ">", 0))
		case kv.OpCheck:
			if o.Value == nil {
				cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(o.Key), "=", 0))
			} else {
				// etcd fails a value comparison on an absent key, which
				// is what Check wants.
				cmps = append(cmps, clientv3.Compare(clientv3.Value(o.Key), "=", string(o.Value)))
			}
		}
		if o.Kind == kv.OpCreate || o.Kind == kv.OpDelete || o.Kind == kv.OpCheck {
			checked = append(checked, i)
			els = append(els, clientv3.OpGet(o.Key))
		}
		switch o.Kind {
		case kv.OpPut, kv.OpCreate:
			then = append(then, clientv3.OpPut(o.Key, string(o.Value)))
		case kv.OpDelete, kv.OpRemove:
			then = append(then, clientv3.OpDelete(o.Key))
		}
	}
	var resp *clientv3.TxnResponse
	retried := false
	err := s.do(ctx, func(ctx context.Context, attempt int) (err error) {
		retried = attempt > 0
		resp, err = s.kv.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
		return err
	})
	if err != nil {
		return fmt.Errorf("etcdkv: txn: %w", err)
	}
	if resp.Succeeded {
		return nil
	}
	if retried && len(cmps) > 0 && s.applied(ctx, ops) {
		// An attempt that timed out was applied after all, and this
		// one failed only because of it.
		return nil
	}
	for j, i := range checked {
		kvs := resp.Responses[j].GetResponseRange().GetKvs()
		var cur []byte
		if len(kvs) > 0 {
			cur = kvs[0].Value
		}
		if err := ops[i].Holds(cur, len(kvs) > 0); err != nil {
			return fmt.Errorf("etcdkv: %w", &kv.TxnError{Index: i, Key: ops[i].Key, Err: err})
		}
	}
	// The state moved again between the failed comparison and the read.
	return fmt.Errorf("etcdkv: txn: %w", kv.ErrConflict)
}

// applied reports whether every write of ops is visible as written, with
// at least one value written (a Txn that only deletes cannot be told
// from another writer's deletes). Coffer's values are encrypted under a
// fresh data key each, so finding the exact bytes means this Txn wrote
// them.
func (s *Store) applied(ctx context.Context, ops []kv.Op) bool {
	wrote := false
	for _, o := range ops {
		switch o.Kind {
		case kv.OpPut, kv.OpCreate:
			var resp *clientv3.GetResponse
			err := s.do(ctx, func(ctx context.Context, _ int) (err error) {
				resp, err = s.kv.Get(ctx, o.Key)
				return err
			})
			if err != nil || len(resp.Kvs) == 0 || string(resp.Kvs[0].Value) != string(o.Value) {
				return false
			}
			wrote = true
		}
	}
	return wrote
}

// Create implements kv.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	// A one-operation Txn, for its retry that recognizes its own write.
	if err := s.Txn(ctx, kv.Create(key, value)); err != nil {
		return fmt.Errorf("etcdkv: create %q: %w", key, err)
	}
	return nil
}

// Put implements kv.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if err := s.fits("put", s.txnBytes([]kv.Op{kv.Put(key, value)})); err != nil {
		return err
	}
	err := s.do(ctx, func(ctx context.Context, _ int) error {
		_, err := s.kv.Put(ctx, key, string(value))
		return err
	})
	if err != nil {
		return fmt.Errorf("etcdkv: put %q: %w", key, err)
	}
	return nil
}

// Update implements kv.Store with a ModRevision-guarded transaction,
// retried while other writers win the race.
func (s *Store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	for range MaxUpdateAttempts {
		var resp *clientv3.GetResponse
		err := s.do(ctx, func(ctx context.Context, _ int) (err error) {
			resp, err = s.kv.Get(ctx, key)
			return err
		})
		if err != nil {
			return fmt.Errorf("etcdkv: update %q: %w", key, err)
		}
		var old []byte
		guard := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if len(resp.Kvs) > 0 {
			old = clone(resp.Kvs[0].Value)
			guard = clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)
		}
		next, err := fn(old)
		if err != nil {
			return err
		}
		var op clientv3.Op
		switch {
		case next == nil && old == nil:
			return nil
		case next == nil:
			op = clientv3.OpDelete(key)
		default:
			if err := s.fits("update", s.txnBytes([]kv.Op{kv.Put(key, next)})); err != nil {
				return err
			}
			op = clientv3.OpPut(key, string(next))
		}
		var tr *clientv3.TxnResponse
		retried := false
		err = s.do(ctx, func(ctx context.Context, attempt int) (err error) {
			retried = attempt > 0
			tr, err = s.kv.Txn(ctx).If(guard).Then(op).Commit()
			return err
		})
		if err != nil {
			return fmt.Errorf("etcdkv: update %q: %w", key, err)
		}
		if tr.Succeeded {
			return nil
		}
		if retried && next != nil && s.applied(ctx, []kv.Op{kv.Put(key, next)}) {
			return nil // a timed-out attempt was applied; see Txn
		}
	}
	return fmt.Errorf("etcdkv: update %q: %w", key, kv.ErrConflict)
}

// Delete implements kv.Store. A retried Delete that finds the key gone
// reports ErrNotFound even when its own timed-out attempt removed it:
// Delete is a single-use gate, and a gate must not open twice.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	var resp *clientv3.DeleteResponse
	err := s.do(ctx, func(ctx context.Context, _ int) (err error) {
		resp, err = s.kv.Delete(ctx, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("etcdkv: delete %q: %w", key, err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("etcdkv: delete %q: %w", key, kv.ErrNotFound)
	}
	return nil
}

// Close implements kv.Store; it stops the prober, and closes the client
// when Open made it.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.health != nil {
		s.health.close()
	}
	if !s.owned {
		return nil
	}
	return s.cli.Close()
}

// clone copies a value, mapping nil to an empty slice: an empty value is
// present, not absent (the kv contract).
func clone(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

var _ kv.Store = (*Store)(nil)

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
	owned  bool
	closed atomic.Bool
}

// Open connects to the endpoints and uses prefix as the namespace.
func Open(endpoints []string, prefix string) (*Store, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("etcdkv: connecting to %v: %w", endpoints, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Fail fast when the cluster is unreachable, rather than at first use.
	if _, err := cli.Get(ctx, "health-check-"+prefix, clientv3.WithCountOnly()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcdkv: reaching %v: %w", endpoints, err)
	}
	s := New(cli, prefix)
	s.owned = true
	return s, nil
}

// New wraps an existing client; Close does not close it.
func New(cli *clientv3.Client, prefix string) *Store {
	return &Store{cli: cli, kv: namespace.NewKV(cli.KV, prefix)}
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
	resp, err := s.kv.Get(ctx, key)
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
	resp, err := s.kv.Get(ctx, key, opts...)
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
	resp, err := s.kv.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(int64(limit)),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
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
	resp, err := s.kv.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
	if err != nil {
		return fmt.Errorf("etcdkv: txn: %w", err)
	}
	if resp.Succeeded {
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

// Create implements kv.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	resp, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value))).
		Commit()
	if err != nil {
		return fmt.Errorf("etcdkv: create %q: %w", key, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcdkv: create %q: %w", key, kv.ErrExists)
	}
	return nil
}

// Put implements kv.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, key, string(value)); err != nil {
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
		resp, err := s.kv.Get(ctx, key)
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
			op = clientv3.OpPut(key, string(next))
		}
		tr, err := s.kv.Txn(ctx).If(guard).Then(op).Commit()
		if err != nil {
			return fmt.Errorf("etcdkv: update %q: %w", key, err)
		}
		if tr.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("etcdkv: update %q: %w", key, kv.ErrConflict)
}

// Delete implements kv.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	resp, err := s.kv.Delete(ctx, key)
	if err != nil {
		return fmt.Errorf("etcdkv: delete %q: %w", key, err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("etcdkv: delete %q: %w", key, kv.ErrNotFound)
	}
	return nil
}

// Close implements kv.Store; it closes the client when Open made it.
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.owned {
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

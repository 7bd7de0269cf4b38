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

package etcdkv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Membership: each replica keeps one key under a prefix alive with a
// lease, and counts the keys there. A replica that stops or loses etcd
// drops out when its lease expires (at once when it stops cleanly: the
// lease is revoked). What it costs etcd: a lease keep-alive every TTL/3
// and one count-only range read per poll per replica, nothing per
// request. The throttle divides Key Vault's limit by the count.

// DefaultMemberTTL is the lease of a membership key: a replica that dies
// without revoking it is counted for at most this long.
const DefaultMemberTTL = 5 * time.Second

// DefaultMemberPoll is how often the members are counted.
const DefaultMemberPoll = time.Second

// Membership configures Members.
type Membership struct {
	// Prefix holds the membership keys (raw, outside the namespace: the
	// data's listings never see them).
	Prefix string
	// Name describes this replica in its key's value (for operators
	// looking with etcdctl).
	Name string
	// TTL and Poll default to DefaultMemberTTL and DefaultMemberPoll.
	TTL, Poll time.Duration
	// OnCount receives the number of live members (this one included)
	// at the first count and whenever it changes.
	OnCount func(n int)
	Logger  *slog.Logger
}

// Members registers this replica and reports the live count until ctx
// ends; then it revokes its lease. When etcd cannot be read the last
// count stands.
func (s *Store) Members(ctx context.Context, m Membership) {
	ttl := m.TTL
	if ttl <= 0 {
		ttl = DefaultMemberTTL
	}
	poll := m.Poll
	if poll <= 0 {
		poll = DefaultMemberPoll
	}
	logger := m.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	key := m.Prefix + hex.EncodeToString(id)
	last := 0
	var lease clientv3.LeaseID
	var alive <-chan *clientv3.LeaseKeepAliveResponse
	defer func() {
		if lease != 0 {
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, _ = s.cli.Revoke(rctx, lease)
		}
	}()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if alive == nil {
			var err error
			if lease, alive, err = s.register(ctx, key, m.Name, ttl); err != nil && ctx.Err() == nil {
				logger.Warn("registering this replica in etcd", "err", err)
			}
		}
		var n int64
		err := s.do(ctx, func(ctx context.Context, _ int) error {
			resp, err := s.cli.Get(ctx, m.Prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err == nil {
				n = resp.Count
			}
			return err
		})
		if err == nil && n > 0 && int(n) != last {
			last = int(n)
			if m.OnCount != nil {
				m.OnCount(last)
			}
		}
	drain:
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-alive:
				if !ok {
					// The lease expired or the keep-alive gave up:
					// register again with a new one.
					alive, lease = nil, 0
					break drain
				}
			case <-t.C:
				break drain
			}
		}
	}
}

// register grants a lease, writes the membership key under it and keeps
// it alive until ctx ends.
func (s *Store) register(ctx context.Context, key, name string, ttl time.Duration) (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, error) {
	var lease clientv3.LeaseID
	err := s.do(ctx, func(ctx context.Context, _ int) error {
		g, err := s.cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
		if err == nil {
			lease = g.ID
		}
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	err = s.do(ctx, func(ctx context.Context, _ int) error {
		_, err := s.cli.Put(ctx, key, name, clientv3.WithLease(lease))
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	alive, err := s.cli.KeepAlive(ctx, lease)
	if err != nil {
		return 0, nil, err
	}
	return lease, alive, nil
}

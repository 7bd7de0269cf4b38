package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
)

// Feed is the Store's change feed: an etcd watch on its namespace, and
// the revision barrier a read cache needs to serve reads that are never
// older than a write acknowledged anywhere (kvcache.Coherence).
//
// The barrier (Sync) asks the cluster for its current revision with one
// linearizable read, then waits until the watch has reported every change
// up to that revision: by an event at or past it, or by a progress
// notification that etcd sends on request (the way Kubernetes serves
// consistent reads from its watch cache). Progress notifications are only
// trustworthy from etcd 3.4.31 and 3.5.13 on: earlier servers could send
// one ahead of events still queued for the watch. Against an older member
// the feed never becomes ready, so the cache stays empty and every read
// goes to etcd.
type Feed struct {
	s *Store

	mu      sync.Mutex
	up      bool
	applied int64         // every change up to this revision has been reported
	wake    chan struct{} // closed and replaced when applied or up changes
	wctx    context.Context
	cancel  context.CancelFunc // ends the running watch
}

// Feed returns the Store's change feed; it watches once Watch is called.
func (s *Store) Feed() *Feed { return &Feed{s: s, wake: make(chan struct{})} }

// ErrFeedDown is Sync's error while the watch is not running.
var ErrFeedDown = errors.New("etcdkv: change feed is not watching")

// errUnsupported is a watch attempt's error when a member runs an etcd
// whose progress notifications cannot serve as a barrier.
var errUnsupported = errors.New("etcdkv: etcd too old for consistent cached reads (needs 3.4.31+ or 3.5.13+)")

// Watch implements kvcache.Coherence: it watches the namespace until ctx
// ends, starting over (after reset) when the watch breaks or is
// compacted, since changes may have been missed.
func (f *Feed) Watch(ctx context.Context, invalidate func(key string), reset, ready func()) {
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		f.setDown()
		reset()
		began := time.Now()
		err := f.watchOnce(ctx, invalidate, ready)
		f.setDown()
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > 10*time.Second {
			pause = 100 * time.Millisecond // it ran well: this is a new trouble
		}
		wait := pause
		if errors.Is(err, errUnsupported) {
			wait = 30 * time.Second // members may be upgraded meanwhile
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

func (f *Feed) watchOnce(ctx context.Context, invalidate func(key string), ready func()) error {
	if err := f.checkVersions(ctx); err != nil {
		return err
	}
	// A stream of its own (the client shares one stream between watches
	// whose contexts carry the same metadata), so progress requests reach
	// only this watch; and require-leader, so a member cut off from the
	// cluster ends the watch instead of silently falling behind.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(
		metadata.AppendToOutgoingContext(ctx, "coffer-watch", "kvcache")))
	defer cancel()
	ch := f.s.cli.Watch(wctx, f.s.prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	started := false
	for wr := range ch {
		if err := wr.Err(); err != nil {
			return err // compacted, canceled, no leader: start over
		}
		switch {
		case wr.Created:
			if started {
				continue
			}
			// Everything up to the revision the watch starts after is
			// in the store, and the cache is empty: nothing to report.
			started = true
			f.mu.Lock()
			f.up, f.applied, f.wctx, f.cancel = true, wr.Header.Revision, wctx, cancel
			f.wakeLocked()
			f.mu.Unlock()
			ready()
		case wr.IsProgressNotify():
			f.advance(wr.Header.Revision)
		default:
			var rev int64
			for _, ev := range wr.Events {
				invalidate(strings.TrimPrefix(string(ev.Kv.Key), f.s.prefix))
				rev = max(rev, ev.Kv.ModRevision)
			}
			f.advance(rev)
		}
	}
	return errors.New("etcdkv: watch ended")
}

// checkVersions refuses members whose progress notifications may run
// ahead of their events. A member that does not answer is not judged.
func (f *Feed) checkVersions(ctx context.Context) error {
	answered := 0
	for _, ep := range f.s.cli.Endpoints() {
		sctx, cancel := context.WithTimeout(ctx, f.s.opTimeout)
		st, err := f.s.cli.Status(sctx, ep)
		cancel()
		if err != nil {
			continue
		}
		answered++
		if !progressSafe(st.Version) {
			return fmt.Errorf("%w: %s runs %s", errUnsupported, ep, st.Version)
		}
	}
	if answered == 0 {
		return errors.New("etcdkv: no member answered a status request")
	}
	return nil
}

// progressSafe reports whether etcd version v sends progress
// notifications only once its watches have caught up: 3.4.31 and later
// 3.4s, 3.5.13 and later, and every later minor version.
func progressSafe(v string) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 3 {
		return false
	}
	n := make([]int, 3)
	for i, p := range parts {
		p, _, _ = strings.Cut(p, "-") // 3.6.0-rc.1
		x, err := strconv.Atoi(p)
		if err != nil {
			return false
		}
		n[i] = x
	}
	switch {
	case n[0] != 3:
		return n[0] > 3
	case n[1] == 4:
		return n[2] >= 31
	case n[1] == 5:
		return n[2] >= 13
	}
	return n[1] > 5
}

func (f *Feed) advance(rev int64) {
	f.mu.Lock()
	if rev > f.applied {
		f.applied = rev
		f.wakeLocked()
	}
	f.mu.Unlock()
}

func (f *Feed) setDown() {
	f.mu.Lock()
	if f.up {
		f.up, f.wctx, f.cancel = false, nil, nil
		f.wakeLocked()
	}
	f.mu.Unlock()
}

func (f *Feed) wakeLocked() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// progressRetry is how long Sync waits for a progress notification
// before asking again: a member whose watch is catching up ignores the
// request.
const progressRetry = 50 * time.Millisecond

// Sync implements kvcache.Coherence: nil once the watch has reported
// every change committed before the call.
func (f *Feed) Sync(ctx context.Context) error {
	f.mu.Lock()
	up := f.up
	f.mu.Unlock()
	if !up {
		return ErrFeedDown
	}
	rev, err := f.s.Revision(ctx)
	if err != nil {
		return err
	}
	asked := false
	for {
		f.mu.Lock()
		up, applied, wake, wctx, stop := f.up, f.applied, f.wake, f.wctx, f.cancel
		f.mu.Unlock()
		if !up {
			return ErrFeedDown
		}
		if applied >= rev {
			return nil
		}
		if !asked {
			// The watch's own context, for its stream; bounded, so a
			// stream being replaced cannot hold Sync.
			rctx, cancel := context.WithTimeout(wctx, progressRetry)
			err := f.s.cli.RequestProgress(rctx)
			cancel()
			if err != nil && ctx.Err() == nil && wctx.Err() == nil {
				return fmt.Errorf("etcdkv: requesting watch progress: %w", err)
			}
			asked = true
		}
		select {
		case <-wake:
		case <-time.After(progressRetry):
			asked = false
		case <-ctx.Done():
			// The cluster answered the revision read but the watch did
			// not catch up: its member may be stalled (a stopped process
			// keeps its connections open). Start the watch over, through
			// the balancer, which the prober keeps on live members; the
			// cache reads through until it is back, rather than every
			// barrier waiting out its deadline.
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				stop()
			}
			return ctx.Err()
		}
	}
}

// Revision returns the cluster's current revision, by one linearizable
// read: it is at least the revision of every write acknowledged before
// the call, on any client.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	var resp *clientv3.GetResponse
	err := s.do(ctx, func(ctx context.Context, _ int) (err error) {
		// Count-only, on one key that never exists: the smallest
		// linearizable request etcd answers with a header.
		resp, err = s.kv.Get(ctx, "\x00revision", clientv3.WithCountOnly())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("etcdkv: revision: %w", err)
	}
	return resp.Header.Revision, nil
}

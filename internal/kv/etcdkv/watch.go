package etcdkv

import (
	"cmp"
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
// The watch starts just after a revision r0 read linearizably, so from
// its start every change to the namespace after r0 is reported, in
// revision order: once it has reported an event at revision r, every
// change to the namespace up to r has been reported. Feed keeps that
// revision (applied; r0 until the first event).
//
// The barrier (Sync) asks the cluster for its current revision R with one
// linearizable read, and passes at once when applied >= R. Otherwise the
// changes between applied and R are either still on their way to the
// watch or were made outside the namespace (another application sharing
// the cluster, a lease expiring there): the revision is cluster-wide, and
// nothing in an event says which. Two ways to tell:
//
//   - On etcd 3.4.31+ and 3.5.13+ Sync requests a progress notification,
//     which etcd sends once the watch has caught up with its revision (the
//     way Kubernetes serves consistent reads from its watch cache).
//     Earlier servers could send one ahead of events still queued for the
//     watch, so there it is never requested.
//   - On those earlier servers (Debian's etcd-server is 3.4.23) Sync
//     waits a few milliseconds for an event to carry applied up to R and,
//     failing that, fails: the cache reads that key through from etcd.
//     That is always correct; on a cluster where other applications write
//     often it is also uncached. Coffer itself writes outside its
//     namespace only when replicas start and stop (membership and
//     election keys).
type Feed struct {
	s *Store

	// CatchUp bounds how long Sync waits for the watch to reach the
	// cluster's revision where progress notifications cannot be trusted
	// (DefaultCatchUp if zero). Set it before Watch runs.
	CatchUp time.Duration

	mu       sync.Mutex
	up       bool
	notify   bool          // the members' progress notifications can serve as a barrier
	applied  int64         // every change up to this revision has been reported
	heard    time.Time     // when the watch last reported anything
	wake     chan struct{} // closed and replaced when applied or up changes
	wctx     context.Context
	cancel   context.CancelFunc // ends the running watch
	counters FeedStats
}

// FeedStats counts the barrier's outcomes on the path without progress
// notifications, for metrics.
type FeedStats struct {
	// Waits counts barriers that found the watch behind the cluster's
	// revision and waited for it; Behind those that gave up waiting, so
	// the read went to etcd.
	Waits, Behind uint64
}

// DefaultCatchUp is Feed.CatchUp's default: on loopback or a LAN a watch
// reports a write a fraction of a millisecond after it commits.
const DefaultCatchUp = 5 * time.Millisecond

// stallAfter is how long a watch may report nothing while barriers find
// it behind before it is started over (without progress notifications,
// a stalled member and writes outside the namespace look alike; a new
// watch starts from a fresh linearizable revision either way).
const stallAfter = 2 * time.Second

// Feed returns the Store's change feed; it watches once Watch is called.
func (s *Store) Feed() *Feed { return &Feed{s: s, wake: make(chan struct{})} }

// ErrFeedDown is Sync's error while the watch is not running.
var ErrFeedDown = errors.New("etcdkv: change feed is not watching")

// ErrBehind is Sync's error when the watch did not reach the cluster's
// revision within Feed.CatchUp (no progress notifications): the caller
// reads from etcd instead.
var ErrBehind = errors.New("etcdkv: change feed is behind the cluster's revision")

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
		_ = err // the next attempt tells more than this one's error
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

func (f *Feed) watchOnce(ctx context.Context, invalidate func(key string), ready func()) error {
	notify, err := f.checkVersions(ctx)
	if err != nil {
		return err
	}
	// Everything up to r0 is in the store, and the cache is empty (reset
	// ran): the watch need only report what comes after.
	r0, err := f.s.Revision(ctx)
	if err != nil {
		return err
	}
	// A stream of its own (the client shares one stream between watches
	// whose contexts carry the same metadata), so progress requests reach
	// only this watch; and require-leader, so a member cut off from the
	// cluster ends the watch instead of silently falling behind.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(
		metadata.AppendToOutgoingContext(ctx, "coffer-watch", "kvcache")))
	defer cancel()
	ch := f.s.cli.Watch(wctx, f.s.prefix, clientv3.WithPrefix(), clientv3.WithRev(r0+1), clientv3.WithCreatedNotify())
	started := false
	for wr := range ch {
		if err := wr.Err(); err != nil {
			return err // compacted, canceled, no leader: start over
		}
		switch {
		case wr.Created:
			if started {
				continue // the client resumed the watch after the last event it saw
			}
			started = true
			f.mu.Lock()
			f.up, f.notify, f.applied, f.wctx, f.cancel = true, notify, r0, wctx, cancel
			f.heard = time.Now()
			f.wakeLocked()
			f.mu.Unlock()
			ready()
		case wr.IsProgressNotify():
			// Requested only when trustworthy; an old member's (another
			// client's request on a shared stream) is not.
			f.mu.Lock()
			f.heard = time.Now()
			f.mu.Unlock()
			if notify {
				f.advance(wr.Header.Revision)
			}
		default:
			var rev int64
			for _, ev := range wr.Events {
				invalidate(strings.TrimPrefix(string(ev.Kv.Key), f.s.prefix))
				rev = max(rev, ev.Kv.ModRevision)
			}
			// A response holds whole revisions (etcd splits only
			// between them), so every change up to rev is reported.
			f.advance(rev)
		}
	}
	return errors.New("etcdkv: watch ended")
}

// checkVersions reports whether every member sends progress
// notifications only once its watches have caught up. A member that does
// not answer counts as one that may not: the barrier without them is
// always sound, only slower on a busy shared cluster.
func (f *Feed) checkVersions(ctx context.Context) (bool, error) {
	answered, safe := 0, true
	for _, ep := range f.s.cli.Endpoints() {
		sctx, cancel := context.WithTimeout(ctx, f.s.opTimeout)
		st, err := f.s.cli.Status(sctx, ep)
		cancel()
		if err != nil {
			continue
		}
		answered++
		safe = safe && progressSafe(st.Version)
	}
	if answered == 0 {
		return false, errors.New("etcdkv: no member answered a status request")
	}
	return safe && answered == len(f.s.cli.Endpoints()), nil
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
	f.heard = time.Now()
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
	asked, waited := false, false
	var catchUp <-chan time.Time
	for {
		f.mu.Lock()
		up, notify, applied, wake, wctx, stop := f.up, f.notify, f.applied, f.wake, f.wctx, f.cancel
		f.mu.Unlock()
		if !up {
			return ErrFeedDown
		}
		if applied >= rev {
			return nil
		}
		if !notify && !waited {
			waited = true
			f.count(func(c *FeedStats) { c.Waits++ })
			catchUp = time.After(cmp.Or(f.CatchUp, DefaultCatchUp))
		}
		if notify && !asked {
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
		var retry <-chan time.Time
		if notify {
			retry = time.After(progressRetry)
		}
		select {
		case <-wake:
		case <-retry:
			asked = false
		case <-catchUp:
			// Behind: the missing revisions may be writes outside the
			// namespace, or the watch's member may be stalled. The read
			// goes to etcd either way; a watch that has reported nothing
			// for long is started over, from a fresh revision.
			f.mu.Lock()
			f.counters.Behind++
			silent := time.Since(f.heard) > stallAfter
			f.mu.Unlock()
			if silent {
				stop()
			}
			return ErrBehind
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

// Stats returns the barrier's counters so far.
func (f *Feed) Stats() FeedStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters
}

func (f *Feed) count(fn func(*FeedStats)) {
	f.mu.Lock()
	fn(&f.counters)
	f.mu.Unlock()
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

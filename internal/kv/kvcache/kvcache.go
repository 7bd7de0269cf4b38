// Package kvcache is a read cache in front of a kv.Store. It sits above
// the decrypting layer (crypt.Wrap), so a hit skips the backend read, the
// AES-GCM open and, through GetDecoded, the JSON decode as well. Only point
// reads are cached; List, ListRange and every write go to the inner store.
//
// The rule it keeps: no read returns a value older than a write that was
// acknowledged before the read began, whether the write went through this
// cache or through another process sharing the store.
//
//   - Writes through the cache drop the keys they touch before and after
//     the inner write, and while a write is in flight its keys are neither
//     served nor filled: readers go to the inner store, which orders them.
//   - A fill (a miss that reads the inner store and keeps the value) is
//     dropped when a write to its shard ended, or the cache was reset,
//     while it was reading: the value it read may predate that write.
//   - Over a store that other processes write (etcd), a Coherence feeds
//     the cache every change made by anyone (an etcd watch), and a hit is
//     served only after Coherence.Sync has confirmed that every change
//     committed before the read began has been applied. Concurrent readers
//     share one Sync, so one round trip confirms many reads, and the
//     reads of one request (WithSession) need only the first. When Sync
//     fails or times out the read goes to the inner store; while the feed
//     is down the cache is empty and nothing is cached.
//
// The cache is bounded by entries and bytes, in shards each with its own
// LRU list and lock.
package kvcache

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/kv"
)

// Coherence keeps the cache coherent with writes made by other processes.
// etcdkv's Store provides one (Feed).
type Coherence interface {
	// Watch runs until ctx ends. It calls invalidate for every key that
	// anyone changes, in commit order; reset whenever it may have missed
	// changes (a broken or compacted watch), before it starts watching
	// again; and ready once it is watching, after which every change is
	// reported. The cache serves and fills nothing between reset and
	// ready. Calls are made from one goroutine.
	Watch(ctx context.Context, invalidate func(key string), reset, ready func())
	// Sync returns nil once every change committed before Sync was called
	// has been passed to invalidate. Any error means the cache must not be
	// trusted for this read.
	Sync(ctx context.Context) error
}

// Options configures New. Zero fields take the defaults.
type Options struct {
	// MaxEntries and MaxBytes bound the cache. The byte count is of keys
	// and values as stored, doubled to account for a decoded memo.
	MaxEntries int
	MaxBytes   int64
	// Coherence is required when other processes write the inner store;
	// nil means this cache's writes are the only ones.
	Coherence Coherence
	// SyncTimeout bounds one Sync; a read that cannot be confirmed in
	// time goes to the inner store.
	SyncTimeout time.Duration
}

// Defaults for Options.
const (
	DefaultMaxEntries  = 100_000
	DefaultMaxBytes    = 64 << 20
	DefaultSyncTimeout = 500 * time.Millisecond
)

const nShards = 32

// entryOverhead approximates the memory of one entry beyond its key and
// value (struct, map slot, list links).
const entryOverhead = 96

// Cache is a caching kv.Store. Create it with New.
type Cache struct {
	inner  kv.Store
	coh    Coherence
	seed   maphash.Seed
	shards [nShards]shard

	maxValue    int // values larger than this are never cached
	syncTimeout time.Duration

	// epoch changes on every reset; a fill that began in another epoch is
	// dropped. up is false between a reset and ready.
	epoch atomic.Uint64
	up    atomic.Bool

	closed atomic.Bool
	stop   context.CancelFunc
	done   chan struct{}

	syncMu   sync.Mutex
	syncNext *round // the round readers join; not yet sent
	syncing  bool

	stats Stats
}

// Stats counts what the cache did, for tests and benchmarks.
type Stats struct {
	Hits, Misses, Fills, Bypasses atomic.Uint64
	// Evictions counts entries dropped to stay within the bounds (not
	// those dropped because their key changed).
	Evictions atomic.Uint64
	// Syncs counts Coherence.Sync calls, each shared by a batch of reads.
	Syncs atomic.Uint64
}

type shard struct {
	mu         sync.Mutex
	entries    map[string]*entry
	head, tail *entry // LRU list, most recent first
	bytes      int64
	maxEntries int
	maxBytes   int64
	// seq counts writes (and invalidations) that ended in this shard.
	seq uint64
	// writing counts in-flight writes per key.
	writing map[string]int
	// evictions is the cache's Stats.Evictions.
	evictions *atomic.Uint64
}

type entry struct {
	key        string
	val        []byte // never handed out: callers get copies
	size       int64
	memo       atomic.Pointer[memo]
	prev, next *entry
}

// memo is one decoded form of an entry's value.
type memo struct {
	kind any
	v    any
}

// New returns a Cache over inner. With a Coherence it starts watching at
// once and caches nothing until the watch is ready. Closing the Cache
// closes inner.
func New(inner kv.Store, opts Options) *Cache {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = DefaultSyncTimeout
	}
	c := &Cache{inner: inner, coh: opts.Coherence, seed: maphash.MakeSeed(), syncTimeout: opts.SyncTimeout}
	perEntries := max(1, opts.MaxEntries/nShards)
	perBytes := max(1, opts.MaxBytes/nShards)
	// One value may take at most an eighth of its shard, so a few large
	// values cannot empty it.
	c.maxValue = int(perBytes / 8)
	for i := range c.shards {
		c.shards[i] = shard{entries: map[string]*entry{}, writing: map[string]int{}, maxEntries: perEntries, maxBytes: perBytes,
			evictions: &c.stats.Evictions}
	}
	if c.coh == nil {
		c.up.Store(true)
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		c.coh.Watch(ctx, c.invalidate, c.reset, c.ready)
	}()
	return c
}

// Stats returns the cache's counters.
func (c *Cache) Stats() *Stats { return &c.stats }

var errClosed = errors.New("kvcache: store is closed")

func (c *Cache) shard(key string) *shard {
	return &c.shards[maphash.String(c.seed, key)%nShards]
}

// Get implements kv.Store.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	e, err := c.get(ctx, key)
	if err != nil || e == nil {
		return nil, err
	}
	return clone(e.val), nil
}

// GetDecoded returns the value at key decoded by decode, keeping the
// decoded form with the cached bytes so that the next read of the same
// bytes with the same kind skips decoding. kind names the decoded form
// (a reflect.Type, say): one key read as two kinds keeps the latest.
// The returned value may be shared with other callers: the caller must
// not modify it (copy it first).
func (c *Cache) GetDecoded(ctx context.Context, key string, kind any, decode func([]byte) (any, error)) (any, error) {
	e, err := c.get(ctx, key)
	if err != nil {
		return nil, err
	}
	if m := e.memo.Load(); m != nil && m.kind == kind {
		return m.v, nil
	}
	v, err := decode(e.val)
	if err != nil {
		return nil, err
	}
	// The entry's bytes never change, so a decoded form of them stays
	// right for as long as the entry lives.
	e.memo.Store(&memo{kind: kind, v: v})
	return v, nil
}

// get returns the entry for key: the cached one, or one just read from
// the inner store (kept if it may be).
func (c *Cache) get(ctx context.Context, key string) (*entry, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	if !c.up.Load() {
		return c.readThrough(ctx, key)
	}
	sh := c.shard(key)
	if e := sh.lookup(key); e != nil {
		if c.coh == nil {
			c.stats.Hits.Add(1)
			return e, nil
		}
		// The entry is only as fresh as the watch: confirm that the watch
		// has caught up with everything committed before this read (or
		// its session) began.
		sess, _ := ctx.Value(sessionKey{}).(*session)
		if sess == nil || sess.synced.Load() != c {
			if err := c.sync(ctx); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				c.stats.Bypasses.Add(1)
				return c.readThrough(ctx, key)
			}
			if sess != nil {
				sess.synced.Store(c)
			}
		}
		if e := sh.lookup(key); e != nil {
			c.stats.Hits.Add(1)
			return e, nil
		}
	}
	return c.fill(ctx, sh, key)
}

// readThrough reads the inner store for a Get that must not use the
// cache, into an entry that is not kept.
func (c *Cache) readThrough(ctx context.Context, key string) (*entry, error) {
	b, err := c.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return &entry{key: key, val: b}, nil
}

// fill reads key from the inner store and keeps it, unless something may
// have changed it while it was being read (see the package doc).
func (c *Cache) fill(ctx context.Context, sh *shard, key string) (*entry, error) {
	c.stats.Misses.Add(1)
	epoch := c.epoch.Load()
	sh.mu.Lock()
	seq, writing := sh.seq, sh.writing[key] > 0
	sh.mu.Unlock()
	b, err := c.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	e := &entry{key: key, val: b, size: 2*int64(len(key)+len(b)) + entryOverhead}
	if writing || len(b) > c.maxValue || !c.up.Load() {
		return e, nil
	}
	sh.mu.Lock()
	if sh.seq == seq && sh.writing[key] == 0 && c.epoch.Load() == epoch && c.up.Load() {
		sh.insert(e)
		c.stats.Fills.Add(1)
	}
	sh.mu.Unlock()
	return e, nil
}

func (sh *shard) lookup(key string) *entry {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[key]
	if e != nil && e != sh.head {
		sh.unlink(e)
		sh.pushFront(e)
	}
	return e
}

// insert adds e (replacing an entry for its key) and evicts from the
// tail while over a bound. The caller holds mu.
func (sh *shard) insert(e *entry) {
	if old := sh.entries[e.key]; old != nil {
		sh.remove(old)
	}
	sh.entries[e.key] = e
	sh.pushFront(e)
	sh.bytes += e.size
	for sh.tail != nil && (len(sh.entries) > sh.maxEntries || sh.bytes > sh.maxBytes) {
		sh.remove(sh.tail)
		sh.evictions.Add(1)
	}
}

// drop removes key's entry, if any, and counts the change. The caller
// holds mu.
func (sh *shard) drop(key string) {
	if e := sh.entries[key]; e != nil {
		sh.remove(e)
	}
	sh.seq++
}

func (sh *shard) remove(e *entry) {
	delete(sh.entries, e.key)
	sh.unlink(e)
	sh.bytes -= e.size
}

func (sh *shard) pushFront(e *entry) {
	e.prev, e.next = nil, sh.head
	if sh.head != nil {
		sh.head.prev = e
	}
	sh.head = e
	if sh.tail == nil {
		sh.tail = e
	}
}

func (sh *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// invalidate drops key: a change reported by the Coherence.
func (c *Cache) invalidate(key string) {
	sh := c.shard(key)
	sh.mu.Lock()
	sh.drop(key)
	sh.mu.Unlock()
}

// reset empties the cache and stops serving from it until ready.
func (c *Cache) reset() {
	c.up.Store(false)
	c.epoch.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.entries)
		sh.head, sh.tail, sh.bytes = nil, nil, 0
		sh.seq++
		sh.mu.Unlock()
	}
}

// ready starts caching after a reset. It begins a new epoch as well: a
// fill that began reading before the watch started may have read a value
// older than the watch's first revision, whose change will never be
// reported.
func (c *Cache) ready() {
	c.epoch.Add(1)
	c.up.Store(true)
}

// Len returns the number of cached entries.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

type sessionKey struct{}

// session records that a barrier passed after the session began.
type session struct{ synced atomic.Pointer[Cache] }

// WithSession returns a context for one client request: its reads need
// to see the writes acknowledged before the request began, not those
// acknowledged before each read, so after the first barrier passes the
// request's later hits need none (a GET reads principal, vault, secret
// record and value: one barrier instead of four). Values may still be
// newer than the barrier; never older.
func WithSession(ctx context.Context) context.Context {
	return context.WithValue(ctx, sessionKey{}, &session{})
}

// round is one Sync shared by the readers that joined it.
type round struct {
	done chan struct{}
	err  error
}

// sync waits for a Sync that began after this call did. One Sync runs at
// a time; readers arriving meanwhile join the next one, so under load one
// round trip confirms a whole batch of reads.
func (c *Cache) sync(ctx context.Context) error {
	c.syncMu.Lock()
	r := c.syncNext
	if r == nil {
		r = &round{done: make(chan struct{})}
		c.syncNext = r
	}
	if !c.syncing {
		c.syncing = true
		go c.syncLoop()
	}
	c.syncMu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Cache) syncLoop() {
	for {
		c.syncMu.Lock()
		r := c.syncNext
		c.syncNext = nil
		if r == nil {
			c.syncing = false
			c.syncMu.Unlock()
			return
		}
		c.syncMu.Unlock()
		// Detached from any one reader: a reader that gives up must not
		// fail the others' round.
		ctx, cancel := context.WithTimeout(context.Background(), c.syncTimeout)
		c.stats.Syncs.Add(1)
		r.err = c.coh.Sync(ctx)
		cancel()
		close(r.done)
	}
}

// begin marks keys as being written: their entries go, and until end no
// reader serves or fills them.
func (c *Cache) begin(keys ...string) {
	for _, k := range keys {
		sh := c.shard(k)
		sh.mu.Lock()
		sh.writing[k]++
		if e := sh.entries[k]; e != nil {
			sh.remove(e)
		}
		sh.mu.Unlock()
	}
}

// end is begin's counterpart, run before the write is acknowledged. It
// drops the keys again and counts the change, which voids fills that read
// before the write landed.
func (c *Cache) end(keys ...string) {
	for _, k := range keys {
		sh := c.shard(k)
		sh.mu.Lock()
		if n := sh.writing[k]; n <= 1 {
			delete(sh.writing, k)
		} else {
			sh.writing[k] = n - 1
		}
		sh.drop(k)
		sh.mu.Unlock()
	}
}

// List implements kv.Store by passing through.
func (c *Cache) List(ctx context.Context, prefix string) ([]kv.Pair, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	return c.inner.List(ctx, prefix)
}

// ListRange implements kv.Store by passing through.
func (c *Cache) ListRange(ctx context.Context, prefix, after string, limit int) ([]kv.Pair, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	return c.inner.ListRange(ctx, prefix, after, limit)
}

// Create implements kv.Store.
func (c *Cache) Create(ctx context.Context, key string, value []byte) error {
	if c.closed.Load() {
		return errClosed
	}
	c.begin(key)
	defer c.end(key)
	return c.inner.Create(ctx, key, value)
}

// Put implements kv.Store.
func (c *Cache) Put(ctx context.Context, key string, value []byte) error {
	if c.closed.Load() {
		return errClosed
	}
	c.begin(key)
	defer c.end(key)
	return c.inner.Put(ctx, key, value)
}

// Update implements kv.Store.
func (c *Cache) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	if c.closed.Load() {
		return errClosed
	}
	c.begin(key)
	defer c.end(key)
	return c.inner.Update(ctx, key, fn)
}

// Delete implements kv.Store.
func (c *Cache) Delete(ctx context.Context, key string) error {
	if c.closed.Load() {
		return errClosed
	}
	c.begin(key)
	defer c.end(key)
	return c.inner.Delete(ctx, key)
}

// Txn implements kv.Store; every key it may write is dropped, whether or
// not its conditions hold.
func (c *Cache) Txn(ctx context.Context, ops ...kv.Op) error {
	if c.closed.Load() {
		return errClosed
	}
	var keys []string
	for _, o := range ops {
		if o.Writes() {
			keys = append(keys, o.Key)
		}
	}
	c.begin(keys...)
	defer c.end(keys...)
	return c.inner.Txn(ctx, ops...)
}

// Close stops the watch and closes the inner store.
func (c *Cache) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.stop != nil {
		c.stop()
		<-c.done
	}
	c.reset()
	return c.inner.Close()
}

// clone copies a value, keeping an empty value non-nil (present).
func clone(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

var _ kv.Store = (*Cache)(nil)

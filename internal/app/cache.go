package app

import (
	"net/http"

	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv"
	"github.com/coffer-dev/coffer/internal/kv/kvcache"
	"github.com/coffer-dev/coffer/internal/metrics"
)

// withCache puts the read cache (kvcache) above decryption, so a hit
// skips the backend, AES-GCM and, for records, the JSON decode. On etcd
// other replicas write too: the cache follows them through the store's
// watch and serves a hit only after a revision barrier (etcdkv.Feed), so
// no replica reads older than a write acknowledged on any replica. On
// bbolt and in memory this process is the only writer and the cache's own
// write-through suffices.
//
// With Config.WrapStore the cache is off unless CacheBytes asks for it:
// the wrapper injects backend failures, and a cache above it would answer
// the reads those failures are meant to reach.
func (s *Server) withCache(st kv.Store) kv.Store {
	size := s.cfg.CacheBytes
	if size < 0 || (size == 0 && s.cfg.WrapStore != nil) {
		return st
	}
	opts := kvcache.Options{MaxBytes: size}
	var feed *etcdkv.Feed
	if s.etcd != nil {
		feed = s.etcd.Feed()
		opts.Coherence = feed
	}
	c := kvcache.New(st, opts)
	s.metrics.ObserveCache(func() metrics.CacheStats { return cacheStats(c, feed) })
	return c
}

// cacheStats is the cache's and its feed's counters for /metrics.
func cacheStats(c *kvcache.Cache, feed *etcdkv.Feed) metrics.CacheStats {
	st := c.Stats()
	out := metrics.CacheStats{
		Hits: st.Hits.Load(), Misses: st.Misses.Load(), Evictions: st.Evictions.Load(),
		ReadThroughs: st.Bypasses.Load(), Barriers: st.Syncs.Load(), Entries: c.Len(),
	}
	if feed != nil {
		fs := feed.Stats()
		out.BarrierWaits, out.BarrierBehind = fs.Waits, fs.Behind
	}
	return out
}

// cacheSessions makes each request one cache session on etcd: the
// request's first cached read takes the revision barrier and its later
// reads need none (kvcache.WithSession). Elsewhere there is no barrier,
// and the handler is returned as it is.
func (s *Server) cacheSessions(h http.Handler) http.Handler {
	if _, ok := s.kv.(*kvcache.Cache); !ok || s.etcd == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(kvcache.WithSession(r.Context())))
	})
}

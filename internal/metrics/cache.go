package metrics

import "github.com/prometheus/client_golang/prometheus"

// CacheStats is a snapshot of the read cache's counters (kvcache.Stats and,
// on etcd, its feed's barrier counters), taken at each scrape: nothing is
// counted twice and the read path pays nothing for the metrics.
type CacheStats struct {
	Hits, Misses, Evictions uint64
	// ReadThroughs are reads of cached keys sent to the store because the
	// revision barrier failed or fell short.
	ReadThroughs uint64
	// Barriers are revision barriers taken (each shared by a batch of
	// reads); BarrierWaits those that found the watch behind the cluster
	// and waited for it, BarrierBehind those that gave up waiting (etcd
	// without trustworthy progress notifications).
	Barriers, BarrierWaits, BarrierBehind uint64
	Entries                               int
}

// cacheCollector reports CacheStats; it has no labels, so no key or vault
// name can become one.
type cacheCollector struct {
	read  func() CacheStats
	descs []*prometheus.Desc
}

var cacheMetrics = []struct {
	name, help string
	gauge      bool
	value      func(s *CacheStats) float64
}{
	{"coffer_cache_hits_total", "Point reads served from the read cache.", false,
		func(s *CacheStats) float64 { return float64(s.Hits) }},
	{"coffer_cache_misses_total", "Point reads the read cache did not hold, read from the store.", false,
		func(s *CacheStats) float64 { return float64(s.Misses) }},
	{"coffer_cache_evictions_total", "Entries dropped from the read cache to stay within its bounds.", false,
		func(s *CacheStats) float64 { return float64(s.Evictions) }},
	{"coffer_cache_read_through_total", "Reads of cached keys sent to the store because the revision barrier failed or fell short (etcd).", false,
		func(s *CacheStats) float64 { return float64(s.ReadThroughs) }},
	{"coffer_cache_barriers_total", "Revision barriers taken to confirm cached reads, each shared by a batch of reads (etcd).", false,
		func(s *CacheStats) float64 { return float64(s.Barriers) }},
	{"coffer_cache_barrier_waits_total", "Barriers that found the watch behind the cluster's revision and waited for it (etcd without trustworthy progress notifications).", false,
		func(s *CacheStats) float64 { return float64(s.BarrierWaits) }},
	{"coffer_cache_barrier_behind_total", "Barriers that gave up waiting for the watch, so their reads went to etcd (writes outside Coffer's prefix, or a lagging member).", false,
		func(s *CacheStats) float64 { return float64(s.BarrierBehind) }},
	{"coffer_cache_entries", "Entries in the read cache.", true,
		func(s *CacheStats) float64 { return float64(s.Entries) }},
}

// ObserveCache exports the read cache's counters; read is called once per
// scrape. Call it at most once.
func (m *Metrics) ObserveCache(read func() CacheStats) {
	c := &cacheCollector{read: read}
	for _, cm := range cacheMetrics {
		c.descs = append(c.descs, prometheus.NewDesc(cm.name, cm.help, nil, nil))
	}
	m.reg.MustRegister(c)
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	for i, cm := range cacheMetrics {
		typ := prometheus.CounterValue
		if cm.gauge {
			typ = prometheus.GaugeValue
		}
		ch <- prometheus.MustNewConstMetric(c.descs[i], typ, cm.value(&s))
	}
}

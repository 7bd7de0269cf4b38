package metrics

import (
	"strings"
	"testing"
)

func TestReason(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "none",
		"Unauthorized":            "Unauthorized",
		"AADSTS7000215":           "AADSTS7000215",
		"Authorization_Request-x": "Authorization_Request_x",
		"a b{c}\"d\n":             "a_b_c__d_",
		"ÄÖ":                      "__",
		string(make([]byte, 100)): "________________________________________________",
	} {
		if got := Reason(in); got != want {
			t.Errorf("Reason(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestObserveCache: the cache's counters are read at each scrape, under
// their names, and move when the cache's do.
func TestObserveCache(t *testing.T) {
	m := New()
	var st CacheStats
	m.ObserveCache(func() CacheStats { return st })
	scrape := func() map[string]float64 {
		t.Helper()
		mfs, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			for _, mt := range mf.GetMetric() {
				if len(mt.GetLabel()) != 0 && strings.HasPrefix(mf.GetName(), "coffer_cache_") {
					t.Errorf("%s has labels %v, want none", mf.GetName(), mt.GetLabel())
				}
				switch {
				case mt.Counter != nil:
					out[mf.GetName()] = mt.Counter.GetValue()
				case mt.Gauge != nil:
					out[mf.GetName()] = mt.Gauge.GetValue()
				}
			}
		}
		return out
	}
	before := scrape()
	st = CacheStats{Hits: 5, Misses: 2, Evictions: 1, ReadThroughs: 3, Barriers: 4, BarrierWaits: 6, BarrierBehind: 7, Entries: 9}
	after := scrape()
	for name, want := range map[string]float64{
		"coffer_cache_hits_total": 5, "coffer_cache_misses_total": 2, "coffer_cache_evictions_total": 1,
		"coffer_cache_read_through_total": 3, "coffer_cache_barriers_total": 4, "coffer_cache_barrier_waits_total": 6,
		"coffer_cache_barrier_behind_total": 7, "coffer_cache_entries": 9,
	} {
		if before[name] != 0 || after[name] != want {
			t.Errorf("%s: %v then %v, want 0 then %v", name, before[name], after[name], want)
		}
	}
}

package keyvault

import (
	"strings"
	"sync"
	"time"
)

// Throttle limits data-plane transactions per vault like Key Vault does
// (4,000 per 10 s per vault for secrets, azure-wire-spec §1.10): a token
// bucket per vault; refused requests do not count. A nil *Throttle allows
// everything.
//
// Several replicas behind a load balancer share the limit by dividing it:
// each enforces Rate and Burst divided by the number of live replicas
// (SetReplicas, fed from etcd: app's membership), so together they admit
// about the limit when the balancer spreads requests evenly, without a
// shared counter (an etcd write per request) on the hot path. With an
// uneven spread they admit less, never more.
type Throttle struct {
	// Rate is the sustained transactions per second; Burst the bucket size.
	Rate  float64
	Burst float64
	Now   func() time.Time

	mu       sync.Mutex
	buckets  map[string]*bucket
	replicas int // sharing the limit; 0 and 1 mean this one alone
}

type bucket struct {
	tokens float64
	last   time.Time
}

// AzureThrottle returns a throttle with Key Vault's published secret limits.
func AzureThrottle(now func() time.Time) *Throttle {
	return &Throttle{Rate: 400, Burst: 4000, Now: now}
}

// Allow takes one token from the vault's bucket. It returns false and how
// long to wait when the bucket is empty.
func (t *Throttle) Allow(vault string) (bool, time.Duration) {
	if t == nil {
		return true, 0
	}
	now := t.Now()
	vault = strings.ToLower(vault)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.buckets == nil {
		t.buckets = map[string]*bucket{}
	}
	rate, burst := t.Rate, t.Burst
	if t.replicas > 1 {
		// At least one request's worth of burst, or a small limit
		// split many ways would refuse everything.
		rate, burst = rate/float64(t.replicas), max(burst/float64(t.replicas), 1)
	}
	b := t.buckets[vault]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		t.buckets[vault] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / rate * float64(time.Second))
	return false, wait
}

// SetReplicas sets how many replicas share the limit (n < 1 counts as
// 1). Buckets fuller than the new share are cut to it at once; emptier
// ones refill at the new rate.
func (t *Throttle) SetReplicas(n int) {
	if t == nil {
		return
	}
	n = max(n, 1)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.replicas = n
	burst := max(t.Burst/float64(n), 1)
	for _, b := range t.buckets {
		b.tokens = min(b.tokens, burst)
	}
}

// Replicas is the number of replicas sharing the limit (at least 1).
func (t *Throttle) Replicas() int {
	if t == nil {
		return 1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return max(t.replicas, 1)
}

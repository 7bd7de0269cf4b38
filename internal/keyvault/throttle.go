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
type Throttle struct {
	// Rate is the sustained transactions per second; Burst the bucket size.
	Rate  float64
	Burst float64
	Now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
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
	b := t.buckets[vault]
	if b == nil {
		b = &bucket{tokens: t.Burst, last: now}
		t.buckets[vault] = b
	}
	b.tokens = min(t.Burst, b.tokens+now.Sub(b.last).Seconds()*t.Rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / t.Rate * float64(time.Second))
	return false, wait
}

package imds

import (
	"sync"
	"time"
)

// bucket is a token bucket: rate tokens per second, holding at most rate
// (one second's worth), so a burst may use a whole second's allowance at
// once but never more, as IMDS's per-second limits allow.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newBucket(perSecond int) *bucket {
	return &bucket{rate: float64(perSecond), tokens: float64(perSecond)}
}

// take spends one token if there is one. A clock that goes backwards
// refills nothing rather than draining the bucket.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

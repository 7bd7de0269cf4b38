package oidc

import (
	"sync"
	"time"
)

// failureLimiter counts failed sign-ins per key (a user, an address) in a
// sliding window; a key over its limit is locked until its oldest failure
// in the window ages out. It lives in memory: each replica of an HA
// deployment counts on its own, which still bounds guessing per replica.
type failureLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	fails  map[string][]time.Time
}

// maxLimiterKeys bounds the map: over it, keys with no recent failure are
// dropped (an attacker spraying addresses cannot grow memory forever).
const maxLimiterKeys = 100_000

func newFailureLimiter(limit int, window time.Duration) *failureLimiter {
	return &failureLimiter{limit: limit, window: window, fails: map[string][]time.Time{}}
}

// recent drops failures outside the window; callers hold mu.
func (l *failureLimiter) recent(key string, now time.Time) []time.Time {
	fs := l.fails[key]
	i := 0
	for i < len(fs) && now.Sub(fs[i]) >= l.window {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = fs
	return fs
}

// Locked reports whether key has reached the limit.
func (l *failureLimiter) Locked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, now)) >= l.limit
}

// Fail records a failure for key.
func (l *failureLimiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) >= maxLimiterKeys {
		for k := range l.fails {
			l.recent(k, now)
		}
	}
	fs := l.recent(key, now)
	if len(fs) >= l.limit {
		return // already locked; keep the window from sliding forever
	}
	l.fails[key] = append(fs, now)
}

// Reset forgets key's failures (a user who signed in successfully).
func (l *failureLimiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

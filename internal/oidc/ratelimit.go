package oidc

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
)

// failureLimiter counts failed sign-ins per key (a user, an address) in a
// sliding window; a key over its limit is locked until its oldest failure
// in the window ages out. It lives in memory, per replica; a directory
// user's failures are also counted across replicas (sharedFailures).
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

// sharedFailures counts a directory user's failed sign-ins in the shared
// store, so that behind a load balancer the replicas enforce one limit
// together (a guesser spreading attempts over N replicas still gets limit
// tries per window, not N×limit). It is a fixed window: the count starts
// with a user's first failure and the record expires window later. Only
// users that exist are counted here; failures for unknown names stay in
// each replica's memory, so that sign-ins with made-up names cannot make
// the store write without bound.
type sharedFailures struct {
	st     FlowStore
	limit  int
	window time.Duration
}

const kindSignInFailures = "signin-failures"

func (s *sharedFailures) count(ctx context.Context, user string, now time.Time) int {
	if s.st == nil {
		return 0
	}
	b, err := s.st.GetEphemeral(ctx, kindSignInFailures, flowID(user), now)
	if err != nil {
		return 0 // absent, expired or unreadable: the in-memory limiter still applies
	}
	n, _ := strconv.Atoi(string(b))
	return n
}

// Locked reports whether user has used up the window's failures.
func (s *sharedFailures) Locked(ctx context.Context, user string, now time.Time) bool {
	return s.count(ctx, user, now) >= s.limit
}

// Fail records one failure for user.
func (s *sharedFailures) Fail(ctx context.Context, user string, now time.Time) error {
	if s.st == nil {
		return nil
	}
	id := flowID(user)
	err := s.st.UpdateEphemeral(ctx, kindSignInFailures, id, now, func(old []byte) ([]byte, error) {
		n, _ := strconv.Atoi(string(old))
		return []byte(strconv.Itoa(n + 1)), nil
	})
	if errs.KindOf(err) == errs.NotExist {
		// First failure of a window. Two replicas starting one at the same
		// instant may each write 1: the count is then one short, once.
		return s.st.PutEphemeral(ctx, kindSignInFailures, id, []byte("1"), now.Add(s.window))
	}
	return err
}

// Reset forgets user's failures after a successful sign-in (a read when
// there are none, so a sign-in costs no write).
func (s *sharedFailures) Reset(ctx context.Context, user string, now time.Time) error {
	if s.count(ctx, user, now) == 0 {
		return nil
	}
	err := s.st.DeleteEphemeral(ctx, kindSignInFailures, flowID(user))
	if errs.KindOf(err) == errs.NotExist {
		return nil
	}
	return err
}

package identity

import (
	"crypto/sha256"
	"sync"
	"unsafe"
)

// DefaultVerifyCacheSize bounds the verified-token cache. A token is about
// 1 KB and its decoded claims a few hundred bytes, so the default costs at
// most a few MB; busy servers see far fewer distinct live tokens than this
// (SDKs reuse a token until close to its expiry).
const DefaultVerifyCacheSize = 4096

// verifyShards spreads the cache over independent locks so that
// concurrent requests rarely wait on each other.
const verifyShards = 16

// verifyCache remembers tokens whose signature, issuer, tenant and object
// id were verified, keyed by the SHA-256 of the token's bytes (a
// collision-resistant hash: a forged token cannot share a key with a
// verified one). It caches only what is a pure function of the token's
// bytes and the signing key; what depends on time or on the caller
// (expiry, not-before, audience) is checked again on every hit, and the
// principal's existence and accountEnabled are checked by the APIs
// against the store on every request, so a deleted or disabled principal's
// cached token stops working at once. Eviction is CLOCK (second chance), so a hit costs one map
// lookup and a flag store under a shard lock.
type verifyCache struct {
	shards [verifyShards]cacheShard
}

type cacheShard struct {
	mu   sync.Mutex
	max  int
	m    map[[32]byte]*cacheEntry
	ring []*cacheEntry // insertion slots the clock hand walks
	hand int
}

type cacheEntry struct {
	sum    [32]byte
	claims Claims
	// key is the signing key that verified the signature; a hit counts only
	// while the key set still maps the token's kid to this very key, so
	// rotating or removing a key (or replacing the key set) retires every
	// token it verified at once.
	key    *signingKey
	tenant string // the Verifier's tenant at verification time
	used   bool   // CLOCK reference bit
	live   bool   // false once dropped from the map
}

func newVerifyCache(size int) *verifyCache {
	per := max(size/verifyShards, 1)
	c := &verifyCache{}
	for i := range c.shards {
		c.shards[i] = cacheShard{max: per, m: make(map[[32]byte]*cacheEntry, per)}
	}
	return c
}

// tokenSum hashes raw without copying it.
func tokenSum(raw string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}

func (c *verifyCache) shard(sum *[32]byte) *cacheShard {
	return &c.shards[sum[0]%verifyShards]
}

// get returns the entry for sum and marks it used.
func (c *verifyCache) get(sum *[32]byte) *cacheEntry {
	s := c.shard(sum)
	s.mu.Lock()
	e := s.m[*sum]
	if e != nil {
		e.used = true
	}
	s.mu.Unlock()
	return e
}

// drop forgets e (if it is still the entry for its hash).
func (c *verifyCache) drop(e *cacheEntry) {
	s := c.shard(&e.sum)
	s.mu.Lock()
	if s.m[e.sum] == e {
		delete(s.m, e.sum)
		e.live = false
	}
	s.mu.Unlock()
}

// put stores e, evicting with the clock hand when the shard is full.
func (c *verifyCache) put(e *cacheEntry) {
	s := c.shard(&e.sum)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.m[e.sum]; old != nil {
		old.live = false
	}
	e.live = true
	s.m[e.sum] = e
	if len(s.ring) < s.max {
		s.ring = append(s.ring, e)
		return
	}
	// Walk at most two turns: the first clears reference bits, the second
	// is then sure to find a victim.
	for range 2 * len(s.ring) {
		v := s.ring[s.hand]
		if v.live && v.used {
			v.used = false
			s.hand = (s.hand + 1) % len(s.ring)
			continue
		}
		if v.live && s.m[v.sum] == v {
			delete(s.m, v.sum)
			v.live = false
		}
		s.ring[s.hand] = e
		s.hand = (s.hand + 1) % len(s.ring)
		return
	}
}

// len counts the live entries (for tests).
func (c *verifyCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

package crypt

import (
	"crypto/cipher"
	"sync"
)

// maxDEKs bounds the DEK cache: a few thousand values read often (the
// records and values of busy secrets) stay warm, at about 1 KB each.
const maxDEKs = 4096

// dekCache keeps the AES-GCM AEAD of recently used DEKs, keyed by the
// stored header and wrapped DEK that yield it. Opening a value otherwise
// costs a DEK unwrap and a fresh AES key schedule and GCM table every time;
// with the cache, a value read again costs one map lookup and the GCM
// open. The key is the exact bytes the unwrap authenticates, so equal keys
// always unwrap to the same DEK. Holding DEK schedules in memory exposes
// nothing the KEKs, which are in memory too, do not already.
type dekCache struct {
	mu sync.Mutex
	m  map[string]cipher.AEAD
}

func newDEKCache() *dekCache { return &dekCache{m: make(map[string]cipher.AEAD)} }

func (c *dekCache) get(wrapped []byte) cipher.AEAD {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[string(wrapped)] // no allocation: the compiler sees a lookup
}

func (c *dekCache) put(wrapped []byte, aead cipher.AEAD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxDEKs {
		// Evict one arbitrary entry: Go's map iteration starts at random,
		// which is as good as LRU for this and costs no bookkeeping.
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[string(wrapped)] = aead
}

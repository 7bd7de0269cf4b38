package crypt

import (
	"bytes"
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

// maxHints bounds the check hints: one per compare-and-swap record written
// recently (a secret's head is a few hundred bytes).
const maxHints = 1024

// sealedHints maps a key to the ciphertext this store last wrote there
// under a Check, with its plaintext (store.Txn). An entry is a guess that
// the inner store checks, never a source of truth.
type sealedHints struct {
	mu sync.Mutex
	m  map[string]sealedHint
}

type sealedHint struct{ raw, plain []byte }

func newSealedHints() *sealedHints { return &sealedHints{m: make(map[string]sealedHint)} }

// get returns the ciphertext last written at key if it holds plain.
func (h *sealedHints) get(key string, plain []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.m[key]; ok && bytes.Equal(e.plain, plain) {
		return e.raw
	}
	return nil
}

// put records raw, sealed from plain, as written at key. raw is not
// changed after; plain is the caller's and is copied.
func (h *sealedHints) put(key string, raw, plain []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.m[key]; !ok && len(h.m) >= maxHints {
		for k := range h.m { // an arbitrary victim, as in dekCache
			delete(h.m, k)
			break
		}
	}
	h.m[key] = sealedHint{raw: raw, plain: bytes.Clone(plain)}
}

func (h *sealedHints) drop(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, key)
}

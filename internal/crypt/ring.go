package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// KeySize is the size in bytes of a KEK (and of every DEK): AES-256.
const KeySize = 32

// maxIDLen is the longest KEK id the one-byte length in the header can carry.
const maxIDLen = 255

// Ring holds the KEKs by id, one of them active. Its keys never change
// (rotating means building a new Ring) and it is safe for concurrent use. Its String, GoString
// and LogValue methods never show key material.
type Ring struct {
	active string
	// keks holds one AEAD per KEK, built once: the key schedule is the costly
	// part, and the raw key bytes need not be kept at all.
	keks map[string]cipher.AEAD
	// deks caches the AEADs of recently opened values' DEKs, and sealer
	// is the DEK sealing new values (envelope.go); they are the Ring's only
	// mutable parts, and guard themselves.
	deks   *dekCache
	sealer atomic.Pointer[sealer]
}

// NewRing returns a Ring with the given KEKs, which must each be KeySize
// bytes under a non-empty id of at most 255 bytes; activeID names the one that
// encrypts new values. NewRing does not keep keys or the map.
func NewRing(activeID string, keys map[string][]byte) (*Ring, error) {
	if _, ok := keys[activeID]; !ok {
		return nil, fmt.Errorf("crypt: active key id %q is not in the ring", activeID)
	}
	r := &Ring{active: activeID, keks: make(map[string]cipher.AEAD, len(keys)), deks: newDEKCache()}
	for id, key := range keys {
		if id == "" || len(id) > maxIDLen {
			return nil, fmt.Errorf("crypt: key id %q: want 1 to %d bytes", id, maxIDLen)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("crypt: key %q is %d bytes, want %d", id, len(key), KeySize)
		}
		r.keks[id] = newAEAD(key)
	}
	return r, nil
}

// NewRandomRing returns a Ring with one fresh random KEK. It is for
// in-memory stores: the key is never written anywhere, so anything it
// encrypts is unreadable once the process exits.
func NewRandomRing() *Ring {
	id, key := newKey()
	r, err := NewRing(id, map[string][]byte{id: key})
	if err != nil {
		panic("crypt: NewRandomRing: " + err.Error()) // a bug: id and key are ours
	}
	return r
}

// ActiveID returns the id of the KEK that encrypts new values.
func (r *Ring) ActiveID() string { return r.active }

// String describes the ring without its keys.
func (r *Ring) String() string {
	return fmt.Sprintf("crypt.Ring{active: %q, keys: %d}", r.active, len(r.keks))
}

// GoString keeps %#v, which would otherwise print the AEADs' internal key
// schedules, as safe as %v.
func (r *Ring) GoString() string { return r.String() }

// LogValue logs the ring without its keys.
func (r *Ring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("active", r.active), slog.Int("keys", len(r.keks)))
}

// newKey returns a fresh random KEK and an id for it.
func newKey() (id string, key []byte) {
	key = make([]byte, KeySize)
	rand.Read(key) // never fails: crypto/rand crashes the program instead
	idb := make([]byte, 8)
	rand.Read(idb)
	return hex.EncodeToString(idb), key
}

// newAEAD returns AES-256-GCM with random nonces under key. The only
// possible errors are for a key of the wrong size, which callers rule out.
func newAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("crypt: " + err.Error())
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		panic("crypt: " + err.Error())
	}
	return aead
}

// Interface guard.
var _ slog.LogValuer = (*Ring)(nil)

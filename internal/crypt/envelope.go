package crypt

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
)

// ErrDecrypt is wrapped by every error about a stored value that cannot be
// decrypted: unknown KEK id, unknown format, or bytes that fail
// authentication (tampered, truncated or moved to another key).
var ErrDecrypt = errors.New("crypt: cannot decrypt value")

// Header bytes of format version 1; see the package doc.
const (
	magic    = 0xC5
	version1 = 0x01
	// wrappedDEKLen is a random-nonce AES-GCM seal of a KeySize DEK:
	// 12 bytes of nonce, the key, 16 bytes of tag.
	wrappedDEKLen = 12 + KeySize + 16
)

// maxSealsPerDEK bounds how many values one DEK seals. Nonces are random,
// and AES-GCM's bound for random nonces under one key is 2^32 messages;
// 2^20 keeps the chance of a repeated nonce below 2^-56 per DEK.
const maxSealsPerDEK = 1 << 20

// sealer is the DEK that seals new values under the active KEK, shared by
// up to maxSealsPerDEK of them. A fresh DEK per value cost an AES key
// schedule, a GCM table and a KEK wrap on every write (a quarter of a
// secret SET's CPU, three seals each) and pushed one DEK per write into the
// DEK cache, evicting the ones reads need.
type sealer struct {
	prefix []byte // header and wrapped DEK, stored in front of each value
	aead   cipher.AEAD
	left   atomic.Int64 // seals this DEK may still make
}

// newSealer draws a DEK and wraps it under the active KEK.
func (r *Ring) newSealer() *sealer {
	dek := make([]byte, KeySize)
	rand.Read(dek)
	defer clear(dek) // best effort: the GCM key schedule has its own copy

	id := r.active
	header := make([]byte, 0, 3+len(id))
	header = append(header, magic, version1, byte(len(id)))
	header = append(header, id...)
	// The header is authenticated by the DEK wrap, so a value cannot be
	// relabelled with another KEK id or format version.
	prefix := r.keks[id].Seal(slices.Clone(header), nil, dek, header)
	sl := &sealer{prefix: prefix, aead: newAEAD(dek)}
	sl.left.Store(maxSealsPerDEK)
	return sl
}

// seal encrypts value for storage at key name under the active KEK.
func (r *Ring) seal(name string, value []byte) []byte {
	var sl *sealer
	for {
		sl = r.sealer.Load()
		if sl != nil && sl.left.Add(-1) >= 0 {
			break
		}
		// Used up (or the first seal): replace it. Should another seal
		// have replaced it first, the CAS fails and the loop takes theirs.
		r.sealer.CompareAndSwap(sl, r.newSealer())
	}
	out := make([]byte, 0, len(sl.prefix)+12+len(value)+16)
	out = append(out, sl.prefix...)
	return sl.aead.Seal(out, nil, value, []byte(name))
}

// open decrypts raw, read from storage at key name. Every failure wraps
// ErrDecrypt; the bounds checks come first so that no input can panic.
func (r *Ring) open(name string, raw []byte) ([]byte, error) {
	fail := func(why string, args ...any) error {
		return fmt.Errorf("crypt: value of %q: %s: %w", name, fmt.Sprintf(why, args...), ErrDecrypt)
	}
	if len(raw) < 3 {
		return nil, fail("too short")
	}
	if raw[0] != magic {
		return nil, fail("not an encrypted value")
	}
	if raw[1] != version1 {
		return nil, fail("unknown format version %d", raw[1])
	}
	idEnd := 3 + int(raw[2])
	if raw[2] == 0 || len(raw) < idEnd+wrappedDEKLen {
		return nil, fail("too short")
	}
	id := string(raw[3:idEnd])
	kek, ok := r.keks[id]
	if !ok {
		return nil, fail("unknown key id %q", id)
	}
	wrapped := raw[:idEnd+wrappedDEKLen]
	var aead cipher.AEAD
	if sl := r.sealer.Load(); sl != nil && bytes.Equal(sl.prefix, wrapped) {
		aead = sl.aead // the DEK sealing now: most values read soon after a write
	} else {
		aead = r.deks.get(wrapped)
	}
	if aead == nil {
		dek, err := kek.Open(nil, nil, raw[idEnd:idEnd+wrappedDEKLen], raw[:idEnd])
		if err != nil || len(dek) != KeySize {
			return nil, fail("key unwrap failed")
		}
		aead = newAEAD(dek)
		clear(dek)
		r.deks.put(wrapped, aead)
	}
	value, err := aead.Open(nil, nil, raw[idEnd+wrappedDEKLen:], []byte(name))
	if err != nil {
		return nil, fail("authentication failed")
	}
	if value == nil {
		// GCM opens an empty plaintext as nil, but to Update's fn nil means
		// "absent"; a stored empty value must read back as empty.
		value = []byte{}
	}
	return value, nil
}

package crypt

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
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

// seal encrypts value for storage at key name under the active KEK.
func (r *Ring) seal(name string, value []byte) []byte {
	dek := make([]byte, KeySize)
	rand.Read(dek)
	defer clear(dek) // best effort: the GCM key schedule has its own copy

	id := r.active
	out := make([]byte, 0, 3+len(id)+wrappedDEKLen+12+len(value)+16)
	out = append(out, magic, version1, byte(len(id)))
	out = append(out, id...)
	// The header is authenticated by the DEK wrap, so a value cannot be
	// relabelled with another KEK id or format version.
	header := slices.Clone(out)
	out = r.keks[id].Seal(out, nil, dek, header)
	// Cached under the bytes open will look it up by: a value is usually
	// read soon after it is written.
	aead := newAEAD(dek)
	r.deks.put(out, aead)
	return aead.Seal(out, nil, value, []byte(name))
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
	aead := r.deks.get(wrapped)
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

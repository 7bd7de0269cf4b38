// Package crypt encrypts every value of a kv.Store at rest with envelope
// encryption, as a decorator: Wrap(store, ring) is itself a kv.Store, and
// callers above it never see ciphertext.
//
// Values are sealed with AES-256-GCM under random 256-bit data-encryption
// keys (DEKs), a fresh DEK for every 2^20 values sealed (drawing one per
// value cost a key schedule and a KEK wrap on every write), using the
// value's kv key name as additional authenticated data, so a ciphertext
// copied to another key fails to open instead of serving one secret under
// another name. Each stored value carries its DEK, wrapped (AES-256-GCM) by
// a key-encryption key (KEK) from a Ring, and the KEK's id. A Ring has one
// active KEK, used for new writes, and any number of older ones that can
// still read: rotating a KEK is adding a new active one while keeping the
// old, and values move to the new KEK as they are rewritten (Put, Create or
// Update).
//
// Stored value, format version 1:
//
//	magic      1 byte   0xC5
//	version    1 byte   0x01
//	idLen      1 byte   length of the KEK id, 1..255
//	id         idLen bytes
//	wrappedDEK 60 bytes  nonce(12) || AES-GCM(KEK, DEK, ad = the bytes above) || tag(16)
//	sealed     rest      nonce(12) || AES-GCM(DEK, value, ad = kv key name) || tag(16)
//
// The header is versioned so that the format, like the KEK, can change
// without rewriting old values; the KEK authenticates the header, so a value
// cannot be relabelled with another id or version. Nonces are random, and
// the random-nonce limit of AES-GCM is about 2^32 messages per key: a DEK
// seals at most 2^20 values (the chance of a repeated nonce stays below
// 2^-56), and a KEK wraps one DEK per 2^20 writes and per process start, far
// below its own limit.
//
// Any value that does not open (unknown KEK id, unknown format, truncated or
// tampered bytes, or moved to another key) yields an error wrapping
// ErrDecrypt; crypt never panics on stored bytes. What the format does not
// prevent is rollback: someone who can write the raw store can put back an
// older ciphertext of the same key, which still opens.
package crypt

// Package crypt encrypts every value of a kv.Store at rest with envelope
// encryption, as a decorator: Wrap(store, ring) is itself a kv.Store, and
// callers above it never see ciphertext.
//
// Each value gets a fresh random 256-bit data-encryption key (DEK). The DEK
// seals the value with AES-256-GCM, using the value's kv key name as
// additional authenticated data, so a ciphertext copied to another key fails
// to open instead of serving one secret under another name. The DEK itself is
// wrapped (AES-256-GCM) by a key-encryption key (KEK) from a Ring, and the
// KEK's id is stored with the value. A Ring has one active KEK, used for new
// writes, and any number of older ones that can still read: rotating a KEK
// is adding a new active one while keeping the old, and values move to the
// new KEK as they are rewritten (Put, Create or Update).
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
// cannot be relabelled with another id or version. Nonces are random. A DEK
// seals one value, so its nonce never repeats; a KEK wraps one DEK per write,
// so it must be rotated before about 2^32 writes, the random-nonce limit of
// AES-GCM.
//
// Any value that does not open (unknown KEK id, unknown format, truncated or
// tampered bytes, or moved to another key) yields an error wrapping
// ErrDecrypt; crypt never panics on stored bytes. What the format does not
// prevent is rollback: someone who can write the raw store can put back an
// older ciphertext of the same key, which still opens.
package crypt

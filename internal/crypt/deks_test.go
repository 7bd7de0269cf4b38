package crypt

import (
	"bytes"
	"fmt"
	"testing"
)

// TestDEKCacheBounded: the DEK cache never holds more than maxDEKs, and
// values whose DEK was evicted still open (through the unwrap).
func TestDEKCacheBounded(t *testing.T) {
	r := NewRandomRing()
	var sealed [][]byte
	for i := range maxDEKs + 100 {
		sealed = append(sealed, r.seal(fmt.Sprint(i), []byte{byte(i)}))
	}
	if n := len(r.deks.m); n > maxDEKs {
		t.Fatalf("DEK cache holds %d, want at most %d", n, maxDEKs)
	}
	for i, raw := range sealed {
		v, err := r.open(fmt.Sprint(i), raw)
		if err != nil || !bytes.Equal(v, []byte{byte(i)}) {
			t.Fatalf("open %d = %v, %v", i, v, err)
		}
	}
}

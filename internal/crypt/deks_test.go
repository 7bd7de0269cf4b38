package crypt

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// TestDEKCacheBounded: the DEK cache never holds more than maxDEKs, and
// values whose DEK was evicted still open (through the unwrap).
func TestDEKCacheBounded(t *testing.T) {
	r := NewRandomRing()
	var sealed [][]byte
	for i := range maxDEKs + 100 {
		r.sealer.Store(nil) // a DEK of its own for every value
		sealed = append(sealed, r.seal(fmt.Sprint(i), []byte{byte(i)}))
	}
	for i, raw := range sealed {
		v, err := r.open(fmt.Sprint(i), raw)
		if err != nil || !bytes.Equal(v, []byte{byte(i)}) {
			t.Fatalf("open %d = %v, %v", i, v, err)
		}
	}
	if n := len(r.deks.m); n > maxDEKs {
		t.Fatalf("DEK cache holds %d, want at most %d", n, maxDEKs)
	}
}

// TestSealerRotates: values share a DEK until it has sealed its quota,
// then a fresh one takes over, also under concurrent seals, and every value
// opens whichever DEK sealed it.
func TestSealerRotates(t *testing.T) {
	r := NewRandomRing()
	prefix := func(raw []byte) string { return string(raw[:3+len(r.active)+wrappedDEKLen]) }
	a, b := r.seal("a", []byte("1")), r.seal("b", []byte("2"))
	if prefix(a) != prefix(b) {
		t.Fatalf("two seals in a row used different DEKs")
	}
	const writers, each, quota = 8, 50, 7
	r.sealer.Load().left.Store(quota)
	var mu sync.Mutex
	sealed := map[string][]byte{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%d/%d", w, i)
				raw := r.seal(name, []byte(name))
				mu.Lock()
				sealed[name] = raw
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	perDEK := map[string]int{}
	for name, raw := range sealed {
		perDEK[prefix(raw)]++
		if v, err := r.open(name, raw); err != nil || string(v) != name {
			t.Fatalf("open %s = %q, %v", name, v, err)
		}
	}
	if perDEK[prefix(a)] > quota {
		t.Errorf("the first DEK sealed %d more values, want at most its quota %d", perDEK[prefix(a)], quota)
	}
	if len(perDEK) < 2 {
		t.Errorf("%d values under %d DEKs: the used-up DEK was not replaced", writers*each, len(perDEK))
	}
	r.sealer.Store(nil) // a fresh sealer: a and b open through the cache or the unwrap
	for name, raw := range map[string][]byte{"a": a, "b": b} {
		if _, err := r.open(name, raw); err != nil {
			t.Errorf("open %s after rotation: %v", name, err)
		}
	}
}

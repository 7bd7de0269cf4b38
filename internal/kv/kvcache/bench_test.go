package kvcache_test

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvcache"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
)

// BenchmarkGet reads one 1 KiB value through the encrypting layer, then
// through the cache above it (a hit: a shard lookup and a copy).
func BenchmarkGet(b *testing.B) {
	for _, bc := range []struct {
		name   string
		cached bool
	}{{"crypt", false}, {"cached", true}} {
		b.Run(bc.name, func(b *testing.B) {
			var s kv.Store = crypt.Wrap(memkv.New(), crypt.NewRandomRing())
			if bc.cached {
				s = kvcache.New(s, kvcache.Options{})
			}
			defer s.Close()
			if err := s.Put(b.Context(), "bench/key", make([]byte, 1024)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Get(b.Context(), "bench/key"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

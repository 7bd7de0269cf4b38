package identity

import (
	"testing"
	"time"
)

func BenchmarkSign(b *testing.B) {
	ks, err := NewKeySet()
	if err != nil {
		b.Fatal(err)
	}
	c := validClaims(time.Now())
	for b.Loop() {
		if _, err := ks.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify measures the full verification (cache off) and a
// verified-token cache hit.
func BenchmarkVerify(b *testing.B) {
	ks, err := NewKeySet()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	raw, _ := ks.Sign(validClaims(now))
	aud := func(string) bool { return true }
	for _, bc := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			v := &Verifier{Keys: ks, TenantID: testTenant, Now: func() time.Time { return now }, CacheSize: bc.size}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(raw, aud); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

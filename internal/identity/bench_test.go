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

func BenchmarkVerify(b *testing.B) {
	ks, err := NewKeySet()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	raw, _ := ks.Sign(validClaims(now))
	v := &Verifier{Keys: ks, TenantID: testTenant, Now: func() time.Time { return now }}
	aud := func(string) bool { return true }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(raw, aud); err != nil {
			b.Fatal(err)
		}
	}
}

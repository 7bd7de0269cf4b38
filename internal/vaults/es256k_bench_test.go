package vaults

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer/internal/keys"
)

// BenchmarkKeyOperationES256K is BenchmarkKeyOperation for a P-256K key:
// ES256K sign and verify through the key service.
func BenchmarkKeyOperationES256K(b *testing.B) {
	s, v := keyService(b, true)
	ctx := context.Background()
	if _, _, err := s.CreateKey(ctx, v, "k1", CreateKeyParams{Kty: keys.EC, Crv: keys.P256K}); err != nil {
		b.Fatal(err)
	}
	digest := keys.Digest(keys.ES256K, []byte("x"))
	sig, err := s.KeyOperation(ctx, v, "k1", "", KeyOpParams{Op: keys.OpSign, Alg: keys.ES256K, Digest: digest})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    KeyOpParams
	}{
		{"sign ES256K", KeyOpParams{Op: keys.OpSign, Alg: keys.ES256K, Digest: digest}},
		{"verify ES256K", KeyOpParams{Op: keys.OpVerify, Alg: keys.ES256K, Digest: digest, Value: sig.Value}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.KeyOperation(ctx, v, "k1", "", c.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package vaults

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/kv/boltkv"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

// The storage benchmarks (BENCHMARKS.md, "Storage") run the secret service
// on the encrypted store, on bbolt (and memkv where it says so). Large
// fixtures are built once per benchmark through the store API on memkv
// and then copied into a bbolt file in one transaction: building them
// write by write on bbolt would take minutes of fsyncs.

type benchEnv struct {
	s *Service
	v *model.Vault
}

// openBolt opens a bbolt-backed service on path with ring.
func openBolt(b *testing.B, path string, ring *crypt.Ring) benchEnv {
	b.Helper()
	db, err := boltkv.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	st := store.New(crypt.Wrap(db, ring))
	b.Cleanup(func() { st.KV().Close() })
	v, err := st.GetVault(context.Background(), "bench")
	if err != nil {
		v = &model.Vault{Name: "bench", EnableSoftDelete: true, SoftDeleteRetentionInDays: 90}
		if err := st.CreateVault(context.Background(), v); err != nil {
			b.Fatal(err)
		}
	}
	return benchEnv{s: &Service{Store: st, Now: time.Now}, v: v}
}

// boltFixture fills a memkv through fill, copies its raw (encrypted) pairs
// into a new bbolt file in one transaction and returns the file's path.
func boltFixture(b *testing.B, ring *crypt.Ring, fill func(st *store.Store, v *model.Vault)) string {
	b.Helper()
	raw := memkv.New()
	st := store.New(crypt.Wrap(raw, ring))
	v := &model.Vault{Name: "bench", EnableSoftDelete: true, SoftDeleteRetentionInDays: 90}
	if err := st.CreateVault(context.Background(), v); err != nil {
		b.Fatal(err)
	}
	fill(st, v)
	path := filepath.Join(b.TempDir(), "fixture.db")
	db, err := boltkv.Open(path) // lays out the schema
	if err != nil {
		b.Fatal(err)
	}
	db.Close()
	pairs, err := raw.List(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	bdb, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	err = bdb.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket([]byte("kv"))
		for _, p := range pairs {
			if err := bk.Put([]byte(p.Key), p.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkStorageGet: GET latest of a secret with a 1 KiB value.
func BenchmarkStorageGet(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Service, v *model.Vault) {
		ctx := context.Background()
		value := "a 1 KiB value " + string(make([]byte, 1000))
		if _, _, err := s.SetSecret(ctx, v, "db", SetParams{Value: &value}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.GetSecret(ctx, v, "db", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStoragePut: one SET at a time, each to a new name (bbolt: one
// commit and fsync each, nothing to share it with).
func BenchmarkStoragePut(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *Service, v *model.Vault) {
		ctx := context.Background()
		value := "value"
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.SetSecret(ctx, v, "p"+strconv.Itoa(i), SetParams{Value: &value}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkStorageSet32: durable SETs from 32 concurrent writers on bbolt,
// each SET to its own name; reports ops/s.
func BenchmarkStorageSet32(b *testing.B) {
	env := openBolt(b, filepath.Join(b.TempDir(), "set32.db"), crypt.NewRandomRing())
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(max(1, 32/testingProcs()))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		value := "value"
		for pb.Next() {
			name := "w" + strconv.FormatInt(n.Add(1), 10)
			if _, _, err := env.s.SetSecret(ctx, env.v, name, SetParams{Value: &value}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

// BenchmarkStorageListFirstPage: the first page (25) of a vault with 100
// and with 100k secrets, on bbolt.
func BenchmarkStorageListFirstPage(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		ring := crypt.NewRandomRing()
		path := boltFixture(b, ring, func(st *store.Store, v *model.Vault) {
			ctx := context.Background()
			for i := range n {
				name := fmt.Sprintf("secret-%06d", i)
				id := fmt.Sprintf("%032x", i+1)
				err := st.UpdateSecret(ctx, v.Name, name, func(sec *model.Secret, _ bool) (bool, error) {
					sec.Name = name
					sec.Versions = []model.SecretVersion{{Version: id, Enabled: true, Created: 1, Updated: 1}}
					return true, nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("secrets="+strconv.Itoa(n), func(b *testing.B) {
			env := openBolt(b, path, ring)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				got, err := firstPage(ctx, env.s, env.v)
				if err != nil || got != 25 {
					b.Fatalf("first page = %d, %v", got, err)
				}
			}
		})
	}
}

// BenchmarkStorageGetLatest: GET latest of a secret with 1 and with 10k
// versions, on bbolt.
func BenchmarkStorageGetLatest(b *testing.B) {
	for _, n := range []int{1, 10_000} {
		ring := crypt.NewRandomRing()
		path := boltFixture(b, ring, func(st *store.Store, v *model.Vault) {
			ctx := context.Background()
			vers := make([]model.SecretVersion, n)
			for i := range vers {
				vers[i] = model.SecretVersion{Version: fmt.Sprintf("%032x", i+1), Enabled: true, Created: int64(i), Updated: int64(i),
					Tags: map[string]string{"env": "bench", "n": strconv.Itoa(i)}}
			}
			err := st.UpdateSecret(ctx, v.Name, "big", func(sec *model.Secret, _ bool) (bool, error) {
				sec.Name, sec.Versions = "big", vers
				return true, nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := st.PutSecretValue(ctx, v.Name, "big", vers[n-1].Version, "the latest value"); err != nil {
				b.Fatal(err)
			}
		})
		b.Run("versions="+strconv.Itoa(n), func(b *testing.B) {
			env := openBolt(b, path, ring)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, ver, err := env.s.GetSecret(ctx, env.v, "big", ""); err != nil || ver.Value != "the latest value" {
					b.Fatalf("GetSecret = %v", err)
				}
			}
		})
	}
}

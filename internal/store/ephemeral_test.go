package store_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/store"
)

// TestEphemeral: records read back until they expire, update and take
// atomically (one taker of many wins), sweep removes only expired ones,
// and the value is encrypted in the backend like every record.
func TestEphemeral(t *testing.T) {
	ctx := context.Background()
	raw := memkv.New()
	s := store.New(crypt.Wrap(raw, crypt.NewRandomRing()))
	now := time.Unix(1_800_000_000, 0)
	later := now.Add(time.Hour)

	if err := s.CreateEphemeral(ctx, "code", "ab12", []byte("plaintext-grant"), later); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEphemeral(ctx, "code", "AB12", []byte("x"), later); errs.KindOf(err) != errs.Exist {
		t.Errorf("second create of an id: %v, want Exist", err)
	}
	pairs, _ := raw.List(ctx, "")
	for _, p := range pairs {
		if bytes.Contains(p.Value, []byte("plaintext-grant")) {
			t.Errorf("%s is stored in the clear", p.Key)
		}
	}

	tests := []struct {
		name string
		at   time.Time
		want string
		kind errs.Kind
	}{
		{"live", now, "plaintext-grant", 0},
		{"just before expiry", later.Add(-time.Second), "plaintext-grant", 0},
		{"at expiry", later, "", errs.NotExist},
		{"unknown id", now, "", errs.NotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := "ab12"
			if tc.name == "unknown id" {
				id = "ffff"
			}
			v, err := s.GetEphemeral(ctx, "code", id, tc.at)
			if string(v) != tc.want || errs.KindOf(err) != tc.kind && !(tc.kind == 0 && err == nil) {
				t.Errorf("Get = %q, %v; want %q, kind %v", v, err, tc.want, tc.kind)
			}
		})
	}

	if err := s.UpdateEphemeral(ctx, "code", "ab12", now, func(v []byte) ([]byte, error) { return append(v, '!'), nil }); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetEphemeral(ctx, "code", "ab12", now); string(v) != "plaintext-grant!" {
		t.Errorf("after update: %q", v)
	}
	if err := s.UpdateEphemeral(ctx, "code", "ab12", later, func(v []byte) ([]byte, error) { return v, nil }); errs.KindOf(err) != errs.NotExist {
		t.Errorf("update of an expired record: %v", err)
	}

	// Many takers at once: exactly one gets the record.
	if err := s.PutEphemeral(ctx, "refresh", "r1", []byte("rt"), later); err != nil {
		t.Fatal(err)
	}
	var won atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := s.TakeEphemeral(ctx, "refresh", "r1", now); err == nil && string(v) == "rt" {
				won.Add(1)
			} else if errs.KindOf(err) != errs.NotExist {
				t.Errorf("take: %v", err)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Errorf("%d takers got the record, want 1", won.Load())
	}

	// Sweep: the expired record goes, the live one stays.
	_ = s.PutEphemeral(ctx, "refresh", "old", []byte("o"), now.Add(-time.Minute))
	_ = s.PutEphemeral(ctx, "refresh", "new", []byte("n"), later)
	if live, err := s.SweepEphemeral(ctx, "refresh", now); err != nil || live != 1 {
		t.Errorf("sweep: %d live, %v", live, err)
	}
	if _, err := raw.Get(ctx, "ephemeral/refresh/old"); err == nil {
		t.Error("the expired record survived the sweep")
	}
	if err := s.DeleteEphemeral(ctx, "refresh", "new"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEphemeral(ctx, "refresh", "new"); err != nil {
		t.Errorf("deleting an absent record: %v", err)
	}
}

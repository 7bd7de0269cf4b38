package store

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
)

// TestOperations: a recorded operation is found in its subscription (in
// any letter case) until it expires, never in another subscription, and
// expired ones are removed by DeleteExpiredOperations.
func TestOperations(t *testing.T) {
	ctx := context.Background()
	s := New(memkv.New())
	now := time.Unix(10_000, 0)
	for _, op := range []*Operation{
		{ID: "Live1", SubscriptionID: "SUB-a", Status: "Succeeded", Expires: now.Add(time.Hour)},
		{ID: "old", SubscriptionID: "sub-a", Status: "Succeeded", Expires: now.Add(-time.Second)},
		{ID: "other", SubscriptionID: "sub-b", Status: "Succeeded", Expires: now.Add(time.Hour)},
	} {
		if err := s.PutOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		sub, id string
		found   bool
	}{
		{"sub-a", "live1", true},
		{"Sub-A", "LIVE1", true},
		{"sub-b", "live1", false},
		{"sub-a", "old", false},
		{"sub-a", "other", false},
		{"sub-a", "missing", false},
	}
	for _, tt := range tests {
		op, err := s.GetOperation(ctx, tt.sub, tt.id, now)
		switch {
		case tt.found && (err != nil || op.Status != "Succeeded"):
			t.Errorf("GetOperation(%s, %s) = %+v, %v", tt.sub, tt.id, op, err)
		case !tt.found && errs.KindOf(err) != errs.NotExist:
			t.Errorf("GetOperation(%s, %s) = %+v, %v, want NotExist", tt.sub, tt.id, op, err)
		}
	}
	if n, err := s.DeleteExpiredOperations(ctx, now); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredOperations = %d, %v, want 1", n, err)
	}
	if n, err := s.DeleteExpiredOperations(ctx, now.Add(2*time.Hour)); err != nil || n != 2 {
		t.Fatalf("DeleteExpiredOperations later = %d, %v, want 2", n, err)
	}
}

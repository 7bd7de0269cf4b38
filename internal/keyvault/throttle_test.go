package keyvault

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	th := &Throttle{Rate: 2, Burst: 3, Now: func() time.Time { return now }}
	for i := range 3 {
		if ok, _ := th.Allow("kv1"); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := th.Allow("kv1")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("fourth request = %v, wait %v; want refused with a wait under 1s", ok, wait)
	}
	if ok, _ := th.Allow("KV2"); !ok {
		t.Error("another vault shares the bucket")
	}
	now = now.Add(600 * time.Millisecond) // 1.2 tokens back
	if ok, _ := th.Allow("KV1"); !ok {
		t.Error("no token after refill (names are case-insensitive)")
	}
	if ok, _ := th.Allow("kv1"); ok {
		t.Error("refused requests or refill counted twice")
	}
	var none *Throttle
	if ok, _ := none.Allow("x"); !ok {
		t.Error("nil throttle refused")
	}
}

// TestThrottleShared: with n replicas sharing the limit each admits the
// burst and the rate divided by n (at least one request of burst), and
// a bucket fuller than the new share is cut to it.
func TestThrottleShared(t *testing.T) {
	tests := []struct {
		replicas    int
		burst       float64
		admitted    int // of a burst of requests at one instant
		refilled    int // after one more second
		cutExisting bool
	}{
		{replicas: 0, burst: 12, admitted: 12, refilled: 6},
		{replicas: 1, burst: 12, admitted: 12, refilled: 6},
		{replicas: 2, burst: 12, admitted: 6, refilled: 3},
		{replicas: 3, burst: 12, admitted: 4, refilled: 2},
		{replicas: 3, burst: 12, admitted: 4, refilled: 2, cutExisting: true},
		{replicas: 24, burst: 12, admitted: 1, refilled: 0},
	}
	for _, tt := range tests {
		now := time.Unix(1000, 0)
		th := &Throttle{Rate: 6, Burst: tt.burst, Now: func() time.Time { return now }}
		if tt.cutExisting {
			th.Allow("kv") // the bucket exists, full, before the share changes
		}
		th.SetReplicas(tt.replicas)
		if got := th.Replicas(); got != max(tt.replicas, 1) {
			t.Errorf("replicas %d: Replicas() = %d", tt.replicas, got)
		}
		count := func() int {
			n := 0
			for range 100 {
				if ok, _ := th.Allow("kv"); ok {
					n++
				}
			}
			return n
		}
		// An existing bucket held 11 tokens: cut to the share, 4.
		if admitted := count(); admitted != tt.admitted {
			t.Errorf("replicas %d (existing bucket %v): admitted %d at once, want %d", tt.replicas, tt.cutExisting, admitted, tt.admitted)
		}
		now = now.Add(time.Second)
		if got := count(); got != tt.refilled {
			t.Errorf("replicas %d: admitted %d after 1 s, want %d", tt.replicas, got, tt.refilled)
		}
	}
	var none *Throttle
	none.SetReplicas(3)
	if none.Replicas() != 1 {
		t.Error("nil throttle has replicas")
	}
}

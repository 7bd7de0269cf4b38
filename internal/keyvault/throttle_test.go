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

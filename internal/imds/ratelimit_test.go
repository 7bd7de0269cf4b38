package imds

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	b := newBucket(5)
	take := func(at time.Duration, want bool) {
		t.Helper()
		if got := b.take(t0.Add(at)); got != want {
			t.Errorf("take(t0+%v) = %v, want %v", at, got, want)
		}
	}
	for range 5 {
		take(0, true)
	}
	take(0, false)
	take(100*time.Millisecond, false) // half a token
	take(200*time.Millisecond, true)  // one token after 200 ms
	take(200*time.Millisecond, false)
	take(-time.Hour, false) // a clock going back refills nothing
	take(10*time.Second, true)
	for range 4 {
		take(10*time.Second, true) // refilled to the burst of 5, no more
	}
	take(10*time.Second, false)
}

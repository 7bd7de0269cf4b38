package kvcache_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvcache"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
)

// fakeFeed is a Coherence the test drives by hand: it stands for the
// other processes' writes (invalidate), a broken watch (reset) and the
// barrier (syncErr).
type fakeFeed struct {
	started      chan struct{}
	invalidate   func(string)
	reset, ready func()
	syncErr      atomic.Pointer[error]
}

func (f *fakeFeed) Watch(ctx context.Context, invalidate func(string), reset, ready func()) {
	f.invalidate, f.reset, f.ready = invalidate, reset, ready
	close(f.started)
	<-ctx.Done()
}

func (f *fakeFeed) Sync(context.Context) error {
	if err := f.syncErr.Load(); err != nil {
		return *err
	}
	return nil
}

// gated blocks the inner store's Gets while gate is set, so a fill can be
// held in flight.
type gated struct {
	kv.Store
	gate chan chan struct{}
}

func (g *gated) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := g.Store.Get(ctx, key)
	select {
	case wait := <-g.gate:
		<-wait
	default:
	}
	return b, err
}

func TestCoherence(t *testing.T) {
	ctx := t.Context()
	shared := memkv.New() // what the other processes write too
	inner := &gated{Store: shared, gate: make(chan chan struct{}, 1)}
	feed := &fakeFeed{started: make(chan struct{})}
	c := kvcache.New(inner, kvcache.Options{Coherence: feed})
	defer c.Close()
	<-feed.started
	other := func(v string) {
		if err := shared.Put(ctx, "k", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	read := func(step, want string) {
		t.Helper()
		if v, err := c.Get(ctx, "k"); err != nil || string(v) != want {
			t.Fatalf("%s: Get = %q, %v, want %q", step, v, err, want)
		}
	}
	other("v1")
	read("before ready", "v1")
	if c.Len() != 0 {
		t.Fatal("cached before the feed was ready")
	}
	feed.ready()
	read("fill", "v1")
	read("hit", "v1")
	if c.Stats().Hits.Load() != 1 {
		t.Fatalf("hits = %d, want 1", c.Stats().Hits.Load())
	}
	// A change the feed has reported is never served old.
	other("v2")
	feed.invalidate("k")
	read("after the feed reported a change", "v2")
	// A barrier that fails sends the read to the store.
	other("v3")
	noBarrier := errors.New("no barrier")
	feed.syncErr.Store(&noBarrier)
	read("barrier failed", "v3")
	if c.Stats().Bypasses.Load() != 1 {
		t.Errorf("bypasses = %d, want 1", c.Stats().Bypasses.Load())
	}
	feed.syncErr.Store(nil)
	feed.invalidate("k")
	// In a session, one barrier serves every later hit; a new session
	// (the next request) needs its own.
	read("fill for the session", "v3")
	sess := kvcache.WithSession(ctx)
	syncs := c.Stats().Syncs.Load()
	for range 3 {
		if v, err := c.Get(sess, "k"); err != nil || string(v) != "v3" {
			t.Fatalf("Get in a session = %q, %v", v, err)
		}
	}
	if n := c.Stats().Syncs.Load() - syncs; n != 1 {
		t.Errorf("barriers for 3 hits in one session = %d, want 1", n)
	}
	if _, err := c.Get(kvcache.WithSession(ctx), "k"); err != nil || c.Stats().Syncs.Load()-syncs != 2 {
		t.Errorf("a new session did not take its own barrier (%d in all), %v", c.Stats().Syncs.Load()-syncs, err)
	}
	// A reset empties the cache and caches nothing until ready.
	read("fill again", "v3")
	feed.reset()
	if c.Len() != 0 {
		t.Fatalf("Len after reset = %d, want 0", c.Len())
	}
	other("v4")
	read("after reset", "v4")
	if c.Len() != 0 {
		t.Fatal("filled between reset and ready")
	}
	feed.ready()
	// A fill that read before a reset is not kept after it: the change
	// it may have missed was never reported.
	wait := make(chan struct{})
	inner.gate <- wait
	done := make(chan struct{})
	go func() {
		defer close(done)
		read("fill across a reset", "v4")
	}()
	for len(inner.gate) != 0 {
		runtime.Gosched() // until the fill has read and is held
	}
	feed.reset()
	feed.ready()
	close(wait)
	<-done
	if c.Len() != 0 {
		t.Error("a fill that read before a reset was kept")
	}
}

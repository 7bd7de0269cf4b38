package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvfault"
)

// TestStartWaitsForTheStore: a store that is unavailable when Coffer
// starts (etcd still electing) delays the start instead of failing it;
// one that stays unavailable fails it once the caller gives up; other
// store errors fail it at once.
func TestStartWaitsForTheStore(t *testing.T) {
	t.Run("unavailable for a while", func(t *testing.T) {
		var fault *kvfault.Store
		wrapped := make(chan struct{})
		go func() {
			<-wrapped
			time.Sleep(time.Second)
			fault.Clear()
		}()
		s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", InMemory: true,
			WrapStore: func(st kv.Store) kv.Store {
				fault = kvfault.Wrap(st)
				fault.Inject(kvfault.Rule{Err: kvfault.ErrUnavailable})
				close(wrapped)
				return fault
			}})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		defer s.Close()
		if fault.Hits() == 0 {
			t.Error("the store never failed: the wait was not exercised")
		}
	})
	t.Run("unavailable until the caller gives up", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		_, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", InMemory: true,
			WrapStore: func(st kv.Store) kv.Store {
				f := kvfault.Wrap(st)
				f.Inject(kvfault.Rule{Err: kvfault.ErrUnavailable})
				return f
			}})
		if err == nil {
			t.Fatal("Start succeeded on a store that never answered")
		}
		if ctx.Err() == nil {
			t.Errorf("Start gave up before its context ended: %v", err)
		}
	})
	t.Run("other errors fail at once", func(t *testing.T) {
		var fault *kvfault.Store
		_, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", InMemory: true,
			WrapStore: func(st kv.Store) kv.Store {
				fault = kvfault.Wrap(st)
				fault.Inject(kvfault.Rule{}) // ErrInjected: a broken disk
				return fault
			}})
		if err == nil {
			t.Fatal("Start succeeded on a broken store")
		}
		if n := fault.Hits(); n != 1 {
			t.Errorf("a broken store was tried %d times, want 1", n)
		}
	})
}

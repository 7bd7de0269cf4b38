package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestCompactionParse(t *testing.T) {
	tests := []struct {
		c        Compaction
		off      bool
		interval time.Duration
		keep     int
		revs     int64
		bad      bool
	}{
		{c: Compaction{}, interval: 6 * time.Minute, keep: 10},
		{c: Compaction{Mode: "periodic", Retention: "1h"}, interval: 6 * time.Minute, keep: 10},
		{c: Compaction{Mode: "periodic", Retention: "2"}, interval: 12 * time.Minute, keep: 10}, // bare number: hours
		{c: Compaction{Mode: "periodic", Retention: "72h"}, interval: time.Hour, keep: 72},      // sampled at most hourly
		{c: Compaction{Mode: "periodic", Retention: "1s"}, interval: 100 * time.Millisecond, keep: 10},
		{c: Compaction{Mode: "periodic", Retention: "0"}, off: true},
		{c: Compaction{Mode: "revision", Retention: "1000"}, interval: RevisionInterval, revs: 1000},
		{c: Compaction{Mode: "revision", Retention: "10", Interval: time.Second}, interval: time.Second, revs: 10},
		{c: Compaction{Mode: "revision", Retention: "0"}, off: true},
		{c: Compaction{Mode: "revision", Retention: "1h"}, bad: true},
		{c: Compaction{Mode: "periodic", Retention: "-1h"}, bad: true},
		{c: Compaction{Mode: "periodic", Retention: "soon"}, bad: true},
		{c: Compaction{Mode: "hourly", Retention: "1h"}, bad: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.c.Mode, tt.c.Retention), func(t *testing.T) {
			p, err := tt.c.parse()
			if tt.bad {
				if err == nil || tt.c.Validate() == nil {
					t.Fatalf("parse = %+v, want an error", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.off {
				if p != nil {
					t.Fatalf("parse = %+v, want off", p)
				}
				return
			}
			if p == nil || p.interval != tt.interval || p.keep != tt.keep || p.revs != tt.revs {
				t.Fatalf("parse = %+v, want interval %v keep %d revs %d", p, tt.interval, tt.keep, tt.revs)
			}
		})
	}
}

// compacted reports whether rev is compacted away on the cluster.
func compacted(t *testing.T, cli *clientv3.Client, rev int64) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := cli.Get(ctx, "any", clientv3.WithRev(rev))
	if err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("get at revision %d: %v", rev, err)
	}
	return err != nil
}

// TestAutoCompact runs both modes against the embedded etcd: history
// older than the retention goes, history within it stays.
func TestAutoCompact(t *testing.T) {
	tests := []struct {
		name string
		c    Compaction
	}{
		{"revision", Compaction{Mode: CompactRevision, Retention: "20", Interval: 50 * time.Millisecond}},
		{"periodic", Compaction{Mode: CompactPeriodic, Retention: "1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t).(*Store)
			defer s.Close()
			ctx := t.Context()
			for i := range 50 {
				if err := s.Put(ctx, "k", fmt.Appendf(nil, "v%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			old, err := s.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if compacted(t, s.cli, old-1) {
				t.Fatalf("revision %d compacted before AutoCompact ran", old-1)
			}
			run, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.AutoCompact(run, tt.c, nil) }()
			// Periodic with 1 s keeps the revisions of the last second:
			// old is compacted once a sample taken after it is a second
			// old. Revision mode keeps the last 20.
			deadline := time.Now().Add(10 * time.Second)
			for !compacted(t, s.cli, old-1) {
				if time.Now().After(deadline) {
					t.Fatalf("revision %d not compacted after 10 s", old-1)
				}
				// Keep writing, as a server does; revision mode needs
				// revisions past old+20.
				if err := s.Put(ctx, "k", []byte("more")); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			cur, err := s.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if compacted(t, s.cli, cur) {
				t.Errorf("the current revision %d is compacted", cur)
			}
			if got, err := s.Get(ctx, "k"); err != nil || string(got) != "more" {
				t.Errorf("after compaction k = %q, %v", got, err)
			}
			// Compacting again to a compacted revision is no error.
			if err := s.Compact(ctx, old-1); err != nil {
				t.Errorf("compacting to a compacted revision: %v", err)
			}
		})
	}
}

package app

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/coffer-dev/coffer/internal/kv/etcdkv"
)

// electionTTL is the lease of a replica's candidacy, in seconds: when the
// replica running the background jobs dies without resigning, another
// takes over after at most this long.
const electionTTL = 5

// background runs the background jobs (the soft-delete purge and, on
// etcd, compaction). On etcd,
// where several replicas share the store, only the one elected through
// etcd's concurrency election runs them, so the purge does not read
// everything on every replica; the others wait their turn. On bbolt or
// in memory the single server runs them.
func (s *Server) background(ctx context.Context) {
	if s.etcd == nil {
		s.leading.Store(true)
		s.purgeLoop(ctx)
		return
	}
	// Outside the data namespace, so listings of the data never see it.
	pfx := strings.TrimSuffix(cmp.Or(s.cfg.EtcdPrefix, "coffer/"), "/") + ".elections/background/"
	host, _ := os.Hostname()
	me := fmt.Sprintf("%s pid %d %s", host, os.Getpid(), s.Addr)
	for ctx.Err() == nil {
		if err := s.leadOnce(ctx, pfx, me); err != nil && ctx.Err() == nil {
			s.logger.Warn("background-job election", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// leadOnce campaigns with a fresh session and, once elected, runs the
// jobs until ctx ends or the session's lease is lost (etcd unreachable
// longer than its TTL: another replica may be leading by then).
func (s *Server) leadOnce(ctx context.Context, pfx, me string) error {
	sess, err := concurrency.NewSession(s.etcd.Client(), concurrency.WithTTL(electionTTL), concurrency.WithContext(ctx))
	if err != nil {
		return err
	}
	defer sess.Close() // revokes the lease: a successor is elected at once
	e := concurrency.NewElection(sess, pfx)
	if err := e.Campaign(ctx, me); err != nil {
		return err
	}
	s.logger.Info("running background jobs (elected among the replicas)", "replica", me)
	jobs, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-sess.Done():
			s.logger.Warn("lost the background-job lease; stopping background jobs")
		case <-jobs.Done():
		}
		stop()
	}()
	s.leading.Store(true)
	compacted := make(chan struct{})
	go func() {
		defer close(compacted)
		// Validated at start (openStore); nothing to report here.
		_ = s.etcd.AutoCompact(jobs, s.cfg.EtcdCompaction, s.logger)
	}()
	s.purgeLoop(jobs)
	stop()
	<-compacted
	s.leading.Store(false)
	if ctx.Err() != nil {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = e.Resign(rctx)
	}
	return nil
}

// RunsBackgroundJobs reports whether this server runs the background
// jobs now (always true off etcd).
func (s *Server) RunsBackgroundJobs() bool { return s.leading.Load() }

// etcdStore returns the etcd backend when the store is one.
func etcdStore(raw any) *etcdkv.Store {
	e, _ := raw.(*etcdkv.Store)
	return e
}

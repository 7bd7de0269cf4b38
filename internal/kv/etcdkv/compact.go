package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// Compaction. etcd keeps every revision of every key until it is told to
// compact; Coffer overwrites secret heads, tokens' records and operations
// all the time, so without compaction the database grows with every write
// toward etcd's quota (2 GiB by default), after which the cluster refuses
// all writes. AutoCompact does what etcd's own --auto-compaction-mode and
// --auto-compaction-retention do, from the one replica elected to run
// background jobs, so an operator need not configure the cluster for it:
//
//   - periodic, retention T (a duration): every T/10 (at most every hour)
//     it notes the current revision, and compacts to the revision it noted
//     T ago. History younger than T stays readable (watches that fall
//     behind by less than T resume without reloading).
//   - revision, retention N: every RevisionInterval it compacts to the
//     current revision minus N.
//
// Compaction is cluster-wide, not limited to Coffer's prefix. Compacting
// frees space inside etcd's database file for reuse (dbSizeInUse drops);
// the file itself (dbSize) shrinks only by defragmentation, which blocks
// the member it runs on and is left to the operator (etcdctl defrag, one
// member at a time). Without defragmentation the file stays at its high
// water mark instead of growing.

// Compaction modes, etcd's names.
const (
	CompactPeriodic = "periodic"
	CompactRevision = "revision"
)

// DefaultCompactRetention is the default retention of periodic compaction.
const DefaultCompactRetention = "1h"

// RevisionInterval is how often revision-mode compaction runs (etcd's
// revision compactor runs every 5 minutes too).
const RevisionInterval = 5 * time.Minute

// Compaction configures AutoCompact.
type Compaction struct {
	// Mode is CompactPeriodic or CompactRevision.
	Mode string
	// Retention is a duration ("1h", "30m"; a bare number means hours,
	// as in etcd) for periodic, a revision count for revision. "0"
	// disables compaction.
	Retention string
	// Interval overrides how often revision mode runs (zero:
	// RevisionInterval); for tests.
	Interval time.Duration
}

// plan is a parsed Compaction: every interval, compact to the revision
// observed keep intervals ago (periodic) or to current minus revs.
type plan struct {
	interval time.Duration
	keep     int   // periodic: samples between now and the target
	revs     int64 // revision: revisions kept
}

// parse validates c; a nil plan means compaction is off.
func (c Compaction) parse() (*plan, error) {
	switch c.Mode {
	case CompactPeriodic, "":
		r := c.Retention
		if r == "" {
			r = DefaultCompactRetention
		}
		d, err := time.ParseDuration(r)
		if err != nil {
			h, nerr := strconv.ParseInt(r, 10, 64)
			if nerr != nil || h < 0 {
				return nil, fmt.Errorf("auto-compaction retention %q: want a duration (1h, 30m) in periodic mode", r)
			}
			d = time.Duration(h) * time.Hour
		}
		if d < 0 {
			return nil, fmt.Errorf("auto-compaction retention %q is negative", r)
		}
		if d == 0 {
			return nil, nil
		}
		// etcd: sample every retention/10, but at least hourly.
		iv := min(d/10, time.Hour)
		if iv <= 0 {
			iv = d
		}
		return &plan{interval: iv, keep: int((d + iv - 1) / iv)}, nil
	case CompactRevision:
		n, err := strconv.ParseInt(c.Retention, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("auto-compaction retention %q: want a number of revisions in revision mode", c.Retention)
		}
		if n == 0 {
			return nil, nil
		}
		iv := c.Interval
		if iv <= 0 {
			iv = RevisionInterval
		}
		return &plan{interval: iv, revs: n}, nil
	}
	return nil, fmt.Errorf("auto-compaction mode %q: want periodic or revision", c.Mode)
}

// Validate reports whether c is well formed (for flag checking at start).
func (c Compaction) Validate() error {
	_, err := c.parse()
	return err
}

// AutoCompact compacts the cluster as c says until ctx ends. Run it from
// one replica at a time (the elected background-job runner): two would
// not corrupt anything, only compact twice. Failures are logged and
// retried at the next interval.
func (s *Store) AutoCompact(ctx context.Context, c Compaction, logger *slog.Logger) error {
	p, err := c.parse()
	if err != nil || p == nil {
		return err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var seen []int64 // periodic: revisions noted, oldest first
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		rev, err := s.Revision(ctx)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("etcd compaction: reading the revision", "err", err)
			}
		} else {
			target := int64(0)
			if p.revs > 0 {
				target = rev - p.revs
			} else {
				seen = append(seen, rev)
				if len(seen) > p.keep {
					target = seen[0]
					seen = seen[1:]
				}
			}
			if target > 0 {
				if err := s.Compact(ctx, target); err != nil && ctx.Err() == nil {
					logger.Warn("etcd compaction", "revision", target, "err", err)
				} else if err == nil {
					logger.Debug("etcd compacted", "revision", target, "current", rev)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Compact discards the history before rev, cluster-wide. Compacting to a
// revision that is already compacted is not an error (another compactor,
// e.g. etcd's own, got there first).
func (s *Store) Compact(ctx context.Context, rev int64) error {
	err := s.do(ctx, func(ctx context.Context, _ int) error {
		_, err := s.cli.Compact(ctx, rev)
		return err
	})
	if errors.Is(err, rpctypes.ErrCompacted) {
		return nil
	}
	return err
}

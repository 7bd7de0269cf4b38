package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
)

// Ephemeral records are the short-lived state of sign-ins and portal
// sessions: authorization codes, refresh tokens, device codes, portal
// sessions. They live in the shared store, so that behind a load balancer
// any replica serves the next request of a flow another one started (a
// code issued by one replica is redeemed at another; a portal session
// opened on one is used on all), and like every record they are
// encrypted at rest by the store's kv.
//
// A record has a kind ("code", "refresh", "portal-session", …) and an id.
// Callers pass a digest of the bearer secret as the id, never the secret:
// key names are not encrypted, and a digest found in them opens nothing.
// Each record carries its expiry; an expired record reads as absent, and
// SweepEphemeral removes them.

const prefixEphemeral = "ephemeral/"

func ephemeralKey(kind, id string) string {
	return prefixEphemeral + kind + "/" + strings.ToLower(id)
}

// ephemeralRecord is the stored envelope.
type ephemeralRecord struct {
	Expires int64  `json:"exp"` // unix seconds
	Value   []byte `json:"v"`
}

func (r *ephemeralRecord) live(now time.Time) bool { return now.Unix() < r.Expires }

func encodeEphemeral(value []byte, expires time.Time) ([]byte, error) {
	return json.Marshal(ephemeralRecord{Expires: expires.Unix(), Value: value})
}

func decodeEphemeral(op errs.Op, b []byte) (*ephemeralRecord, error) {
	var r ephemeralRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	return &r, nil
}

// CreateEphemeral stores a new record; errs.Exist if the id is taken.
func (s *Store) CreateEphemeral(ctx context.Context, kind, id string, value []byte, expires time.Time) error {
	const op errs.Op = "store.CreateEphemeral"
	b, err := encodeEphemeral(value, expires)
	if err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return mapErr(op, s.kv.Create(ctx, ephemeralKey(kind, id), b))
}

// PutEphemeral stores a record, replacing any.
func (s *Store) PutEphemeral(ctx context.Context, kind, id string, value []byte, expires time.Time) error {
	const op errs.Op = "store.PutEphemeral"
	b, err := encodeEphemeral(value, expires)
	if err != nil {
		return errs.E(op, errs.Internal, err)
	}
	return mapErr(op, s.kv.Put(ctx, ephemeralKey(kind, id), b))
}

// GetEphemeral returns a live record's value; errs.NotExist if it is
// absent or expired.
func (s *Store) GetEphemeral(ctx context.Context, kind, id string, now time.Time) ([]byte, error) {
	const op errs.Op = "store.GetEphemeral"
	b, err := s.kv.Get(ctx, ephemeralKey(kind, id))
	if err != nil {
		return nil, mapErr(op, err)
	}
	r, err := decodeEphemeral(op, b)
	if err != nil {
		return nil, err
	}
	if !r.live(now) {
		return nil, errs.E(op, errs.NotExist)
	}
	return r.Value, nil
}

// errGone aborts an update of an expired record.
var errGone = errors.New("expired")

// UpdateEphemeral changes a live record atomically: fn gets its value and
// returns the new one, or nil to delete the record (its expiry is kept).
// errs.NotExist if the record is absent or expired; fn's error is returned
// as is. fn may run more than once (see kv.Store.Update).
func (s *Store) UpdateEphemeral(ctx context.Context, kind, id string, now time.Time, fn func(value []byte) ([]byte, error)) error {
	const op errs.Op = "store.UpdateEphemeral"
	err := s.kv.Update(ctx, ephemeralKey(kind, id), func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, kv.ErrNotFound
		}
		r, err := decodeEphemeral(op, old)
		if err != nil {
			return nil, err
		}
		if !r.live(now) {
			return nil, errGone
		}
		v, err := fn(r.Value)
		if err != nil || v == nil {
			return nil, err
		}
		r.Value = v
		return json.Marshal(r)
	})
	if errors.Is(err, errGone) {
		return errs.E(op, errs.NotExist)
	}
	return mapErr(op, err)
}

// TakeEphemeral returns a live record's value and deletes it, atomically:
// of concurrent takers exactly one gets it, which makes a record single
// use (a rotating refresh token). errs.NotExist if absent or expired.
func (s *Store) TakeEphemeral(ctx context.Context, kind, id string, now time.Time) ([]byte, error) {
	const op errs.Op = "store.TakeEphemeral"
	key := ephemeralKey(kind, id)
	b, err := s.kv.Get(ctx, key)
	if err != nil {
		return nil, mapErr(op, err)
	}
	// The delete is the gate: it fails for every taker but the first.
	if err := s.kv.Txn(ctx, kv.Check(key, b), kv.Delete(key)); err != nil {
		if errors.Is(err, kv.ErrConflict) || errors.Is(err, kv.ErrNotFound) {
			return nil, errs.E(op, errs.NotExist)
		}
		return nil, mapErr(op, err)
	}
	r, err := decodeEphemeral(op, b)
	if err != nil {
		return nil, err
	}
	if !r.live(now) {
		return nil, errs.E(op, errs.NotExist)
	}
	return r.Value, nil
}

// DeleteEphemeral removes a record; an absent one is no error.
func (s *Store) DeleteEphemeral(ctx context.Context, kind, id string) error {
	err := s.kv.Delete(ctx, ephemeralKey(kind, id))
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	return mapErr("store.DeleteEphemeral", err)
}

// SweepEphemeral removes the expired records of a kind and returns how
// many live ones remain.
func (s *Store) SweepEphemeral(ctx context.Context, kind string, now time.Time) (int, error) {
	const op errs.Op = "store.SweepEphemeral"
	pairs, err := s.kv.List(ctx, prefixEphemeral+kind+"/")
	if err != nil {
		return 0, mapErr(op, err)
	}
	live := 0
	for _, p := range pairs {
		r, err := decodeEphemeral(op, p.Value)
		if err == nil && r.live(now) {
			live++
			continue
		}
		// Only the value seen is removed: one renewed meanwhile stays.
		if err := s.kv.Txn(ctx, kv.Check(p.Key, p.Value), kv.Delete(p.Key)); err != nil && !errors.Is(err, kv.ErrConflict) && !errors.Is(err, kv.ErrNotFound) {
			return live, mapErr(op, err)
		}
	}
	return live, nil
}

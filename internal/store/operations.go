package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/errs"
)

// Operation is a finished asynchronous ARM operation that clients may
// still poll (the Location of a 202). It lives in the store, not in one
// server's memory, so that behind a load balancer any replica answers
// the poll.
type Operation struct {
	ID             string    `json:"id"`
	SubscriptionID string    `json:"subscriptionId"`
	Status         string    `json:"status"`
	Expires        time.Time `json:"expires"`
}

func operationKey(sub, id string) string {
	return prefixOperations + strings.ToLower(sub) + "/" + strings.ToLower(id)
}

// PutOperation records op.
func (s *Store) PutOperation(ctx context.Context, op *Operation) error {
	const o errs.Op = "store.PutOperation"
	return putJSON(ctx, s.kv, o, operationKey(op.SubscriptionID, op.ID), op)
}

// GetOperation returns the operation, or NotExist when it is unknown in
// that subscription or expired at now.
func (s *Store) GetOperation(ctx context.Context, sub, id string, now time.Time) (*Operation, error) {
	const o errs.Op = "store.GetOperation"
	var op Operation
	if err := getJSON(ctx, s.kv, o, operationKey(sub, id), &op); err != nil {
		return nil, err
	}
	if !now.Before(op.Expires) {
		return nil, errs.E(o, errs.NotExist)
	}
	return &op, nil
}

// DeleteExpiredOperations removes the operations expired at now and
// returns how many it removed. The records are few (one per resource
// group delete within the retention), so one listing is cheap.
func (s *Store) DeleteExpiredOperations(ctx context.Context, now time.Time) (int, error) {
	const o errs.Op = "store.DeleteExpiredOperations"
	pairs, err := s.kv.List(ctx, prefixOperations)
	if err != nil {
		return 0, mapErr(o, err)
	}
	n := 0
	for _, p := range pairs {
		var op Operation
		if json.Unmarshal(p.Value, &op) == nil && now.Before(op.Expires) {
			continue
		}
		if err := s.kv.Delete(ctx, p.Key); err != nil && errs.KindOf(mapErr(o, err)) != errs.NotExist {
			return n, mapErr(o, err)
		}
		n++
	}
	return n, nil
}

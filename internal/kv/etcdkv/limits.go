package etcdkv

import (
	"errors"
	"strconv"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
)

// Request size. etcd refuses a request larger than its --max-request-bytes
// (1.5 MiB by default) with "etcdserver: request is too large", an answer
// rather than a failure, which would otherwise reach a client as a 500.
// The layers above keep their writes far below it (Key Vault's limits on
// values, tags and bodies; the store splits large transactions), so
// meeting it means a record grew past what was planned for: the write is
// refused before it is sent, as errs.TooLarge (413 in the API's error
// shape), and etcd's own refusal is mapped the same way in case the
// cluster runs with a smaller limit than the estimate assumes.

// DefaultMaxRequestBytes is etcd's default --max-request-bytes.
const DefaultMaxRequestBytes = 3 << 19 // 1.5 MiB

// requestSlack covers what a request carries besides keys and values:
// the gRPC and protobuf framing, the raft entry's header, per-operation
// fields. Generous: an estimate that errs low would let etcd refuse.
const (
	requestSlack = 4 << 10
	perOpSlack   = 32
)

// txnBytes estimates the size of the etcd request Txn sends for ops: a
// key appears in the comparison, the write and the failure branch's read;
// a compared value is sent as well as a written one.
func (s *Store) txnBytes(ops []kv.Op) int {
	n := requestSlack
	for _, o := range ops {
		n += 3*(len(s.prefix)+len(o.Key)) + len(o.Value) + perOpSlack
	}
	return n
}

// fits refuses a request of n bytes that etcd would refuse.
func (s *Store) fits(op string, n int) error {
	limit := s.maxRequest
	if limit <= 0 {
		limit = DefaultMaxRequestBytes
	}
	if n <= limit {
		return nil
	}
	return tooLarge(op + ": " + strconv.Itoa(n) + " bytes, over etcd's request limit of " + strconv.Itoa(limit))
}

func tooLarge(detail string) error {
	return errs.E(errs.Op("etcdkv"), errs.TooLarge, errs.Code("RequestTooLarge"),
		errs.Msg("The operation would store more than the storage backend accepts in one request."),
		errors.New(detail))
}

// sizeErr maps etcd's refusal of a large request to errs.TooLarge.
func sizeErr(err error) error {
	if errors.Is(err, rpctypes.ErrRequestTooLarge) {
		return tooLarge(err.Error())
	}
	return err
}

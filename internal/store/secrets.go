package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"strings"
	"sync"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/model"
)

// Secret layout.
//
//	secrets/<vault>/<NAME>                 head: name, soft-delete state, a
//	                                       copy of the latest version, the
//	                                       generation and the version count
//	secretversions/<vault>/<NAME>/<ver>    one version's attributes
//	secretvalues/<vault>/<NAME>/<ver>      one version's value
//
// Why: a record holding every version grows with each SET (etcd refuses
// values over 1.5 MiB, and every SET rewrote all of it), and reading the
// latest version decoded all of them. Now a SET writes three small keys in
// one transaction guarded by the head's old value, GET latest reads the head
// and the value, and listing secrets pages through heads in key order.
//
// Generation: each incarnation of a name (first SET, or a restore, after
// the name was free) gets a random generation, stored in the head and in
// each of its version records. Version records of another generation are
// ignored. That makes writing versions ahead of their head safe (a restore
// with more versions than one transaction holds writes them first, and a
// failure leaves only invisible leftovers), and the removal of a purged
// name's versions can never touch a new incarnation's.
//
// Legacy layout: records written before this layout hold every version
// inline ("versions") and have no generation. They are read as they are;
// the first write that changes their versions converts them (upgrade).

// secretHead is the stored head of a secret name.
type secretHead struct {
	Name string `json:"name"`
	// Versions is the legacy layout only: every version inline.
	Versions []model.SecretVersion `json:"versions,omitempty"`
	Deleted  *model.DeletedInfo    `json:"deleted,omitempty"`
	// Gen names this incarnation's version records; empty in the legacy layout.
	Gen string `json:"gen,omitempty"`
	// Seq is how many versions this incarnation has had; it orders them.
	Seq int64 `json:"seq,omitempty"`
	// Latest is a copy of the newest version's record.
	Latest *model.SecretVersion `json:"latest,omitempty"`
}

func (h *secretHead) legacy() bool { return h.Gen == "" }

// secret returns the head as a model.Secret whose Versions hold the latest
// version only (legacy records: every version, as stored).
func (h *secretHead) secret() *model.Secret {
	sec := &model.Secret{Name: h.Name, Deleted: h.Deleted}
	switch {
	case h.legacy():
		sec.Versions = h.Versions
	case h.Latest != nil:
		sec.Versions = []model.SecretVersion{*h.Latest}
	}
	return sec
}

// versionRecord is one stored version.
type versionRecord struct {
	model.SecretVersion
	Gen string `json:"gen"`
	Seq int64  `json:"seq"`
}

// maxSecretAttempts bounds the retries of a secret write that lost the
// compare on its head to a concurrent writer of the same name.
const maxSecretAttempts = 64

func newGen() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readHead returns the head, its stored bytes (for the Txn's Check) and
// whether it exists.
func (s *Store) readHead(ctx context.Context, op errs.Op, vault, name string) (*secretHead, []byte, bool, error) {
	raw, err := s.kv.Get(ctx, secretKey(vault, name))
	if errors.Is(err, kv.ErrNotFound) {
		return &secretHead{}, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, mapErr(op, err)
	}
	var h secretHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, nil, false, errs.E(op, errs.Internal, err)
	}
	return &h, raw, true, nil
}

// versions returns every version of a head's incarnation, oldest first.
func (s *Store) versions(ctx context.Context, op errs.Op, vault, name string, h *secretHead) ([]model.SecretVersion, error) {
	if h.legacy() {
		return h.Versions, nil
	}
	recs, err := s.versionRecords(ctx, op, vault, name, h.Gen)
	if err != nil {
		return nil, err
	}
	out := make([]model.SecretVersion, len(recs))
	for i := range recs {
		out[i] = recs[i].SecretVersion
	}
	return out, nil
}

// versionRecords lists the version records of generation gen, by Seq.
func (s *Store) versionRecords(ctx context.Context, op errs.Op, vault, name, gen string) ([]versionRecord, error) {
	pairs, err := s.kv.List(ctx, secretVersionsPrefix(vault, name))
	if err != nil {
		return nil, mapErr(op, err)
	}
	out := make([]versionRecord, 0, len(pairs))
	for _, p := range pairs {
		var r versionRecord
		if err := json.Unmarshal(p.Value, &r); err != nil {
			return nil, errs.E(op, errs.Internal, err)
		}
		if r.Gen == gen {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b versionRecord) int { return int(a.Seq - b.Seq) })
	return out, nil
}

func versionPut(vault, name, gen string, seq int64, v model.SecretVersion) (kv.Op, error) {
	b, err := json.Marshal(versionRecord{SecretVersion: v, Gen: gen, Seq: seq})
	if err != nil {
		return kv.Op{}, err
	}
	return kv.Put(secretVersionKey(vault, name, v.Version), b), nil
}

// maxTxnBytes bounds the bytes one transaction carries. etcd refuses
// requests over 1.5 MiB by default (--max-request-bytes); a restore of many
// versions with large values would pass MaxTxnOps and still exceed it.
const maxTxnBytes = 1 << 20

// commitHead writes ops plus the new head in one Txn guarded by the old
// head's bytes (nil: the name must be free). Writes that do not fit in one
// Txn next to the head (by count or by bytes) go first, in Txns of their
// own: they must be invisible until the head commits (version records of
// a new generation). It reports a lost race as kv.ErrConflict.
func (s *Store) commitHead(ctx context.Context, vault, name string, oldRaw []byte, h *secretHead, ops []kv.Op) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	key := secretKey(vault, name)
	headOps := []kv.Op{kv.Check(key, oldRaw), kv.Put(key, b)}
	chunks := splitOps(ops)
	var last []kv.Op
	if n := len(chunks); n > 0 && len(chunks[n-1])+len(headOps) <= kv.MaxTxnOps &&
		opsBytes(chunks[n-1])+opsBytes(headOps) <= maxTxnBytes {
		last, chunks = chunks[n-1], chunks[:n-1]
	}
	for _, c := range chunks {
		if err := s.kv.Txn(ctx, c...); err != nil {
			return err
		}
	}
	return s.kv.Txn(ctx, append(headOps, last...)...)
}

// splitOps cuts ops, in order, into Txn-sized chunks.
func splitOps(ops []kv.Op) [][]kv.Op {
	var chunks [][]kv.Op
	start, size := 0, 0
	for i, o := range ops {
		n := len(o.Key) + len(o.Value)
		if i > start && (i-start == kv.MaxTxnOps || size+n > maxTxnBytes) {
			chunks = append(chunks, ops[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(ops) {
		chunks = append(chunks, ops[start:])
	}
	return chunks
}

func opsBytes(ops []kv.Op) int {
	n := 0
	for _, o := range ops {
		n += len(o.Key) + len(o.Value)
	}
	return n
}

// upgrade converts a legacy head in place to a new generation and returns
// the writes of its version records.
func upgrade(vault, name string, h *secretHead) ([]kv.Op, error) {
	h.Gen = newGen()
	var ops []kv.Op
	for i, v := range h.Versions {
		op, err := versionPut(vault, name, h.Gen, int64(i), v)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	h.Seq = int64(len(h.Versions))
	if n := len(h.Versions); n > 0 {
		latest := h.Versions[n-1]
		h.Latest = &latest
	}
	h.Versions = nil
	return ops, nil
}

// nameLocks serialize writes to one secret name within this process. The
// head's compare-and-swap alone is correct, but with group commit every
// writer of a hot name reads the same head, all but one lose, and the rest
// retry in lockstep; taking turns here costs nothing they would not have
// waited for anyway. Writers in other processes (etcd replicas) still
// meet at the compare and retry.
var nameLocks [64]sync.Mutex

func lockName(vault, name string) func() {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(vault)))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToUpper(name)))
	m := &nameLocks[h.Sum32()%uint32(len(nameLocks))]
	m.Lock()
	return m.Unlock
}

// retry runs attempt, holding the name's lock, until it stops losing races
// on the head.
func retry(op errs.Op, vault, name string, attempt func() error) error {
	defer lockName(vault, name)()
	for range maxSecretAttempts {
		err := attempt()
		if !errors.Is(err, kv.ErrConflict) {
			return mapErr(op, err)
		}
	}
	return errs.E(op, errs.Conflict, kv.ErrConflict)
}

// AddSecretVersion stores a new version and its value and makes it the
// latest, all in one transaction, so an interrupted SET leaves neither an
// orphaned value nor a version without one. check sees the current head
// (exists=false for a free name) and may refuse with an error. The result
// is the head as a Secret whose Versions hold the new version only.
func (s *Store) AddSecretVersion(ctx context.Context, vault, name string, ver model.SecretVersion, value string,
	check func(sec *model.Secret, exists bool) error) (*model.Secret, error) {
	const op errs.Op = "store.AddSecretVersion"
	var out *model.Secret
	err := retry(op, vault, name, func() error {
		h, raw, exists, err := s.readHead(ctx, op, vault, name)
		if err != nil {
			return err
		}
		if err := check(h.secret(), exists); err != nil {
			return err
		}
		var ops []kv.Op
		switch {
		case !exists:
			h = &secretHead{Name: name, Gen: newGen()}
		case h.legacy():
			if ops, err = upgrade(vault, name, h); err != nil {
				return err
			}
		}
		vop, err := versionPut(vault, name, h.Gen, h.Seq, ver)
		if err != nil {
			return err
		}
		h.Seq++
		latest := ver
		latest.Value = ""
		h.Latest = &latest
		ops = append(ops, vop, kv.Put(secretValueKey(vault, name, ver.Version), []byte(value)))
		if err := s.commitHead(ctx, vault, name, raw, h, ops); err != nil {
			return err
		}
		out = h.secret()
		return nil
	})
	return out, err
}

// GetSecretHead returns a secret (possibly soft-deleted) with its latest
// version only: one read, however many versions it has.
func (s *Store) GetSecretHead(ctx context.Context, vault, name string) (*model.Secret, error) {
	const op errs.Op = "store.GetSecretHead"
	h, _, exists, err := s.readHead(ctx, op, vault, name)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, errs.E(op, errs.NotExist)
	}
	return h.secret(), nil
}

// GetSecretVersion returns a secret's head and one of its versions (the
// latest when version is empty) without reading the others. The version is
// errs.NotExist when the secret has no such version.
func (s *Store) GetSecretVersion(ctx context.Context, vault, name, version string) (*model.Secret, *model.SecretVersion, error) {
	const op errs.Op = "store.GetSecretVersion"
	h, _, exists, err := s.readHead(ctx, op, vault, name)
	if err != nil {
		return nil, nil, err
	}
	if !exists {
		return nil, nil, errs.E(op, errs.NotExist)
	}
	sec := h.secret()
	switch {
	case version == "" && len(sec.Versions) > 0:
		return sec, sec.Latest(), nil
	case version == "":
		return nil, nil, errs.E(op, errs.NotExist)
	case h.legacy():
		if v := sec.Version(version); v != nil {
			return sec, v, nil
		}
		return nil, nil, errs.E(op, errs.NotExist)
	case h.Latest != nil && strings.EqualFold(h.Latest.Version, version):
		return sec, sec.Latest(), nil
	}
	b, err := s.kv.Get(ctx, secretVersionKey(vault, name, version))
	if err != nil {
		return nil, nil, mapErr(op, err)
	}
	var r versionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, nil, errs.E(op, errs.Internal, err)
	}
	if r.Gen != h.Gen {
		return nil, nil, errs.E(op, errs.NotExist) // a leftover of an earlier incarnation
	}
	return sec, &r.SecretVersion, nil
}

// GetSecret returns one secret (possibly soft-deleted) with every version,
// oldest first. It reads every version record; GetSecretHead and
// GetSecretVersion do not.
func (s *Store) GetSecret(ctx context.Context, vault, name string) (*model.Secret, error) {
	const op errs.Op = "store.GetSecret"
	h, _, exists, err := s.readHead(ctx, op, vault, name)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, errs.E(op, errs.NotExist)
	}
	vers, err := s.versions(ctx, op, vault, name, h)
	if err != nil {
		return nil, err
	}
	return &model.Secret{Name: h.Name, Deleted: h.Deleted, Versions: vers}, nil
}

// UpdateSecretHead applies fn to a secret's name and soft-delete state
// without reading its versions (fn sees the latest version only and must
// not change Versions). Returning keep=false removes the secret: its head
// in one transaction, then its versions and values page by page.
func (s *Store) UpdateSecretHead(ctx context.Context, vault, name string, fn func(sec *model.Secret, exists bool) (keep bool, err error)) error {
	const op errs.Op = "store.UpdateSecretHead"
	var removed *secretHead
	err := retry(op, vault, name, func() error {
		h, raw, exists, err := s.readHead(ctx, op, vault, name)
		if err != nil {
			return err
		}
		sec := h.secret()
		keep, err := fn(sec, exists)
		if err != nil {
			return err
		}
		key := secretKey(vault, name)
		if !keep {
			if !exists {
				return nil
			}
			if err := s.kv.Txn(ctx, kv.Check(key, raw), kv.Delete(key)); err != nil {
				return err
			}
			removed = h
			return nil
		}
		h.Name, h.Deleted = sec.Name, sec.Deleted
		b, err := json.Marshal(h)
		if err != nil {
			return err
		}
		if exists {
			return s.kv.Txn(ctx, kv.Check(key, raw), kv.Put(key, b))
		}
		return s.kv.Txn(ctx, kv.Create(key, b))
	})
	if err != nil || removed == nil {
		return err
	}
	return s.removeVersions(ctx, op, vault, name, removed)
}

// removeVersions deletes the version records and values of a removed head's
// incarnation, a page at a time. Records of another generation (a new
// secret of the same name, created meanwhile) are left alone.
func (s *Store) removeVersions(ctx context.Context, op errs.Op, vault, name string, h *secretHead) error {
	if h.legacy() {
		var ops []kv.Op
		for _, v := range h.Versions {
			ops = append(ops, kv.Remove(secretValueKey(vault, name, v.Version)))
			if len(ops) == sweepPage {
				if err := s.kv.Txn(ctx, ops...); err != nil {
					return mapErr(op, err)
				}
				ops = ops[:0]
			}
		}
		if len(ops) > 0 {
			return mapErr(op, s.kv.Txn(ctx, ops...))
		}
		return nil
	}
	prefix := secretVersionsPrefix(vault, name)
	after := ""
	for {
		pairs, err := s.kv.ListRange(ctx, prefix, after, sweepPage/2)
		if err != nil {
			return mapErr(op, err)
		}
		if len(pairs) == 0 {
			return nil
		}
		var ops []kv.Op
		for _, p := range pairs {
			var r versionRecord
			if json.Unmarshal(p.Value, &r) == nil && r.Gen != h.Gen {
				continue
			}
			ops = append(ops, kv.Remove(p.Key), kv.Remove(secretValueKey(vault, name, p.Key[len(prefix):])))
		}
		if len(ops) > 0 {
			if err := s.kv.Txn(ctx, ops...); err != nil {
				return mapErr(op, err)
			}
		}
		after = pairs[len(pairs)-1].Key
	}
}

// UpdateSecretVersion applies fn to one version's attributes (the latest
// when version is empty) and stores it with the head, in one transaction
// guarded by the head. It reads that version only. fn gets the head too
// and exists=false when the secret is absent; with an error from fn nothing
// is stored. The version it reports is errs.NotExist if absent.
func (s *Store) UpdateSecretVersion(ctx context.Context, vault, name, version string,
	fn func(sec *model.Secret, ver *model.SecretVersion, exists bool) error) (*model.Secret, *model.SecretVersion, error) {
	const op errs.Op = "store.UpdateSecretVersion"
	var outSec *model.Secret
	var outVer *model.SecretVersion
	err := retry(op, vault, name, func() error {
		h, raw, exists, err := s.readHead(ctx, op, vault, name)
		if err != nil {
			return err
		}
		if !exists || h.Deleted != nil {
			return fn(h.secret(), nil, exists)
		}
		var ops []kv.Op
		if h.legacy() {
			if ops, err = upgrade(vault, name, h); err != nil {
				return err
			}
		}
		sec := h.secret()
		if h.Latest == nil {
			return fn(sec, nil, true)
		}
		var ver model.SecretVersion
		var seq int64
		switch {
		case version == "" || strings.EqualFold(h.Latest.Version, version):
			ver, seq = *h.Latest, h.Seq-1
		case len(ops) > 0: // just upgraded: the records are in ops
			found := false
			for i, op := range ops {
				var r versionRecord
				if json.Unmarshal(op.Value, &r) == nil && strings.EqualFold(r.Version, version) {
					ver, seq, found = r.SecretVersion, r.Seq, true
					ops = slices.Delete(ops, i, i+1)
					break
				}
			}
			if !found {
				return fn(sec, nil, true)
			}
		default:
			b, err := s.kv.Get(ctx, secretVersionKey(vault, name, version))
			if errors.Is(err, kv.ErrNotFound) {
				return fn(sec, nil, true)
			}
			if err != nil {
				return mapErr(op, err)
			}
			var r versionRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return errs.E(op, errs.Internal, err)
			}
			if r.Gen != h.Gen {
				return fn(sec, nil, true)
			}
			ver, seq = r.SecretVersion, r.Seq
		}
		if err := fn(sec, &ver, true); err != nil {
			return err
		}
		if len(ops) > 0 && strings.EqualFold(h.Latest.Version, ver.Version) {
			// The upgrade wrote the latest's record already; drop it.
			ops = ops[:len(ops)-1]
		}
		vop, err := versionPut(vault, name, h.Gen, seq, ver)
		if err != nil {
			return err
		}
		ops = append(ops, vop)
		if seq == h.Seq-1 {
			latest := ver
			h.Latest = &latest
		}
		if err := s.commitHead(ctx, vault, name, raw, h, ops); err != nil {
			return err
		}
		outSec, outVer = h.secret(), &ver
		return nil
	})
	return outSec, outVer, err
}

// UpdateSecret applies fn to a whole secret (every version) and stores the
// result; fn gets a zero record and exists=false when absent, and
// keep=false removes the secret. It reads every version, so the services
// use it only where they change many versions at once; the narrower
// methods above serve the request paths.
func (s *Store) UpdateSecret(ctx context.Context, vault, name string, fn func(sec *model.Secret, exists bool) (keep bool, err error)) error {
	const op errs.Op = "store.UpdateSecret"
	var removed *secretHead
	err := retry(op, vault, name, func() error {
		h, raw, exists, err := s.readHead(ctx, op, vault, name)
		if err != nil {
			return err
		}
		sec := &model.Secret{}
		var old []versionRecord
		if exists {
			sec.Name, sec.Deleted = h.Name, h.Deleted
			if h.legacy() {
				sec.Versions = slices.Clone(h.Versions)
			} else {
				if old, err = s.versionRecords(ctx, op, vault, name, h.Gen); err != nil {
					return err
				}
				for _, r := range old {
					sec.Versions = append(sec.Versions, r.SecretVersion)
				}
			}
		}
		keep, err := fn(sec, exists)
		if err != nil {
			return err
		}
		key := secretKey(vault, name)
		if !keep {
			if !exists {
				return nil
			}
			if err := s.kv.Txn(ctx, kv.Check(key, raw), kv.Delete(key)); err != nil {
				return err
			}
			removed = h
			return nil
		}
		// Write the result as a new generation when the record is new or
		// legacy; else only the version records that changed.
		nh := &secretHead{Name: sec.Name, Deleted: sec.Deleted, Gen: h.Gen}
		if !exists || h.legacy() {
			nh.Gen, old = newGen(), nil
		}
		stored := make(map[string]versionRecord, len(old))
		for _, r := range old {
			stored[strings.ToLower(r.Version)] = r
		}
		var ops []kv.Op
		keepKeys := make(map[string]bool, len(sec.Versions))
		for i, v := range sec.Versions {
			v.Value = ""
			id := strings.ToLower(v.Version)
			keepKeys[id] = true
			seq := int64(i)
			if r, ok := stored[id]; ok {
				seq = r.Seq
				if versionEqual(r.SecretVersion, v) {
					continue
				}
			} else if len(old) > 0 {
				seq = old[len(old)-1].Seq + int64(i) + 1 // after every stored one
			}
			vop, err := versionPut(vault, name, nh.Gen, seq, v)
			if err != nil {
				return err
			}
			ops = append(ops, vop)
			nh.Seq = max(nh.Seq, seq+1)
		}
		for _, r := range old {
			nh.Seq = max(nh.Seq, r.Seq+1)
			if !keepKeys[strings.ToLower(r.Version)] {
				ops = append(ops, kv.Remove(secretVersionKey(vault, name, r.Version)))
			}
		}
		if n := len(sec.Versions); n > 0 {
			latest := sec.Versions[n-1]
			latest.Value = ""
			nh.Latest = &latest
		}
		return s.commitHead(ctx, vault, name, raw, nh, ops)
	})
	if err != nil || removed == nil {
		return err
	}
	return s.removeVersions(ctx, op, vault, name, removed)
}

func versionEqual(a, b model.SecretVersion) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// ListSecrets returns every secret of a vault, ordered by upper-cased name,
// each with its latest version only.
func (s *Store) ListSecrets(ctx context.Context, vault string) ([]model.Secret, error) {
	heads, err := listJSON[secretHead](ctx, s.kv, "store.ListSecrets", secretsPrefix(vault))
	if err != nil {
		return nil, err
	}
	out := make([]model.Secret, len(heads))
	for i := range heads {
		out[i] = *heads[i].secret()
	}
	return out, nil
}

// ListSecretsPage returns up to limit secrets of a vault whose upper-cased
// name sorts after after, in that order, each with its latest version only:
// the live ones, or the soft-deleted ones when deleted is set. more reports
// whether any follow. It reads the heads in key order a page at a time, so
// its cost is that of the page (plus any heads of the other kind skipped).
func (s *Store) ListSecretsPage(ctx context.Context, vault, after string, limit int, deleted bool) (secs []model.Secret, more bool, err error) {
	const op errs.Op = "store.ListSecretsPage"
	prefix := secretsPrefix(vault)
	cursor := ""
	if after != "" {
		cursor = prefix + strings.ToUpper(after)
	}
	chunk := limit + 1
	for {
		pairs, err := s.kv.ListRange(ctx, prefix, cursor, chunk)
		if err != nil {
			return nil, false, mapErr(op, err)
		}
		for _, p := range pairs {
			var h secretHead
			if err := json.Unmarshal(p.Value, &h); err != nil {
				return nil, false, errs.E(op, errs.Internal, err)
			}
			if (h.Deleted != nil) != deleted {
				continue
			}
			if len(secs) == limit {
				return secs, true, nil
			}
			secs = append(secs, *h.secret())
		}
		if len(pairs) < chunk {
			return secs, false, nil
		}
		cursor = pairs[len(pairs)-1].Key
		chunk = min(chunk*2, 1000) // skipping many of the other kind
	}
}

// PutSecretValue stores one version's value.
func (s *Store) PutSecretValue(ctx context.Context, vault, name, version, value string) error {
	return mapErr("store.PutSecretValue", s.kv.Put(ctx, secretValueKey(vault, name, version), []byte(value)))
}

// GetSecretValue returns one version's value.
func (s *Store) GetSecretValue(ctx context.Context, vault, name, version string) (string, error) {
	b, err := s.kv.Get(ctx, secretValueKey(vault, name, version))
	if err != nil {
		return "", mapErr("store.GetSecretValue", err)
	}
	return string(b), nil
}

// DeleteSecretValue removes one version's value (absent is fine).
func (s *Store) DeleteSecretValue(ctx context.Context, vault, name, version string) error {
	err := s.kv.Delete(ctx, secretValueKey(vault, name, version))
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return mapErr("store.DeleteSecretValue", err)
	}
	return nil
}

// DeleteSecretValues removes every value of a secret name, a page at a time.
func (s *Store) DeleteSecretValues(ctx context.Context, vault, name string) error {
	return s.deletePrefix(ctx, "store.DeleteSecretValues", secretValuesPrefix(vault, name))
}

// CreateSecret stores a secret with every version and value (a restore),
// under a new generation, if the name is free (errs.Exist otherwise).
// Versions and values that do not fit in the final transaction are written
// ahead of it; should it fail, they stay invisible (their generation has no
// head) and go with the name's next purge.
func (s *Store) CreateSecret(ctx context.Context, vault string, sec *model.Secret, values map[string]string) error {
	const op errs.Op = "store.CreateSecret"
	h := &secretHead{Name: sec.Name, Gen: newGen(), Seq: int64(len(sec.Versions))}
	var ops []kv.Op
	for i, v := range sec.Versions {
		value := values[v.Version]
		v.Value = ""
		vop, err := versionPut(vault, sec.Name, h.Gen, int64(i), v)
		if err != nil {
			return errs.E(op, errs.Internal, err)
		}
		ops = append(ops, vop, kv.Put(secretValueKey(vault, sec.Name, v.Version), []byte(value)))
	}
	if n := len(sec.Versions); n > 0 {
		latest := sec.Versions[n-1]
		latest.Value = ""
		h.Latest = &latest
	}
	err := s.commitHead(ctx, vault, sec.Name, nil, h, ops)
	if errors.Is(err, kv.ErrConflict) {
		return errs.E(op, errs.Exist, err)
	}
	return mapErr(op, err)
}

// MigrateLegacySecrets converts every secret record of the previous layout
// (every version inline) to the per-version layout, a page of records at a
// time, and returns how many it converted. Reading and writing need no
// migration (legacy records are read as they are and converted by their
// first write); running this once at startup makes the per-version costs
// hold for old data as well. It is safe to run concurrently with traffic
// and on several replicas: each conversion is guarded by the record it read.
func (s *Store) MigrateLegacySecrets(ctx context.Context) (int, error) {
	const op errs.Op = "store.MigrateLegacySecrets"
	n, after := 0, ""
	for {
		pairs, err := s.kv.ListRange(ctx, prefixSecrets, after, sweepPage)
		if err != nil {
			return n, mapErr(op, err)
		}
		if len(pairs) == 0 {
			return n, nil
		}
		for _, p := range pairs {
			var h secretHead
			if err := json.Unmarshal(p.Value, &h); err != nil {
				return n, errs.E(op, errs.Internal, err)
			}
			if !h.legacy() {
				continue
			}
			// secrets/<vault>/<NAME>
			vault, name, ok := strings.Cut(p.Key[len(prefixSecrets):], "/")
			if !ok {
				continue
			}
			converted := false
			err := s.UpdateSecret(ctx, vault, name, func(sec *model.Secret, exists bool) (bool, error) {
				converted = exists
				return exists, nil // rewriting a legacy record converts it
			})
			if err != nil {
				return n, err
			}
			if converted {
				n++
			}
		}
		after = pairs[len(pairs)-1].Key
	}
}

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

// Versioned objects: the one storage layout of secrets, keys and
// certificates.
//
//	<heads><vault>/<NAME>               head: name, soft-delete state, the
//	                                    kind's own fields (a key's rotation
//	                                    policy, a certificate's policy and
//	                                    pending operation), a copy of the
//	                                    latest version, the generation and
//	                                    the version count
//	<versions><vault>/<NAME>/<ver>      one version's record
//	<values><vault>/<NAME>/<ver>        one version's private part: a
//	                                    secret's value, a key's material
//
// Why: a record holding every version grows with each new version (etcd
// refuses values over 1.5 MiB, and every write rewrote all of it), and
// reading the latest version decoded all of them. Now adding a version
// writes three small keys in one transaction guarded by the head's old
// value, reading the latest reads the head (and its value), and listing
// pages through heads in key order.
//
// Generation: each incarnation of a name (first version, or a restore,
// after the name was free) gets a random generation, stored in the head
// and in each of its version records. Version records of another
// generation are ignored. That makes writing versions ahead of their head
// safe (a restore with more versions than one transaction holds writes
// them first, and a failure leaves only invisible leftovers), and the
// removal of a purged name's versions can never touch a new incarnation's.
//
// Legacy layout: records written before this layout hold every version
// inline ("versions") and have no generation. They are read as they are;
// the first write that changes their versions converts them (upgrade).

// headMeta is the part of a head every kind shares. A kind's head is
// headMeta itself (secrets) or a struct embedding it (keys, certificates),
// so that the legacy record, which had the same field names plus every
// version, decodes into it.
type headMeta[V any] struct {
	Name string `json:"name"`
	// Versions is the legacy layout only: every version inline.
	Versions []V                `json:"versions,omitempty"`
	Deleted  *model.DeletedInfo `json:"deleted,omitempty"`
	// Gen names this incarnation's version records; empty in the legacy layout.
	Gen string `json:"gen,omitempty"`
	// Seq is how many versions this incarnation has had; it orders them.
	Seq int64 `json:"seq,omitempty"`
	// Latest is a copy of the newest version's record.
	Latest *V `json:"latest,omitempty"`
}

func (h *headMeta[V]) legacy() bool { return h.Gen == "" }

// verRecord is one stored version: the version's own JSON with the
// generation and sequence number added to the same object.
type verRecord[V any] struct {
	V   V
	Gen string
	Seq int64
}

type recordMeta struct {
	Gen string `json:"gen"`
	Seq int64  `json:"seq"`
}

func encodeVersion[V any](v *V, gen string, seq int64) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' {
		return nil, errors.New("store: a version must encode as a JSON object")
	}
	m, err := json.Marshal(recordMeta{Gen: gen, Seq: seq})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+len(m))
	out = append(out, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, m[1:]...), nil
}

func decodeVersion[V any](b []byte) (verRecord[V], error) {
	var r verRecord[V]
	var m recordMeta
	if err := json.Unmarshal(b, &r.V); err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return r, err
	}
	r.Gen, r.Seq = m.Gen, m.Seq
	return r, nil
}

// objects describes one kind of versioned object: O is the model object
// (model.Secret, model.Key, model.Certificate), V its version and H its
// stored head. The functions adapt the three; everything else is shared.
type objects[O, V, H any] struct {
	heads, versions string // key prefixes
	values          string // key prefix of the private parts; "" if the kind has none
	meta            func(h *H) *headMeta[V]
	id              func(v *V) string
	// object builds the object from its head with the given versions.
	object func(h *H, vers []V) *O
	// setHead copies an object's name, soft-delete state and own fields
	// (not its versions) into a head.
	setHead func(h *H, o *O)
	// versionsOf returns an object's versions, oldest first.
	versionsOf func(o *O) []V
	// strip clears what is never stored in a version record (optional).
	strip func(v *V)
}

func (k *objects[O, V, H]) headsPrefix(vault string) string {
	return k.heads + strings.ToLower(vault) + "/"
}
func (k *objects[O, V, H]) headKey(vault, name string) string {
	return k.headsPrefix(vault) + strings.ToUpper(name)
}
func (k *objects[O, V, H]) versionsPrefix(vault, name string) string {
	return k.versions + strings.ToLower(vault) + "/" + strings.ToUpper(name) + "/"
}
func (k *objects[O, V, H]) versionKey(vault, name, version string) string {
	return k.versionsPrefix(vault, name) + strings.ToLower(version)
}
func (k *objects[O, V, H]) valuesPrefix(vault, name string) string {
	return k.values + strings.ToLower(vault) + "/" + strings.ToUpper(name) + "/"
}
func (k *objects[O, V, H]) valueKey(vault, name, version string) string {
	return k.valuesPrefix(vault, name) + strings.ToLower(version)
}

// sweepPrefixes are every prefix of a vault's objects of this kind.
func (k *objects[O, V, H]) sweepPrefixes(vault string) []string {
	out := []string{k.headsPrefix(vault), k.versions + strings.ToLower(vault) + "/"}
	if k.values != "" {
		out = append(out, k.values+strings.ToLower(vault)+"/")
	}
	return out
}

func (k *objects[O, V, H]) stripped(v V) V {
	if k.strip != nil {
		k.strip(&v)
	}
	return v
}

// view is the head as an object whose versions are the latest one only
// (legacy records: every version, as stored).
func (k *objects[O, V, H]) view(h *H) *O {
	m := k.meta(h)
	switch {
	case m.legacy():
		return k.object(h, m.Versions)
	case m.Latest != nil:
		return k.object(h, []V{*m.Latest})
	}
	return k.object(h, nil)
}

// maxHeadAttempts bounds the retries of a write that lost the compare
// on its head to a concurrent writer of the same name.
const maxHeadAttempts = 64

func newGen() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readHead returns the head, its stored bytes (for the Txn's Check) and
// whether it exists.
func (k *objects[O, V, H]) readHead(ctx context.Context, s *Store, op errs.Op, vault, name string) (*H, []byte, bool, error) {
	raw, err := s.kv.Get(ctx, k.headKey(vault, name))
	if errors.Is(err, kv.ErrNotFound) {
		return new(H), nil, false, nil
	}
	if err != nil {
		return nil, nil, false, mapErr(op, err)
	}
	h := new(H)
	if err := json.Unmarshal(raw, h); err != nil {
		return nil, nil, false, errs.E(op, errs.Internal, err)
	}
	return h, raw, true, nil
}

// viewHead is readHead for reads that write nothing back: it needs no
// stored bytes, so it decodes through the read cache's memo (getJSON), and
// a head read again is copied, not decoded again.
func (k *objects[O, V, H]) viewHead(ctx context.Context, s *Store, op errs.Op, vault, name string) (*H, bool, error) {
	h := new(H)
	err := getJSON(ctx, s.kv, op, k.headKey(vault, name), h)
	if errors.Is(err, kv.ErrNotFound) {
		return new(H), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return h, true, nil
}

// readVersion reads one version record, decoded through the read cache's
// memo when there is one (a deep copy of the shared decoded record).
func (k *objects[O, V, H]) readVersion(ctx context.Context, s *Store, op errs.Op, vault, name, version string) (verRecord[V], error) {
	key := k.versionKey(vault, name, version)
	dg, ok := s.kv.(decodedGetter)
	if !ok {
		b, err := s.kv.Get(ctx, key)
		if err != nil {
			return verRecord[V]{}, mapErr(op, err)
		}
		r, err := decodeVersion[V](b)
		if err != nil {
			return r, errs.E(op, errs.Internal, err)
		}
		return r, nil
	}
	var r verRecord[V]
	if err := getMemoWith(ctx, dg, op, key, &r, decodeVersionAny[V]); err != nil {
		return verRecord[V]{}, err
	}
	return r, nil
}

// decodeVersionAny is decodeVersion as a memo decoder: one function value
// per V, so a cache hit allocates no closure.
func decodeVersionAny[V any](b []byte) (any, error) {
	r, err := decodeVersion[V](b)
	if err != nil {
		return nil, &decodeError{err}
	}
	return &r, nil
}

// versionRecords lists the version records of generation gen, by Seq.
func (k *objects[O, V, H]) versionRecords(ctx context.Context, s *Store, op errs.Op, vault, name, gen string) ([]verRecord[V], error) {
	pairs, err := s.kv.List(ctx, k.versionsPrefix(vault, name))
	if err != nil {
		return nil, mapErr(op, err)
	}
	out := make([]verRecord[V], 0, len(pairs))
	for _, p := range pairs {
		r, err := decodeVersion[V](p.Value)
		if err != nil {
			return nil, errs.E(op, errs.Internal, err)
		}
		if r.Gen == gen {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b verRecord[V]) int { return int(a.Seq - b.Seq) })
	return out, nil
}

// allVersions returns every version of a head's incarnation, oldest first.
func (k *objects[O, V, H]) allVersions(ctx context.Context, s *Store, op errs.Op, vault, name string, h *H) ([]V, error) {
	m := k.meta(h)
	if m.legacy() {
		return m.Versions, nil
	}
	recs, err := k.versionRecords(ctx, s, op, vault, name, m.Gen)
	if err != nil {
		return nil, err
	}
	out := make([]V, len(recs))
	for i := range recs {
		out[i] = recs[i].V
	}
	return out, nil
}

func (k *objects[O, V, H]) versionPut(vault, name, gen string, seq int64, v V) (kv.Op, error) {
	b, err := encodeVersion(&v, gen, seq)
	if err != nil {
		return kv.Op{}, err
	}
	return kv.Put(k.versionKey(vault, name, k.id(&v)), b), nil
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
func (k *objects[O, V, H]) commitHead(ctx context.Context, s *Store, vault, name string, oldRaw []byte, h *H, ops []kv.Op) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	key := k.headKey(vault, name)
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
func (k *objects[O, V, H]) upgrade(vault, name string, h *H) ([]kv.Op, error) {
	m := k.meta(h)
	m.Gen = newGen()
	var ops []kv.Op
	for i, v := range m.Versions {
		op, err := k.versionPut(vault, name, m.Gen, int64(i), v)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	m.Seq = int64(len(m.Versions))
	if n := len(m.Versions); n > 0 {
		latest := m.Versions[n-1]
		m.Latest = &latest
	}
	m.Versions = nil
	return ops, nil
}

// nameLocks serialize writes to one object name within this process. The
// head's compare-and-swap alone is correct, but with group commit every
// writer of a hot name reads the same head, all but one lose, and the rest
// retry in lockstep; taking turns here costs nothing they would not have
// waited for anyway. Writers in other processes (etcd replicas) still
// meet at the compare and retry.
var nameLocks [64]sync.Mutex

func (k *objects[O, V, H]) lock(vault, name string) func() {
	h := fnv.New32a()
	h.Write([]byte(k.heads))
	h.Write([]byte(strings.ToLower(vault)))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToUpper(name)))
	m := &nameLocks[h.Sum32()%uint32(len(nameLocks))]
	m.Lock()
	return m.Unlock
}

// retry runs attempt, holding the name's lock, until it stops losing races
// on the head.
func (k *objects[O, V, H]) retry(op errs.Op, vault, name string, attempt func() error) error {
	defer k.lock(vault, name)()
	for range maxHeadAttempts {
		err := attempt()
		if !errors.Is(err, kv.ErrConflict) {
			return mapErr(op, err)
		}
	}
	return errs.E(op, errs.Conflict, kv.ErrConflict)
}

// add stores a new version (and its value, for a kind that has values)
// and makes it the latest, all in one transaction. check sees the current
// head (exists=false for a free name) and may refuse with an error or
// change the kind's own fields (not the name or versions). The
// result is the head as an object whose versions hold the new one only.
func (k *objects[O, V, H]) add(ctx context.Context, s *Store, op errs.Op, vault, name string, ver V, value []byte,
	check func(o *O, exists bool) error) (*O, error) {
	ver = k.stripped(ver)
	var out *O
	err := k.retry(op, vault, name, func() error {
		h, raw, exists, err := k.readHead(ctx, s, op, vault, name)
		if err != nil {
			return err
		}
		obj := k.view(h)
		if err := check(obj, exists); err != nil {
			return err
		}
		k.setHead(h, obj) // check may change the kind's own fields
		m := k.meta(h)
		var ops []kv.Op
		switch {
		case !exists:
			m.Name, m.Gen = name, newGen()
		case m.legacy():
			if ops, err = k.upgrade(vault, name, h); err != nil {
				return err
			}
		}
		vop, err := k.versionPut(vault, name, m.Gen, m.Seq, ver)
		if err != nil {
			return err
		}
		m.Seq++
		latest := ver
		m.Latest = &latest
		ops = append(ops, vop)
		if k.values != "" {
			ops = append(ops, kv.Put(k.valueKey(vault, name, k.id(&ver)), value))
		}
		if err := k.commitHead(ctx, s, vault, name, raw, h, ops); err != nil {
			return err
		}
		out = k.view(h)
		return nil
	})
	return out, err
}

// head returns an object (possibly soft-deleted) with its latest version
// only: one read, however many versions it has.
func (k *objects[O, V, H]) head(ctx context.Context, s *Store, op errs.Op, vault, name string) (*O, error) {
	h, exists, err := k.viewHead(ctx, s, op, vault, name)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, errs.E(op, errs.NotExist)
	}
	return k.view(h), nil
}

// version returns an object's head (latest version only) and one of its
// versions (the latest when version is empty) without reading the others.
// The version is errs.NotExist when the object has no such version.
func (k *objects[O, V, H]) version(ctx context.Context, s *Store, op errs.Op, vault, name, version string) (*O, *V, error) {
	h, exists, err := k.viewHead(ctx, s, op, vault, name)
	if err != nil {
		return nil, nil, err
	}
	if !exists {
		return nil, nil, errs.E(op, errs.NotExist)
	}
	m := k.meta(h)
	obj := k.view(h)
	if m.legacy() {
		vers := m.Versions
		switch {
		case len(vers) == 0:
		case version == "":
			return obj, &vers[len(vers)-1], nil
		default:
			for i := range vers {
				if strings.EqualFold(k.id(&vers[i]), version) {
					return obj, &vers[i], nil
				}
			}
		}
		return nil, nil, errs.E(op, errs.NotExist)
	}
	switch {
	case m.Latest == nil:
		return nil, nil, errs.E(op, errs.NotExist)
	case version == "" || strings.EqualFold(k.id(m.Latest), version):
		latest := *m.Latest
		return obj, &latest, nil
	}
	r, err := k.readVersion(ctx, s, op, vault, name, version)
	if err != nil {
		return nil, nil, err
	}
	if r.Gen != m.Gen {
		return nil, nil, errs.E(op, errs.NotExist) // a leftover of an earlier incarnation
	}
	return obj, &r.V, nil
}

// all returns one object (possibly soft-deleted) with every version,
// oldest first. It reads every version record; head and version do not.
func (k *objects[O, V, H]) all(ctx context.Context, s *Store, op errs.Op, vault, name string) (*O, error) {
	h, exists, err := k.viewHead(ctx, s, op, vault, name)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, errs.E(op, errs.NotExist)
	}
	vers, err := k.allVersions(ctx, s, op, vault, name, h)
	if err != nil {
		return nil, err
	}
	return k.object(h, vers), nil
}

// updateHead applies fn to an object's name, soft-delete state and own
// fields without reading its versions (fn sees the latest version only and
// must not change the versions). Returning keep=false removes the object:
// its head in one transaction, then its versions and values page by page.
// keep=true for an absent name stores a head without versions (a
// certificate whose first version is pending).
func (k *objects[O, V, H]) updateHead(ctx context.Context, s *Store, op errs.Op, vault, name string, fn func(o *O, exists bool) (keep bool, err error)) error {
	var removed *H
	err := k.retry(op, vault, name, func() error {
		h, raw, exists, err := k.readHead(ctx, s, op, vault, name)
		if err != nil {
			return err
		}
		obj := k.view(h)
		keep, err := fn(obj, exists)
		if err != nil {
			return err
		}
		key := k.headKey(vault, name)
		if !keep {
			return k.removeHead(ctx, s, vault, name, raw, h, &removed)
		}
		k.setHead(h, obj)
		if !exists {
			k.meta(h).Gen = newGen()
		}
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
	return k.removeVersions(ctx, s, op, vault, name, removed)
}

// removeHead deletes a head if it still holds raw (nil: it is absent and
// stays so) and hands it to *removed, for the removal of its versions that
// follows the head's.
func (k *objects[O, V, H]) removeHead(ctx context.Context, s *Store, vault, name string, raw []byte, h *H, removed **H) error {
	if raw == nil {
		return nil
	}
	key := k.headKey(vault, name)
	if err := s.kv.Txn(ctx, kv.Check(key, raw), kv.Delete(key)); err != nil {
		return err
	}
	*removed = h
	return nil
}

// removeVersions deletes the version records and values of a removed head's
// incarnation, a page at a time. Records of another generation (a new
// object of the same name, created meanwhile) are left alone.
func (k *objects[O, V, H]) removeVersions(ctx context.Context, s *Store, op errs.Op, vault, name string, h *H) error {
	m := k.meta(h)
	if m.legacy() {
		if k.values == "" {
			return nil
		}
		var ops []kv.Op
		for _, v := range m.Versions {
			ops = append(ops, kv.Remove(k.valueKey(vault, name, k.id(&v))))
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
	prefix := k.versionsPrefix(vault, name)
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
			var rm recordMeta
			if json.Unmarshal(p.Value, &rm) == nil && rm.Gen != m.Gen {
				continue
			}
			ops = append(ops, kv.Remove(p.Key))
			if k.values != "" {
				ops = append(ops, kv.Remove(k.valueKey(vault, name, p.Key[len(prefix):])))
			}
		}
		if len(ops) > 0 {
			if err := s.kv.Txn(ctx, ops...); err != nil {
				return mapErr(op, err)
			}
		}
		after = pairs[len(pairs)-1].Key
	}
}

// updateVersion applies fn to one version (the latest when version is
// empty) and stores it with the head, in one transaction guarded by the
// head. It reads that version only. fn gets the head (latest version only)
// too and may change the object's own fields, and exists=false when the
// object is absent; with an error from fn nothing is stored. The version
// it reports is errs.NotExist if absent.
func (k *objects[O, V, H]) updateVersion(ctx context.Context, s *Store, op errs.Op, vault, name, version string,
	fn func(o *O, ver *V, exists bool) error) (*O, *V, error) {
	var outObj *O
	var outVer *V
	err := k.retry(op, vault, name, func() error {
		h, raw, exists, err := k.readHead(ctx, s, op, vault, name)
		if err != nil {
			return err
		}
		m := k.meta(h)
		if !exists || m.Deleted != nil {
			return fn(k.view(h), nil, exists)
		}
		var ops []kv.Op
		if m.legacy() {
			if ops, err = k.upgrade(vault, name, h); err != nil {
				return err
			}
		}
		obj := k.view(h)
		if m.Latest == nil {
			return fn(obj, nil, true)
		}
		var ver V
		var seq int64
		switch {
		case version == "" || strings.EqualFold(k.id(m.Latest), version):
			ver, seq = *m.Latest, m.Seq-1
		case len(ops) > 0: // just upgraded: the records are in ops
			found := false
			for i, o := range ops {
				r, err := decodeVersion[V](o.Value)
				if err == nil && strings.EqualFold(k.id(&r.V), version) {
					ver, seq, found = r.V, r.Seq, true
					ops = slices.Delete(ops, i, i+1)
					break
				}
			}
			if !found {
				return fn(obj, nil, true)
			}
		default:
			b, err := s.kv.Get(ctx, k.versionKey(vault, name, version))
			if errors.Is(err, kv.ErrNotFound) {
				return fn(obj, nil, true)
			}
			if err != nil {
				return mapErr(op, err)
			}
			r, err := decodeVersion[V](b)
			if err != nil {
				return errs.E(op, errs.Internal, err)
			}
			if r.Gen != m.Gen {
				return fn(obj, nil, true)
			}
			ver, seq = r.V, r.Seq
		}
		if err := fn(obj, &ver, true); err != nil {
			return err
		}
		ver = k.stripped(ver)
		if len(ops) > 0 && strings.EqualFold(k.id(m.Latest), k.id(&ver)) {
			// The upgrade wrote the latest's record already; drop it.
			ops = ops[:len(ops)-1]
		}
		vop, err := k.versionPut(vault, name, m.Gen, seq, ver)
		if err != nil {
			return err
		}
		ops = append(ops, vop)
		if seq == m.Seq-1 {
			latest := ver
			m.Latest = &latest
		}
		k.setHead(h, obj)
		if err := k.commitHead(ctx, s, vault, name, raw, h, ops); err != nil {
			return err
		}
		outObj, outVer = k.view(h), &ver
		return nil
	})
	return outObj, outVer, err
}

// update applies fn to a whole object (every version) and stores the
// result; fn gets a zero object and exists=false when absent, and
// keep=false removes the object. It reads every version, so the services
// use it only where they change many versions at once; the narrower
// methods above serve the request paths. Values are not touched.
func (k *objects[O, V, H]) update(ctx context.Context, s *Store, op errs.Op, vault, name string, fn func(o *O, exists bool) (keep bool, err error)) error {
	var removed *H
	err := k.retry(op, vault, name, func() error {
		h, raw, exists, err := k.readHead(ctx, s, op, vault, name)
		if err != nil {
			return err
		}
		m := k.meta(h)
		obj := k.object(new(H), nil)
		var old []verRecord[V]
		if exists {
			var vers []V
			if m.legacy() {
				vers = slices.Clone(m.Versions)
			} else {
				if old, err = k.versionRecords(ctx, s, op, vault, name, m.Gen); err != nil {
					return err
				}
				for _, r := range old {
					vers = append(vers, r.V)
				}
			}
			obj = k.object(h, vers)
		}
		keep, err := fn(obj, exists)
		if err != nil {
			return err
		}
		if !keep {
			return k.removeHead(ctx, s, vault, name, raw, h, &removed)
		}
		// Write the result as a new generation when the record is new or
		// legacy; else only the version records that changed.
		nh := new(H)
		k.setHead(nh, obj)
		nm := k.meta(nh)
		nm.Gen = m.Gen
		if !exists || m.legacy() {
			nm.Gen, old = newGen(), nil
		}
		stored := make(map[string]verRecord[V], len(old))
		for _, r := range old {
			stored[strings.ToLower(k.id(&r.V))] = r
		}
		var ops []kv.Op
		vers := k.versionsOf(obj)
		keepIDs := make(map[string]bool, len(vers))
		for i, v := range vers {
			v = k.stripped(v)
			id := strings.ToLower(k.id(&v))
			keepIDs[id] = true
			seq := int64(i)
			if r, ok := stored[id]; ok {
				seq = r.Seq
				if jsonEqual(r.V, v) {
					continue
				}
			} else if len(old) > 0 {
				seq = old[len(old)-1].Seq + int64(i) + 1 // after every stored one
			}
			vop, err := k.versionPut(vault, name, nm.Gen, seq, v)
			if err != nil {
				return err
			}
			ops = append(ops, vop)
			nm.Seq = max(nm.Seq, seq+1)
		}
		for _, r := range old {
			nm.Seq = max(nm.Seq, r.Seq+1)
			if !keepIDs[strings.ToLower(k.id(&r.V))] {
				ops = append(ops, kv.Remove(k.versionKey(vault, name, k.id(&r.V))))
			}
		}
		if n := len(vers); n > 0 {
			latest := k.stripped(vers[n-1])
			nm.Latest = &latest
		}
		return k.commitHead(ctx, s, vault, name, raw, nh, ops)
	})
	if err != nil || removed == nil {
		return err
	}
	return k.removeVersions(ctx, s, op, vault, name, removed)
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// list returns every object of a vault, ordered by upper-cased name, each
// with its latest version only.
func (k *objects[O, V, H]) list(ctx context.Context, s *Store, op errs.Op, vault string) ([]O, error) {
	heads, err := listJSON[H](ctx, s.kv, op, k.headsPrefix(vault))
	if err != nil {
		return nil, err
	}
	out := make([]O, len(heads))
	for i := range heads {
		out[i] = *k.view(&heads[i])
	}
	return out, nil
}

// listPage returns up to limit objects of a vault whose upper-cased name
// sorts after after, in that order, each with its latest version only: the
// live ones, or the soft-deleted ones when deleted is set. more reports
// whether any follow. It reads the heads in key order a page at a time, so
// its cost is that of the page (plus any heads of the other kind skipped).
func (k *objects[O, V, H]) listPage(ctx context.Context, s *Store, op errs.Op, vault, after string, limit int, deleted bool) (objs []O, more bool, err error) {
	prefix := k.headsPrefix(vault)
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
			h := new(H)
			if err := json.Unmarshal(p.Value, h); err != nil {
				return nil, false, errs.E(op, errs.Internal, err)
			}
			if (k.meta(h).Deleted != nil) != deleted {
				continue
			}
			if len(objs) == limit {
				return objs, true, nil
			}
			objs = append(objs, *k.view(h))
		}
		if len(pairs) < chunk {
			return objs, false, nil
		}
		cursor = pairs[len(pairs)-1].Key
		chunk = min(chunk*2, 1000) // skipping many of the other kind
	}
}

// create stores an object with every version and value (a restore), under
// a new generation, if the name is free (errs.Exist otherwise). Versions
// and values that do not fit in the final transaction are written ahead
// of it; should it fail, they stay invisible (their generation has no
// head) and go with the name's next purge. values maps version ids to
// values; a kind without values ignores it.
func (k *objects[O, V, H]) create(ctx context.Context, s *Store, op errs.Op, vault string, o *O, values map[string][]byte) error {
	h := new(H)
	k.setHead(h, o)
	m := k.meta(h)
	name := m.Name
	vers := k.versionsOf(o)
	m.Gen, m.Seq, m.Versions = newGen(), int64(len(vers)), nil
	var ops []kv.Op
	for i, v := range vers {
		v = k.stripped(v)
		vop, err := k.versionPut(vault, name, m.Gen, int64(i), v)
		if err != nil {
			return errs.E(op, errs.Internal, err)
		}
		ops = append(ops, vop)
		if k.values != "" {
			val := values[k.id(&v)]
			if val == nil {
				val = []byte{}
			}
			ops = append(ops, kv.Put(k.valueKey(vault, name, k.id(&v)), val))
		}
	}
	if n := len(vers); n > 0 {
		latest := k.stripped(vers[n-1])
		m.Latest = &latest
	}
	err := k.commitHead(ctx, s, vault, name, nil, h, ops)
	if errors.Is(err, kv.ErrConflict) {
		return errs.E(op, errs.Exist, err)
	}
	return mapErr(op, err)
}

// migrateLegacy converts every head of the legacy layout to the
// per-version layout, a page of heads at a time, and returns how many it
// converted. Reading and writing need no migration (legacy records are
// read as they are and converted by their first write); running this once
// at startup makes the per-version costs hold for old data as well. It is
// safe to run concurrently with traffic and on several replicas: each
// conversion is guarded by the record it read.
func (k *objects[O, V, H]) migrateLegacy(ctx context.Context, s *Store, op errs.Op) (int, error) {
	n, after := 0, ""
	for {
		pairs, err := s.kv.ListRange(ctx, k.heads, after, sweepPage)
		if err != nil {
			return n, mapErr(op, err)
		}
		if len(pairs) == 0 {
			return n, nil
		}
		for _, p := range pairs {
			h := new(H)
			if err := json.Unmarshal(p.Value, h); err != nil {
				return n, errs.E(op, errs.Internal, err)
			}
			if !k.meta(h).legacy() {
				continue
			}
			// <heads><vault>/<NAME>
			vault, name, ok := strings.Cut(p.Key[len(k.heads):], "/")
			if !ok {
				continue
			}
			converted := false
			err := k.update(ctx, s, op, vault, name, func(_ *O, exists bool) (bool, error) {
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

// getValue, putValue and deleteValue reach one version's value.
func (k *objects[O, V, H]) getValue(ctx context.Context, s *Store, op errs.Op, vault, name, version string) ([]byte, error) {
	b, err := s.kv.Get(ctx, k.valueKey(vault, name, version))
	return b, mapErr(op, err)
}

func (k *objects[O, V, H]) putValue(ctx context.Context, s *Store, op errs.Op, vault, name, version string, value []byte) error {
	return mapErr(op, s.kv.Put(ctx, k.valueKey(vault, name, version), value))
}

// deleteValue removes one version's value (absent is fine).
func (k *objects[O, V, H]) deleteValue(ctx context.Context, s *Store, op errs.Op, vault, name, version string) error {
	err := s.kv.Delete(ctx, k.valueKey(vault, name, version))
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return mapErr(op, err)
	}
	return nil
}

// sweep removes every object of this kind in a vault, for a vault that is
// purged (or created over the remains of one).
func (k *objects[O, V, H]) sweep(ctx context.Context, s *Store, op errs.Op, vault string) error {
	for _, prefix := range k.sweepPrefixes(vault) {
		if err := s.deletePrefix(ctx, op, prefix); err != nil {
			return err
		}
	}
	return nil
}

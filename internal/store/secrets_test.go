package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
)

// TestAddVersionLosesRaceAndRetries: a SET whose head changed between its
// read and its transaction (another replica added a version) must not
// overwrite that version: the head's compare fails, the SET re-reads and
// adds its version after the other. Run on memkv and on a real etcd, both
// encrypted, so the compare goes through the decorator and etcd's Txn.
func TestAddVersionLosesRaceAndRetries(t *testing.T) {
	backends := map[string]func(t *testing.T) kv.Store{
		"memkv": func(*testing.T) kv.Store { return memkv.New() },
		"etcd": func(t *testing.T) kv.Store {
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			s, err := etcdkv.Open(etcdkv.Options{Endpoints: []string{etcdtest.Endpoint(t)}, Prefix: "store-" + hex.EncodeToString(b) + "/"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			enc := crypt.Wrap(open(t), crypt.NewRandomRing())
			defer enc.Close()
			s := New(enc)
			first := model.SecretVersion{Version: fmt.Sprintf("%032x", 1), Enabled: true}
			if _, err := s.AddSecretVersion(ctx, "kv", "a", first, "one", func(*model.Secret, bool) error { return nil }); err != nil {
				t.Fatal(err)
			}
			raced := false
			mine := model.SecretVersion{Version: fmt.Sprintf("%032x", 3), Enabled: true}
			_, err := s.AddSecretVersion(ctx, "kv", "a", mine, "three", func(*model.Secret, bool) error {
				if raced {
					return nil
				}
				raced = true
				// Another writer adds version 2 behind this SET's back,
				// straight through the kv layer as another process would.
				h, raw, _, err := s.readHead(ctx, "test", "kv", "a")
				if err != nil {
					return err
				}
				other := model.SecretVersion{Version: fmt.Sprintf("%032x", 2), Enabled: true}
				vop, _ := versionPut("kv", "a", h.Gen, h.Seq, other)
				h.Seq++
				h.Latest = &other
				b, _ := json.Marshal(h)
				return enc.Txn(ctx, kv.Check(secretKey("kv", "a"), raw), kv.Put(secretKey("kv", "a"), b), vop,
					kv.Put(secretValueKey("kv", "a", other.Version), []byte("two")))
			})
			if err != nil {
				t.Fatalf("AddSecretVersion after a lost race = %v", err)
			}
			sec, err := s.GetSecret(ctx, "kv", "a")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, v := range sec.Versions {
				ids = append(ids, v.Version[31:])
			}
			if fmt.Sprint(ids) != "[1 2 3]" {
				t.Errorf("versions after the race = %v, want [1 2 3] (none lost, in order)", ids)
			}
			// Each version has its own place in the order: a SET that
			// ignored the race would reuse the other's sequence number.
			h, _, _, err := s.readHead(ctx, "test", "kv", "a")
			if err != nil {
				t.Fatal(err)
			}
			recs, err := s.versionRecords(ctx, "test", "kv", "a", h.Gen)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []int64
			for _, r := range recs {
				seqs = append(seqs, r.Seq)
			}
			if fmt.Sprint(seqs) != "[0 1 2]" || h.Seq != 3 {
				t.Errorf("sequence numbers = %v, head at %d; want [0 1 2], 3", seqs, h.Seq)
			}
			if _, v, err := s.GetSecretVersion(ctx, "kv", "a", ""); err != nil || v.Version != mine.Version {
				t.Errorf("latest = %+v, %v; want the retried SET's version", v, err)
			}
		})
	}
}

// TestSplitOps: chunks respect both the operation count and the byte
// budget, keep the order, and lose nothing.
func TestSplitOps(t *testing.T) {
	big := make([]byte, maxTxnBytes/3)
	var ops []kv.Op
	for i := range 300 {
		v := []byte("v")
		if i%50 == 0 {
			v = big
		}
		ops = append(ops, kv.Put(fmt.Sprintf("k%03d", i), v))
	}
	chunks := splitOps(ops)
	var joined []kv.Op
	for _, c := range chunks {
		if len(c) == 0 || len(c) > kv.MaxTxnOps || (len(c) > 1 && opsBytes(c) > maxTxnBytes) {
			t.Errorf("chunk of %d ops, %d bytes", len(c), opsBytes(c))
		}
		joined = append(joined, c...)
	}
	if len(joined) != len(ops) {
		t.Fatalf("chunks hold %d ops, want %d", len(joined), len(ops))
	}
	for i := range ops {
		if joined[i].Key != ops[i].Key {
			t.Fatalf("op %d is %s, want %s", i, joined[i].Key, ops[i].Key)
		}
	}
	if len(chunks) < 3 {
		t.Errorf("%d chunks for 300 ops, want at least 3", len(chunks))
	}
}

// TestCreateSecretBeyondOneRequest: a restore whose values add up to more
// than etcd accepts in one request (1.5 MiB by default) is written in
// several transactions and appears whole.
func TestCreateSecretBeyondOneRequest(t *testing.T) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	raw, err := etcdkv.Open(etcdkv.Options{Endpoints: []string{etcdtest.Endpoint(t)}, Prefix: "store-" + hex.EncodeToString(b) + "/"})
	if err != nil {
		t.Fatal(err)
	}
	s := New(crypt.Wrap(raw, crypt.NewRandomRing()))
	defer s.KV().Close()
	ctx := context.Background()
	sec := &model.Secret{Name: "big"}
	values := map[string]string{}
	value := string(make([]byte, 25*1024))
	for i := range 80 { // 2 MB of values
		id := fmt.Sprintf("%032x", i+1)
		sec.Versions = append(sec.Versions, model.SecretVersion{Version: id, Enabled: true})
		values[id] = value
	}
	if err := s.CreateSecret(ctx, "kv", sec, values); err != nil {
		t.Fatalf("CreateSecret of 2 MB = %v", err)
	}
	got, err := s.GetSecret(ctx, "kv", "big")
	if err != nil || len(got.Versions) != 80 {
		t.Fatalf("GetSecret = %d versions, %v; want 80", len(got.Versions), err)
	}
	if v, err := s.GetSecretValue(ctx, "kv", "big", sec.Versions[0].Version); err != nil || len(v) != len(value) {
		t.Errorf("first value = %d bytes, %v", len(v), err)
	}
}

// TestMigrateLegacySecrets: the startup migration converts every legacy
// record, keeps every version and the soft-delete state, and is a no-op the
// second time.
func TestMigrateLegacySecrets(t *testing.T) {
	ctx := context.Background()
	raw := memkv.New()
	s := New(raw)
	deleted := &model.DeletedInfo{DeletedDate: 5, ScheduledPurgeDate: 10}
	for i := range 150 { // more than one page
		rec := secretHead{Name: fmt.Sprintf("Sec%03d", i), Versions: []model.SecretVersion{
			{Version: fmt.Sprintf("%032x", 1), Enabled: true}, {Version: fmt.Sprintf("%032x", 2), Tags: map[string]string{"i": fmt.Sprint(i)}},
		}}
		if i%2 == 0 {
			rec.Deleted = deleted
		}
		b, _ := json.Marshal(rec)
		if err := raw.Put(ctx, secretKey("kv", rec.Name), b); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.MigrateLegacySecrets(ctx)
	if err != nil || n != 150 {
		t.Fatalf("MigrateLegacySecrets = %d, %v; want 150", n, err)
	}
	for i := range 150 {
		name := fmt.Sprintf("sec%03d", i)
		h, _, _, err := s.readHead(ctx, "test", "kv", name)
		if err != nil || h.legacy() || len(h.Versions) != 0 || (i%2 == 0) != (h.Deleted != nil) {
			t.Fatalf("%s after migration: %+v, %v", name, h, err)
		}
		sec, err := s.GetSecret(ctx, "kv", name)
		if err != nil || len(sec.Versions) != 2 || sec.Latest().Tags["i"] != fmt.Sprint(i) {
			t.Fatalf("%s versions after migration: %+v, %v", name, sec, err)
		}
	}
	if n, err := s.MigrateLegacySecrets(ctx); err != nil || n != 0 {
		t.Errorf("second migration = %d, %v; want 0", n, err)
	}
}

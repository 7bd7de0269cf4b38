package etcdkv

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
	"github.com/coffer-dev/coffer/internal/kv/kvtest"
)

// newStore gives each subtest its own namespace in one embedded etcd.
func newStore(t *testing.T) kv.Store {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	s, err := Open(Options{Endpoints: []string{etcdtest.Endpoint(t)}, Prefix: "t-" + hex.EncodeToString(b) + "/"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	kvtest.Run(t, newStore)
	kvtest.RunConcurrent(t, newStore)
}

func TestConformanceEncrypted(t *testing.T) {
	ring := crypt.NewRandomRing()
	kvtest.Run(t, func(t *testing.T) kv.Store { return crypt.Wrap(newStore(t), ring) })
}

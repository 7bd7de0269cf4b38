// Package etcdtest runs one embedded etcd server (go.etcd.io/etcd/server/v3/embed)
// on 127.0.0.1 per test binary, for tests of the etcd backend and of
// Coffer servers sharing it. Import it only from _test.go files.
package etcdtest

import (
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

var (
	once     sync.Once
	endpoint string
	startErr error
)

// Endpoint returns the client URL of the shared embedded etcd, starting it
// on first use. It lives until the test binary exits; tests isolate
// themselves with key prefixes.
func Endpoint(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		dir, err := os.MkdirTemp("", "coffer-etcd-")
		if err != nil {
			startErr = err
			return
		}
		cfg := embed.NewConfig()
		cfg.Dir = dir
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{"stderr"}
		local, _ := url.Parse("http://127.0.0.1:0")
		cfg.ListenClientUrls = []url.URL{*local}
		cfg.ListenPeerUrls = []url.URL{*local}
		cfg.AdvertiseClientUrls = []url.URL{*local}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			startErr = err
			return
		}
		select {
		case <-e.Server.ReadyNotify():
		case <-time.After(30 * time.Second):
			startErr = errTimeout
			return
		}
		endpoint = "http://" + e.Clients[0].Addr().String()
	})
	if startErr != nil {
		t.Fatalf("embedded etcd: %v", startErr)
	}
	return endpoint
}

type timeoutError struct{}

func (timeoutError) Error() string { return "not ready after 30s" }

var errTimeout = timeoutError{}

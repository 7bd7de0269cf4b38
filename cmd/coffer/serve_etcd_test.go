package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
)

// TestServeEtcdTLSFlags: `coffer serve` with --etcd-cacert, --etcd-cert,
// --etcd-key, --etcd-username and --etcd-password starts against an etcd
// that requires client certificates and authentication, and serves; and
// without the client certificate it refuses to start.
func TestServeEtcdTLSFlags(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	ep := etcdtest.StartTLS(t, certs)
	etcdtest.EnableAuth(t, ep, certs, "root", "root-pw-51d0")
	base := []string{"serve", "--addr", "127.0.0.1:0", "--etcd-endpoints", ep, "--etcd-prefix", "flags/",
		"--etcd-cacert", certs.CA, "--log-level", "error"}

	t.Run("refused without a client certificate", func(t *testing.T) {
		root := newRootCmd()
		root.SetArgs(append(base, "--data-dir", t.TempDir(), "--etcd-username", "root", "--etcd-password", "root-pw-51d0"))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := root.ExecuteContext(ctx); err == nil {
			t.Fatal("serve started without the client certificate")
		}
	})

	t.Run("serves with every flag", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("COFFER_ETCD_PASSWORD", "root-pw-51d0") // the flag's fallback
		root := newRootCmd()
		root.SetArgs(append(base, "--data-dir", dir, "--etcd-cert", certs.ClientCert, "--etcd-key", certs.ClientKey,
			"--etcd-username", "root"))
		ctx, cancel := context.WithCancel(context.Background())
		// stopped is closed when serve returns (serveErr set), so both the
		// wait below and the cleanup can observe it.
		stopped := make(chan struct{})
		var serveErr error
		go func() { serveErr = root.ExecuteContext(ctx); close(stopped) }()
		defer func() {
			cancel()
			select {
			case <-stopped:
				if serveErr != nil && !t.Failed() {
					t.Errorf("serve: %v", serveErr)
				}
			case <-time.After(60 * time.Second):
				t.Error("serve did not stop within 60 s of its context's end")
			}
		}()
		var info *app.ServerInfo
		for deadline := time.Now().Add(90 * time.Second); info == nil; {
			select {
			case <-stopped:
				t.Fatalf("serve stopped: %v", serveErr)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("serve did not start in 90 s")
			}
			if _, err := os.Stat(filepath.Join(dir, app.ServerInfoFile)); err == nil {
				info, _ = app.ReadServerInfo(dir)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// server.json is in the data directory, the data in etcd: the
		// server answers, and bbolt's file was never created.
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // only /healthz is asked
		resp, err := c.Get(info.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("/healthz = %d", resp.StatusCode)
		}
		if _, err := os.Stat(filepath.Join(dir, app.DBFile)); err == nil {
			t.Error("serve created the bbolt file although --etcd-endpoints was given")
		}
	})
}

package runproxy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/netlimit"
	"github.com/coffer-dev/coffer/internal/netlimit/netlimittest"
	"github.com/coffer-dev/coffer/internal/runproxy"
)

// TestProxyCutsOffSlowClients: another local user, without the proxy
// credentials, cannot hold the proxy's connections with a body that never
// comes (answered 407, then drained) or with byte-by-byte headers.
func TestProxyCutsOffSlowClients(t *testing.T) {
	p := &runproxy.Proxy{Front: http.NotFoundHandler(), ServerAddr: "127.0.0.1:1", Profile: cloud.AzureCloud,
		User: proxyUser, Password: proxyPassword,
		Limits: netlimit.Limits{ReadHeaderTimeout: 500 * time.Millisecond, ReadTimeout: time.Second}}
	addr, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dial := netlimittest.From("127.0.0.1", addr)
	t.Run("slow body", func(t *testing.T) {
		netlimittest.SlowBody(t, dial, runproxy.IMDSHost, "http://169.254.169.254/metadata/identity/oauth2/token", 10*time.Second)
	})
	t.Run("slowloris", func(t *testing.T) {
		netlimittest.Slowloris(t, dial, runproxy.IMDSHost, 10*time.Second)
	})
}

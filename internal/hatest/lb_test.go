package hatest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadBalancer: clients that know only the load balancer's name
// (coffer-lb.test, on the replicas' certificates through --tls-name) and
// trust Coffer's CA get a token and write and read secrets while each
// connection lands on the other replica, as a round-robin balancer
// would send them.
func TestLoadBalancer(t *testing.T) {
	w := newWorld(t)
	var n atomic.Int64
	hits := map[string]*atomic.Int64{w.a.env.Addr: {}, w.b.env.Addr: {}}
	d := &net.Dialer{Timeout: 5 * time.Second}
	lb := &http.Client{Timeout: reqTimeout, Transport: &http.Transport{
		DisableKeepAlives: true, // one connection per request: each is balanced
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			addr := w.a.env.Addr
			if n.Add(1)%2 == 0 {
				addr = w.b.env.Addr
			}
			hits[addr].Add(1)
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: w.a.env.CA.Pool(), MinVersion: tls.VersionTLS12},
	}}
	via := &replica{name: "lb", env: w.a.env, http: lb}
	admin := w.a.env.Admin
	res := via.do("POST", "https://"+lbName+"/"+w.a.env.Instance.TenantID+"/oauth2/v2.0/token", "",
		formValues("client_credentials", admin.ClientID, admin.ClientSecret, vaultScope))
	via.kvTok = tokenFrom(t, res)
	for i := range 10 {
		u := fmt.Sprintf("https://%s/secrets/lb-%d?api-version=7.6", lbName, i)
		if res := via.do("PUT", u, via.kvTok, map[string]string{"value": fmt.Sprint("v", i)}); res.status != 200 {
			t.Fatalf("set %d through the balancer: %s", i, res)
		}
		if got := secretValue(via.do("GET", u, via.kvTok, nil)); got != fmt.Sprint("v", i) {
			t.Fatalf("get %d through the balancer = %q", i, got)
		}
	}
	for addr, h := range hits {
		if h.Load() < 5 {
			t.Errorf("replica %s got %d connections, want about half", addr, h.Load())
		}
	}
}

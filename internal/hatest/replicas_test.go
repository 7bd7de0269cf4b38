package hatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
	"github.com/coffer-dev/coffer/internal/testenv"
)

const (
	vaultScope = "https://vault.azure.net/.default"
	armScope   = "https://management.azure.com/.default"
	// reqTimeout is the clients' patience: longer than any answer Coffer
	// should take, so a hang shows as a failure, not as a retry.
	reqTimeout = 10 * time.Second
	// lbName is the load balancer's name, on the replicas' certificates
	// (--tls-name).
	lbName = "coffer-lb.test"
)

// replica is one Coffer server with the admin's tokens.
type replica struct {
	name          string
	env           *testenv.Env
	http          *http.Client
	kvTok, armTok string
}

// world is a 3-member etcd cluster and two Coffer replicas on it.
type world struct {
	etcd *etcdtest.Cluster
	a, b *replica
}

// newWorld starts the cluster and the replicas; opts adjust a replica's
// configuration before it starts.
func newWorld(t *testing.T, opts ...func(name string, cfg *app.Config)) *world {
	t.Helper()
	c := etcdtest.StartCluster(t, 3)
	shared := t.TempDir()
	start := func(name string) *testenv.Env {
		cfg := app.Config{
			Addr: "127.0.0.1:0", Cloud: cloud.Local, DataDir: filepath.Join(t.TempDir(), name),
			EtcdEndpoints: c.Endpoints(), EtcdPrefix: "ha/", MasterKeyFile: filepath.Join(shared, "master.key"),
			TLS:    app.ServerTLS{Names: []string{lbName}},
			Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError})),
		}
		for _, o := range opts {
			o(name, &cfg)
		}
		s, err := app.Start(context.Background(), cfg)
		if err != nil {
			t.Fatalf("starting replica %s: %v", name, err)
		}
		t.Cleanup(func() { s.Close() })
		return &testenv.Env{Server: s, T: t}
	}
	a, b := start("a"), start("b")
	admin := a.Admin // a started first and bootstrapped
	if admin == nil {
		t.Fatal("replica a did not create the admin")
	}
	w := &world{etcd: c}
	for _, r := range []**replica{&w.a, &w.b} {
		env := a
		name := "a"
		if r == &w.b {
			env, name = b, "b"
		}
		cl := env.Client()
		cl.Timeout = reqTimeout
		rep := &replica{name: name, env: env, http: cl}
		rep.kvTok = rep.token(t, admin.ClientID, admin.ClientSecret, vaultScope)
		rep.armTok = rep.token(t, admin.ClientID, admin.ClientSecret, armScope)
		*r = rep
	}
	return w
}

func (r *replica) token(t *testing.T, id, secret, scope string) string {
	t.Helper()
	res := r.do("POST", r.env.AuthorityHost()+r.env.Instance.TenantID+"/oauth2/v2.0/token", "",
		url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {scope}})
	if res.err != nil || res.status != 200 {
		t.Fatalf("token from %s: %s", r.name, res)
	}
	return tokenFrom(t, res)
}

// tokenFrom is the access token of a 200 token response.
func tokenFrom(t *testing.T, res result) string {
	t.Helper()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if res.status != 200 || json.Unmarshal(res.body, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token response: %s", res)
	}
	return tr.AccessToken
}

// result is one request's outcome.
type result struct {
	status int
	header http.Header
	body   []byte
	err    error // transport error or timeout: no answer
	took   time.Duration
}

func (r result) String() string {
	if r.err != nil {
		return fmt.Sprintf("no answer after %v: %v", r.took.Round(time.Millisecond), r.err)
	}
	return fmt.Sprintf("%d after %v: %.200s", r.status, r.took.Round(time.Millisecond), r.body)
}

// do sends a request; body is JSON-encoded, or form-encoded when it is
// url.Values.
func (r *replica) do(method, rawURL, token string, body any) result {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		return result{err: err}
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := r.http.Do(req)
	if err != nil {
		return result{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: err, took: time.Since(start)}
}

func (r *replica) secretURL(name string) string {
	return strings.TrimSuffix(r.env.VaultURL(r.env.Instance.DefaultVault), "/") + "/secrets/" + name + "?api-version=7.6"
}

func (r *replica) setSecret(name, value string) result {
	return r.do("PUT", r.secretURL(name), r.kvTok, map[string]string{"value": value})
}

func (r *replica) getSecret(name string) result {
	return r.do("GET", r.secretURL(name), r.kvTok, nil)
}

// secretValue is the value of a 200 GET, or "".
func secretValue(res result) string {
	var s struct{ Value string }
	if res.err != nil || res.status != 200 || json.Unmarshal(res.body, &s) != nil {
		return ""
	}
	return s.Value
}

// load runs writers and readers against both replicas: each worker
// writes a new secret through one replica and reads it back through the
// other. It records every outcome with its time and every acknowledged
// write.
type load struct {
	mu      sync.Mutex
	start   time.Time
	events  []event
	acked   map[string]string // secret name → value, for 200 SETs
	stop    chan struct{}
	wg      sync.WaitGroup
	workers int
}

type event struct {
	at  time.Duration // since the load started, when the request was sent
	ok  bool
	res result
	op  string
}

// startLoad starts workers; each sleeps pause between its requests (light
// load: the machine is shared).
func (w *world) startLoad(workers int, pause time.Duration) *load {
	l := &load{start: time.Now(), acked: map[string]string{}, stop: make(chan struct{}), workers: workers}
	for i := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			wr, rd := w.a, w.b
			if i%2 == 1 {
				wr, rd = w.b, w.a
			}
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				name := fmt.Sprintf("load-%d-%d", i, n)
				value := fmt.Sprintf("v-%d-%d-%d", i, n, time.Now().UnixNano())
				at := time.Since(l.start)
				res := wr.setSecret(name, value)
				l.record(at, "set via "+wr.name, res, res.err == nil && res.status == 200)
				if res.err == nil && res.status == 200 {
					l.mu.Lock()
					l.acked[name] = value
					l.mu.Unlock()
					at = time.Since(l.start)
					got := rd.getSecret(name)
					l.record(at, "get via "+rd.name, got, secretValue(got) == value)
				}
				time.Sleep(pause)
			}
		}()
	}
	return l
}

func (l *load) record(at time.Duration, op string, res result, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, event{at: at, ok: ok, res: res, op: op})
}

// finish stops the load and returns its events.
func (l *load) finish() []event {
	close(l.stop)
	l.wg.Wait()
	return l.events
}

// failures are the failed events, described.
func failures(events []event) []string {
	var out []string
	for _, e := range events {
		if !e.ok {
			out = append(out, fmt.Sprintf("at %v %s: %s", e.at.Round(time.Millisecond), e.op, e.res))
		}
	}
	return out
}

// checkAcked reads every acknowledged write back through replica r.
func (w *world) checkAcked(t *testing.T, r *replica, acked map[string]string) {
	t.Helper()
	missing := 0
	for name, want := range acked {
		got := r.getSecret(name)
		if secretValue(got) != want {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged write %s: %s", name, got)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged writes are missing or wrong", missing, len(acked))
	}
}

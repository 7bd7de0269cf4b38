package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// fixture is what prepare left in the data directory.
type fixture struct {
	cred        string   // machine credential of load-vm
	firstCreds  []string // credentials of VMs that never asked for a token
	manyVersion string   // name of the secret with many versions
}

const (
	smallVault = "list-small"
	largeVault = "list-large"
	vaultRes   = "https://vault.azure.net"
	apiVersion = "7.6"
)

func vaultURL(vault, path string) string {
	return "https://" + vault + ".vault.azure.net" + path
}

func run(ctx context.Context, c config, stdout, stderr io.Writer) error {
	tmp, err := os.MkdirTemp("", "coffer-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "coffer-load: "+format+"\n", args...) }

	bin := c.coffer
	if bin == "" {
		bin = filepath.Join(tmp, "coffer")
		logf("building coffer")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/coffer-dev/coffer/cmd/coffer").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build ./cmd/coffer: %v: %s", err, out)
		}
	}
	dataDir := filepath.Join(tmp, "data")
	var etcdEndpoints []string
	switch c.store {
	case "", "bbolt":
		c.store = "bbolt"
	case "etcd":
		ep, etcdProc, err := startEtcd(ctx, tmp)
		if err != nil {
			return err
		}
		defer etcdProc.stop()
		etcdEndpoints = []string{ep}
	default:
		return fmt.Errorf("-store %q: want bbolt or etcd", c.store)
	}
	logf("preparing %s (%s): %d + %d secrets, %d versions, %d VMs", dataDir, c.store, c.listSmall, c.listLarge, c.versionsLarge, c.firstTokens+1)
	fx, err := prepare(ctx, dataDir, etcdEndpoints, c)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dataDir, app.CAFile))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)

	// The real server, as `coffer serve` runs it: bbolt, default logging.
	cofferAddr, err := freeAddr()
	if err != nil {
		return err
	}
	serveArgs := []string{"serve", "--data-dir", dataDir, "--addr", cofferAddr, "--cloud", "AzureCloud"}
	if len(etcdEndpoints) > 0 {
		serveArgs = append(serveArgs, "--etcd-endpoints", etcdEndpoints[0])
	}
	cofferLog := filepath.Join(tmp, "coffer.log")
	coffer := &target{name: "coffer", client: pinnedClient(cofferAddr, pool, c.workers+c.setWriters)}
	healthz := call{method: http.MethodGet, url: "https://localhost/healthz"}
	start := time.Now()
	srv, err := startProc(cofferLog, bin, serveArgs, nil)
	if err != nil {
		return err
	}
	defer func() { srv.stop() }()
	if _, err := waitReady(ctx, coffer, healthz, srv, start, 60*time.Second); err != nil {
		return withLog(err, cofferLog)
	}
	idleRSS, _ := srv.memory()
	coffer.proc = srv

	// The IMDS front, in its own process like `coffer agent`.
	imdsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	imdsSpecFile := filepath.Join(tmp, "imds.json")
	if err := writeJSON(imdsSpecFile, imdsSpec{Addr: imdsAddr, ServerURL: "https://localhost:" + port(cofferAddr),
		CAFile: filepath.Join(dataDir, app.CAFile), Credential: fx.cred}); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	imdsProc, err := startProc(filepath.Join(tmp, "imds.log"), self, nil, []string{childEnv + "=imds", specEnv + "=" + imdsSpecFile})
	if err != nil {
		return err
	}
	defer imdsProc.stop()
	front := &target{name: "imds", client: plainClient(c.workers), proc: imdsProc}
	imdsBase := "http://" + imdsAddr
	versions := call{method: http.MethodGet, url: imdsBase + "/metadata/versions", header: http.Header{"Metadata": {"true"}}}
	if _, err := waitReady(ctx, front, versions, imdsProc, time.Now(), 30*time.Second); err != nil {
		return withLog(err, filepath.Join(tmp, "imds.log"))
	}

	// The calls, each captured from Coffer for the ceiling to replay.
	msiURL := "https://localhost/msi/token?api-version=2019-08-01&resource=" + url.QueryEscape(vaultRes)
	msiCall := func(cred string) call {
		return call{method: http.MethodGet, url: msiURL, header: http.Header{"X-Identity-Header": {cred}}}
	}
	tokResp, err := coffer.capture(msiCall(fx.cred))
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(tokResp.Body, &tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("token response %s: %v", tokResp.Body, err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
	get := func(vault, path string) call {
		return call{method: http.MethodGet, url: vaultURL(vault, path+"?api-version="+apiVersion), header: bearer}
	}
	getCall := get("default", "/secrets/bench")
	listSmallCall := get(smallVault, "/secrets")
	listLargeCall := get(largeVault, "/secrets")
	oneVersionCall := get("default", "/secrets/bench")
	manyVersionsCall := get("default", "/secrets/"+fx.manyVersion)
	setBody := []byte(`{"value":"durable-set-value-0123456789abcdef0123456789abcdef"}`)
	setHdr := http.Header{"Authorization": bearer["Authorization"], "Content-Type": {"application/json"}}
	setCalls := make([]call, c.setWriters)
	for i := range setCalls {
		setCalls[i] = call{method: http.MethodPut, url: vaultURL("default", "/secrets/set-w"+strconv.Itoa(i)+"?api-version="+apiVersion),
			header: setHdr, body: setBody}
	}
	imdsCall := call{method: http.MethodGet, url: imdsBase + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + url.QueryEscape(vaultRes),
		header: http.Header{"Metadata": {"true"}}}

	responses := map[string]captured{}
	for _, cl := range append([]call{healthz, getCall, listSmallCall, listLargeCall, manyVersionsCall, msiCall(fx.cred)}, setCalls...) {
		r, err := coffer.capture(cl)
		if err != nil {
			return err
		}
		responses[cl.key()] = r
	}
	ir, err := front.capture(imdsCall)
	if err != nil {
		return err
	}
	responses[http.MethodGet+" "+imdsCall.url[len(imdsBase):]] = ir

	// The ceiling, in its own process.
	certFile, keyFile, ceilPool, err := ceilingCert(tmp)
	if err != nil {
		return err
	}
	ceilAddr, err := freeAddr()
	if err != nil {
		return err
	}
	ceilPlain, err := freeAddr()
	if err != nil {
		return err
	}
	ceilSpecFile := filepath.Join(tmp, "ceiling.json")
	if err := writeJSON(ceilSpecFile, ceilingSpec{TLSAddr: ceilAddr, PlainAddr: ceilPlain, CertFile: certFile, KeyFile: keyFile, Responses: responses}); err != nil {
		return err
	}
	ceilEnv := []string{childEnv + "=ceiling", specEnv + "=" + ceilSpecFile}
	ceiling := &target{name: "ceiling", client: pinnedClient(ceilAddr, ceilPool, c.workers+c.setWriters)}
	start = time.Now()
	ceilProc, err := startProc(filepath.Join(tmp, "ceiling.log"), self, nil, ceilEnv)
	if err != nil {
		return err
	}
	defer func() { ceilProc.stop() }()
	if _, err := waitReady(ctx, ceiling, healthz, ceilProc, start, 30*time.Second); err != nil {
		return withLog(err, filepath.Join(tmp, "ceiling.log"))
	}
	ceilIdleRSS, _ := ceilProc.memory()
	ceiling.proc = ceilProc
	ceilingIMDS := &target{name: "ceiling", client: plainClient(c.workers), proc: ceilProc}
	ceilIMDSCall := imdsCall
	ceilIMDSCall.url = "http://" + ceilPlain + imdsCall.url[len(imdsBase):]

	w := &table{out: stdout}
	w.header()
	fixed := func(t *target, cl call) func(int) error { return func(int) error { return t.do(cl) } }
	throughput := func(name string, workers int, a, b *target, ca, cb func(*target) func(int) error) {
		logf("%s", name)
		ra := a.measure(func() result { return load(ctx, ca(a), c.duration, c.maxRequests, workers) })
		rb := b.measure(func() result { return load(ctx, cb(b), c.duration, c.maxRequests, workers) })
		w.row(name, ra.throughput(), rb.throughput(), ratio(ra.rate(), rb.rate()))
	}
	both := func(cl call) func(*target) func(int) error {
		return func(t *target) func(int) error { return fixed(t, cl) }
	}
	throughput(fmt.Sprintf("secret GET (bearer + access policy), %d connections", c.workers), c.workers, coffer, ceiling, both(getCall), both(getCall))
	sets := func(t *target) func(int) error {
		return func(i int) error { return t.do(setCalls[i]) }
	}
	throughput(fmt.Sprintf("durable secret SET, %d writers", c.setWriters), c.setWriters, coffer, ceiling, sets, sets)
	throughput(fmt.Sprintf("cached MI token, App Service (/msi/token), %d connections", c.workers), c.workers, coffer, ceiling,
		both(msiCall(fx.cred)), both(msiCall(fx.cred)))
	throughput(fmt.Sprintf("cached MI token, IMDS front (plain HTTP), %d connections", c.workers), c.workers, front, ceilingIMDS,
		both(imdsCall), both(ceilIMDSCall))

	logf("first tokens")
	first := series(ctx, func(i int) error { return coffer.do(msiCall(fx.firstCreds[i])) }, len(fx.firstCreds), c.duration*4)
	firstCeil := series(ctx, func(int) error { return ceiling.do(msiCall(fx.firstCreds[0])) }, len(fx.firstCreds), c.duration*4)
	w.row(fmt.Sprintf("first MI token of a new identity (credential check + RS256), %d identities", len(fx.firstCreds)),
		first.latency(), firstCeil.latency(), ratio(firstCeil.q(0.5).Seconds(), first.q(0.5).Seconds()))

	pair := func(name string, small, large call, smallN, largeN int) {
		logf("%s", name)
		s := series(ctx, func(int) error { return coffer.do(small) }, c.latencyN, c.duration)
		l := series(ctx, func(int) error { return coffer.do(large) }, c.latencyN, c.duration)
		cs := series(ctx, func(int) error { return ceiling.do(small) }, c.latencyN, c.duration)
		cl := series(ctx, func(int) error { return ceiling.do(large) }, c.latencyN, c.duration)
		w.row(fmt.Sprintf("%s, %d", name, smallN), s.latency(), cs.latency(), ratio(cs.q(0.5).Seconds(), s.q(0.5).Seconds()))
		w.row(fmt.Sprintf("%s, %d (p50 %s× the %d case)", name, largeN, ratio(l.q(0.5).Seconds(), s.q(0.5).Seconds()), smallN),
			l.latency(), cl.latency(), ratio(cl.q(0.5).Seconds(), l.q(0.5).Seconds()))
	}
	pair("LIST first page, secrets in vault", listSmallCall, listLargeCall, c.listSmall, c.listLarge)
	pair("GET latest, versions of the secret", oneVersionCall, manyVersionsCall, 1, c.versionsLarge)

	rss, peak, anon := srv.memoryAnon()
	ceilRSS, _ := ceilProc.memory()
	w.row("RSS idle (after start)", mib(idleRSS), mib(ceilIdleRSS), "")
	w.row(fmt.Sprintf("RSS after the run (%d secrets, %d versions stored); peak", c.listSmall+c.listLarge+c.setWriters+1, c.versionsLarge),
		mib(rss)+" (anonymous "+mib(anon)+"); peak "+mib(peak), mib(ceilRSS), "")

	// Cold start: exec to the first 200, the server's data already there.
	logf("cold starts")
	srv.stop()
	ceilProc.stop()
	coldCoffer, err := coldStarts(ctx, c.coldStarts, func() (*proc, error) { return startProc(cofferLog, bin, serveArgs, nil) }, coffer, healthz)
	if err != nil {
		return withLog(err, cofferLog)
	}
	coldCeil, err := coldStarts(ctx, c.coldStarts, func() (*proc, error) {
		return startProc(filepath.Join(tmp, "ceiling.log"), self, nil, ceilEnv)
	}, ceiling, healthz)
	if err != nil {
		return err
	}
	w.row(fmt.Sprintf("cold start (exec to first 200), median of %d", c.coldStarts), round(median(coldCoffer)).String(),
		round(median(coldCeil)).String(), ratio(median(coldCeil).Seconds(), median(coldCoffer).Seconds()))
	return ctx.Err()
}

func coldStarts(ctx context.Context, n int, start func() (*proc, error), t *target, ready call) ([]time.Duration, error) {
	var out []time.Duration
	for range n {
		t.client.CloseIdleConnections()
		begin := time.Now()
		p, err := start()
		if err != nil {
			return nil, err
		}
		d, err := waitReady(ctx, t, ready, p, begin, 60*time.Second)
		p.stop()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// ratio is a/b as the table prints it.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64)
}

type table struct{ out io.Writer }

func (t *table) header() {
	fmt.Fprintln(t.out, "| measurement | coffer | ceiling (bare net/http) | coffer/ceiling |")
	fmt.Fprintln(t.out, "|---|---|---|---|")
}

func (t *table) row(name, a, b, r string) {
	fmt.Fprintf(t.out, "| %s | %s | %s | %s |\n", name, a, b, r)
}

func plainClient(conns int) *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxIdleConns: conns * 4}}
}

func port(addr string) string {
	_, p, _ := cutLast(addr, ":")
	return p
}

func cutLast(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// withLog adds the tail of a child's log to err.
func withLog(err error, logFile string) error {
	b, _ := os.ReadFile(logFile)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return fmt.Errorf("%w\n--- %s ---\n%s", err, logFile, b)
}

// prepare creates the data directory (and on etcd, the data) in-process (the same code as
// `coffer serve`, closed again before the server process starts).
func prepare(ctx context.Context, dataDir string, etcdEndpoints []string, c config) (*fixture, error) {
	s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", Cloud: cloud.AzureCloud, DataDir: dataDir, EtcdEndpoints: etcdEndpoints,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	sub, rg := s.Instance.SubscriptionID, s.Instance.DefaultGroup
	vm, _, err := s.Resources.CreateOrUpdateVM(ctx, sub, rg, "load-vm", resources.VMSpec{SystemAssigned: true})
	if err != nil {
		return nil, err
	}
	fx := &fixture{manyVersion: "many-versions"}
	if fx.cred, _, err = s.Resources.NewCredential(ctx, sub, rg, "load-vm"); err != nil {
		return nil, err
	}
	for i := range c.firstTokens {
		name := "first-" + strconv.Itoa(i)
		if _, _, err := s.Resources.CreateOrUpdateVM(ctx, sub, rg, name, resources.VMSpec{SystemAssigned: true}); err != nil {
			return nil, err
		}
		cred, _, err := s.Resources.NewCredential(ctx, sub, rg, name)
		if err != nil {
			return nil, err
		}
		fx.firstCreds = append(fx.firstCreds, cred)
	}
	policy := model.AccessPolicy{TenantID: s.Instance.TenantID, ObjectID: vm.SystemAssigned,
		Permissions: model.Permissions{Secrets: []string{"get", "list", "set"}}}
	if err := s.Store.UpdateVault(ctx, s.Instance.DefaultVault, func(v *model.Vault) error {
		v.AccessPolicies = append(v.AccessPolicies, policy)
		return nil
	}); err != nil {
		return nil, err
	}
	for _, name := range []string{smallVault, largeVault} {
		if _, _, err := s.Vaults.CreateOrUpdateVault(ctx, sub, rg, name, vaults.VaultSpec{TenantID: s.Instance.TenantID, SKU: "standard", Location: "local",
			AccessPolicies: []model.AccessPolicy{policy}}, s.Instance.AdminAppID, false); err != nil {
			return nil, err
		}
	}
	value := "benchmark-value"
	set := func(vault, name string) error {
		v, err := s.Vaults.OpenVault(ctx, vault)
		if err != nil {
			return err
		}
		_, _, err = s.Vaults.SetSecret(ctx, v, name, vaults.SetParams{Value: &value})
		return err
	}
	if err := set(s.Instance.DefaultVault, "bench"); err != nil {
		return nil, err
	}
	// Writers in parallel, as a loaded server would see them.
	fill := func(n int, job func(i int) error) error {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var first error
		next := make(chan int)
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					if err := job(i); err != nil {
						mu.Lock()
						first = cmpErr(first, err)
						mu.Unlock()
					}
				}
			}()
		}
		for i := 0; i < n && ctx.Err() == nil; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		return cmpErr(first, ctx.Err())
	}
	if err := fill(c.listSmall, func(i int) error { return set(smallVault, "s"+strconv.Itoa(i)) }); err != nil {
		return nil, err
	}
	if err := fill(c.listLarge, func(i int) error { return set(largeVault, "s"+strconv.Itoa(i)) }); err != nil {
		return nil, err
	}
	// Versions of one secret: sequential, each a new version.
	for i := 0; i < c.versionsLarge && ctx.Err() == nil; i++ {
		if err := set(s.Instance.DefaultVault, fx.manyVersion); err != nil {
			return nil, err
		}
	}
	return fx, ctx.Err()
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

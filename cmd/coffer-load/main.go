// Command coffer-load measures a Coffer server under load, bounded in time
// and request count: secret GET throughput over TLS with bearer auth
// (access-policy check included), managed-identity token throughput (App
// Service protocol, served from the token cache), and first-token latency
// (a new VM's first, uncached token). By default it starts an in-memory
// server on 127.0.0.1 in the same process; results go to stdout as a
// Markdown table for BENCHMARKS.md.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/vaults"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "length of each throughput phase")
	maxRequests := flag.Int("max-requests", 200000, "upper bound on requests per phase")
	workers := flag.Int("workers", 16, "concurrent clients")
	firstTokens := flag.Int("first-tokens", 50, "new VMs whose first token latency is measured")
	dataDir := flag.String("data-dir", "", "run the server on bbolt in this directory (default: in memory)")
	flag.Parse()
	if err := run(*duration, *maxRequests, *workers, *firstTokens, *dataDir); err != nil {
		fmt.Fprintln(os.Stderr, "coffer-load:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, maxRequests, workers, firstTokens int, dataDir string) error {
	ctx := context.Background()
	s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", Cloud: cloud.AzureCloud, InMemory: dataDir == "", DataDir: dataDir,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer s.Close()
	sub := s.Instance.SubscriptionID
	vm, _, err := s.Resources.CreateOrUpdateVM(ctx, sub, "coffer", "load-vm", resources.VMSpec{SystemAssigned: true})
	if err != nil {
		return err
	}
	cred, _, err := s.Resources.NewCredential(ctx, sub, "coffer", "load-vm")
	if err != nil {
		return err
	}
	v, err := s.Vaults.OpenVault(ctx, "default")
	if err != nil {
		return err
	}
	value := "benchmark-value"
	if _, _, err := s.Vaults.SetSecret(ctx, v, "bench", vaults.SetParams{Value: &value}); err != nil {
		return err
	}
	if err := s.Store.UpdateVault(ctx, "default", func(v *model.Vault) error {
		v.AccessPolicies = append(v.AccessPolicies, model.AccessPolicy{TenantID: s.Instance.TenantID, ObjectID: vm.SystemAssigned,
			Permissions: model.Permissions{Secrets: []string{"get"}}})
		return nil
	}); err != nil {
		return err
	}
	client := pinnedClient(s)
	tokenURL := "https://localhost/msi/token?api-version=2019-08-01&resource=" + url.QueryEscape("https://vault.azure.net")
	tok, err := fetchToken(client, tokenURL, cred)
	if err != nil {
		return err
	}

	fmt.Printf("| measurement | result |\n|---|---|\n")
	get := func() error {
		req, _ := http.NewRequest("GET", "https://default.vault.azure.net/secrets/bench?api-version=7.6", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return do(client, req)
	}
	r := load(get, duration, maxRequests, workers)
	fmt.Printf("| secret GET, TLS + bearer verification + access policy, %d workers | %s |\n", workers, r)
	tokenReq := func() error {
		req, _ := http.NewRequest("GET", tokenURL, nil)
		req.Header.Set("X-IDENTITY-HEADER", cred)
		return do(client, req)
	}
	r = load(tokenReq, duration, maxRequests, workers)
	fmt.Printf("| managed-identity token (App Service protocol, cached), %d workers | %s |\n", workers, r)

	var lat []time.Duration
	for i := range firstTokens {
		name := fmt.Sprintf("first-%d", i)
		if _, _, err := s.Resources.CreateOrUpdateVM(ctx, sub, "coffer", name, resources.VMSpec{SystemAssigned: true}); err != nil {
			return err
		}
		c, _, err := s.Resources.NewCredential(ctx, sub, "coffer", name)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := fetchToken(client, tokenURL, c); err != nil {
			return err
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	fmt.Printf("| first token of a new VM (uncached: credential check + RS256 signing), %d VMs | p50 %v, p99 %v |\n",
		firstTokens, lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
	return nil
}

type result struct {
	n, errors int64
	elapsed   time.Duration
	lat       []time.Duration
}

func (r result) String() string {
	slices.Sort(r.lat)
	p := func(q float64) time.Duration { return r.lat[int(float64(len(r.lat)-1)*q)].Round(time.Microsecond) }
	return fmt.Sprintf("%.0f req/s (%d requests in %v, %d errors), p50 %v, p99 %v",
		float64(r.n)/r.elapsed.Seconds(), r.n, r.elapsed.Round(time.Millisecond), r.errors, p(0.5), p(0.99))
}

// load runs f from workers goroutines until duration passes or max calls.
func load(f func() error, duration time.Duration, max, workers int) result {
	var n, errs atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) && n.Add(1) <= int64(max) {
				t := time.Now()
				if err := f(); err != nil {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return result{n: int64(len(all)), errors: errs.Load(), elapsed: time.Since(start), lat: all}
}

func do(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func fetchToken(c *http.Client, u, cred string) (string, error) {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("X-IDENTITY-HEADER", cred)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		return "", fmt.Errorf("token: status %d: %v", resp.StatusCode, err)
	}
	return body.AccessToken, nil
}

// pinnedClient dials every name to the server and trusts its CA, keeping
// connections alive like an SDK client would.
func pinnedClient(s *app.Server) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, s.Addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: s.CA.Pool()},
		MaxIdleConnsPerHost: 256,
		ForceAttemptHTTP2:   true,
	}}
}

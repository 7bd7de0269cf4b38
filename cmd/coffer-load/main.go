// Command coffer-load measures a Coffer server against the machine's
// ceiling, in one run, bounded in time and request count, on loopback
// only, and stops everything it started.
//
// It prepares a data directory with the bbolt store (a VM with a machine
// credential, vaults of a small and a large size, a secret with many
// versions), then runs the real server as `coffer serve` would run (a
// separate process, bbolt, default logging) and, next to it, a bare
// net/http TLS server (the ceiling) that answers every request with the
// status, headers and body Coffer gave for that request. Both receive the
// same requests (same bearer header) from the same client, one server at a
// time, so the ratio coffer/ceiling is what Coffer's own work costs. The
// table goes to stdout as Markdown for BENCHMARKS.md. With -store etcd the
// data lives in a 1-member etcd the harness starts (loopback, its own
// process) and the server runs with --etcd-endpoints, so the two stores
// can be compared row by row.
//
// The client speaks HTTP/1.1 with keep-alive over TLS, like wrk. The
// managed-identity rows use the App Service protocol against the server
// and the IMDS protocol against an imds.Front (the `coffer agent` front)
// in its own process, with IMDS's 20/s rate limit lifted so that it
// measures the front rather than the limit; its ceiling is plain HTTP.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

// config is everything a run is told; see the flags.
type config struct {
	duration      time.Duration
	maxRequests   int
	workers       int
	setWriters    int
	firstTokens   int
	listSmall     int
	listLarge     int
	versionsLarge int
	latencyN      int
	coldStarts    int
	coffer        string
	timeout       time.Duration
	store         string // bbolt or etcd
}

func main() {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	var c config
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "length of each throughput phase")
	flag.IntVar(&c.maxRequests, "max-requests", 200000, "upper bound on requests per throughput phase")
	flag.IntVar(&c.workers, "workers", 32, "concurrent keep-alive connections for the read phases (wrk -c)")
	flag.IntVar(&c.setWriters, "set-writers", 32, "concurrent writers for durable SET")
	flag.IntVar(&c.firstTokens, "first-tokens", 30, "new VMs whose first token latency is measured")
	flag.IntVar(&c.listSmall, "list-small", 100, "secrets in the small vault (LIST first page)")
	flag.IntVar(&c.listLarge, "list-large", 10000, "secrets in the large vault (the issue's figure is 100000)")
	flag.IntVar(&c.versionsLarge, "versions-large", 1000, "versions of the many-versions secret (the issue's figure is 10000)")
	flag.IntVar(&c.latencyN, "latency-requests", 200, "sequential requests per latency measurement (LIST, GET latest)")
	flag.IntVar(&c.coldStarts, "cold-starts", 10, "server starts timed for cold start (median)")
	flag.StringVar(&c.coffer, "coffer", "", "coffer binary to run (default: go build ./cmd/coffer into a temporary directory)")
	flag.StringVar(&c.store, "store", "bbolt", "the server's store: bbolt (a file in the data directory), or etcd (a 1-member etcd the harness starts from the etcd binary on PATH, as --etcd-endpoints)")
	flag.DurationVar(&c.timeout, "timeout", 15*time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := run(ctx, c, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "coffer-load:", err)
		os.Exit(1)
	}
}

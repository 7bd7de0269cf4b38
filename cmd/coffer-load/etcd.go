package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"time"
)

// startEtcd runs a 1-member etcd (the etcd binary on PATH: Debian's
// etcd-server) on loopback in dir, for -store etcd, and waits until it
// answers /health. It is the harness's child: it dies with the harness.
func startEtcd(ctx context.Context, dir string) (endpoint string, p *proc, err error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return "", nil, fmt.Errorf("-store etcd needs the etcd binary on PATH (Debian: apt-get install etcd-server): %w", err)
	}
	client, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	peer, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	endpoint = "http://" + client
	args := []string{"--name", "load", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
		"--listen-peer-urls", "http://" + peer, "--initial-advertise-peer-urls", "http://" + peer,
		"--initial-cluster", "load=http://" + peer, "--log-level", "warn", "--logger", "zap"}
	logFile := filepath.Join(dir, "etcd.log")
	p, err = startProc(logFile, bin, args, nil)
	if err != nil {
		return "", nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return endpoint, p, nil
			}
		}
		if p.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return "", nil, withLog(fmt.Errorf("etcd at %s did not become healthy", endpoint), logFile)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

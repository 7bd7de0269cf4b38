package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// proc is a child process the harness started.
type proc struct {
	cmd   *exec.Cmd
	stdin io.Closer
	done  chan struct{}
}

// startProc starts name with args and env; its output goes to logFile.
// Closing its stdin (or the harness exiting) tells harness children to
// stop; the Coffer server is stopped with SIGTERM.
func startProc(logFile, name string, args, env []string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		out.Close()
		return nil, err
	}
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and waits.
func (p *proc) stop() {
	if p == nil {
		return
	}
	p.stdin.Close()
	_ = p.cmd.Process.Signal(terminateSignal)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// memory returns the process's resident set and its peak, from
// /proc/PID/status (Linux); zero where unavailable.
func (p *proc) memory() (rss, peak int64) {
	rss, peak, _ = p.memoryAnon()
	return rss, peak
}

// memoryAnon adds the anonymous part of rss (the heap and stacks; the
// rest is file pages mapped in, e.g. bbolt's database file, which the
// kernel can drop under pressure).
func (p *proc) memoryAnon() (rss, peak, anon int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		var kb int64
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		case "RssAnon":
			anon = kb << 10
		}
	}
	return rss, peak, anon
}

// cpu returns the CPU time (user and system) the process has used so far,
// from /proc/PID/stat (Linux, in USER_HZ ticks of 10 ms); zero where
// unavailable (ok false). Over a throughput phase it gives the server's CPU per
// request, which a shared machine's load skews far less than the rate.
func (p *proc) cpu() (d time.Duration, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its last closing parenthesis start at field 3, so utime
	// and stime (fields 14 and 15) are the 12th and 13th of them.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

func mib(b int64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady sends ready (through t) until a 200, the process exits or the
// timeout passes, and returns how long that took from since.
func waitReady(ctx context.Context, t *target, ready call, p *proc, since time.Time, timeout time.Duration) (time.Duration, error) {
	deadline := since.Add(timeout)
	for {
		if err := t.do(ready); err == nil {
			return time.Since(since), nil
		}
		t.client.CloseIdleConnections()
		if p != nil && p.exited() {
			return 0, errors.New(t.name + " exited during start; see its log")
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, errors.New(t.name + " did not answer " + ready.url + " in time")
		}
		time.Sleep(time.Millisecond)
	}
}

// pinnedClient dials every name to addr and trusts pool, keeping
// connections alive (HTTP/1.1, like wrk and most SDK transports).
func pinnedClient(addr string, pool *x509.CertPool, conns int) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		MaxIdleConnsPerHost: conns,
		MaxIdleConns:        conns * 4,
	}}
}

// ceilingCert writes a self-signed ECDSA P-256 certificate (the key type
// of Coffer's certificates) for the names the harness uses, and returns a
// pool that trusts it.
func ceilingCert(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "coffer-load ceiling"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames:    []string{"localhost", "*.vault.azure.net", "management.azure.com", "login.microsoftonline.com"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", nil, err
	}
	certFile, keyFile = filepath.Join(dir, "ceiling.pem"), filepath.Join(dir, "ceiling.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return "", "", nil, err
	}
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool, nil
}

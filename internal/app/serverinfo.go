package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ServerInfo is written to the data directory once the server listens, so
// that `coffer env` and the CLI know where and how to reach it.
type ServerInfo struct {
	URL           string `json:"url"`
	Addr          string `json:"addr"`
	Cloud         string `json:"cloud"`
	TenantID      string `json:"tenantId"`
	AuthorityHost string `json:"authorityHost"`
	VaultURL      string `json:"vaultUrl"`
	VaultSuffix   string `json:"vaultSuffix"`
	ManagementURL string `json:"managementUrl"`
	CAFile        string `json:"caFile"`
	// PID is the serving process, so that clients can tell a server.json
	// left by a stopped server from a live one.
	PID int `json:"pid,omitempty"`
}

// StartMarkFile holds the pid of a `coffer serve` that is starting or
// running with the data directory; it is written before anything slow.
const StartMarkFile = "serve.pid"

// Info describes how clients reach this server.
func (s *Server) Info() ServerInfo {
	_, port, _ := net.SplitHostPort(s.Addr)
	portSuffix := ""
	if port != "443" {
		portSuffix = ":" + port
	}
	login := s.Profile.LoginHost
	if login == "" {
		login = "localhost"
	}
	host := "localhost"
	if h, _, err := net.SplitHostPort(s.Addr); err == nil {
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() && !ip.Equal(net.IPv4(127, 0, 0, 1)) && !ip.Equal(net.IPv6loopback) {
			host = h
			if ip.To4() == nil {
				host = "[" + h + "]"
			}
		}
	}
	info := ServerInfo{
		URL: "https://" + host + portSuffix, Addr: s.Addr, Cloud: s.Profile.Name, TenantID: s.Instance.TenantID,
		AuthorityHost: "https://" + login + portSuffix + "/",
		VaultURL:      "https://" + s.Instance.DefaultVault + "." + s.Profile.VaultSuffix + portSuffix + "/",
		VaultSuffix:   s.Profile.VaultSuffix,
		ManagementURL: "https://" + host + portSuffix + "/",
		PID:           os.Getpid(),
	}
	if s.Profile.ManagementHost != "" {
		info.ManagementURL = "https://" + s.Profile.ManagementHost + portSuffix + "/"
	}
	if !s.cfg.InMemory {
		info.CAFile = filepath.Join(s.cfg.DataDir, CAFile)
	}
	return info
}

func writeStartMark(dataDir string) error {
	return writeFileAtomic(filepath.Join(dataDir, StartMarkFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// removeStartMark removes the mark if it is still this process's: a second
// `coffer serve` that failed (the data directory is in use) must not take
// away the running server's mark.
func removeStartMark(dataDir string) {
	p := filepath.Join(dataDir, StartMarkFile)
	if pid, ok := readPID(p); ok && pid == os.Getpid() {
		_ = os.Remove(p)
	}
}

func readPID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// ReadServerInfo reads the server.json of a data directory. It does not
// check that the server is running; WaitServer does.
func ReadServerInfo(dataDir string) (*ServerInfo, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, ServerInfoFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &NoServerError{DataDir: dataDir}
		}
		return nil, err
	}
	var si ServerInfo
	if err := jsonUnmarshal(b, &si); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dataDir, ServerInfoFile), err)
	}
	return &si, nil
}

// NoServerError means no `coffer serve` is running (or starting) with the
// data directory.
type NoServerError struct {
	DataDir string
	// StalePID is the pid in a server.json left by a server that has
	// stopped (0: there is no server.json).
	StalePID int
	// Addr is where the last server listened, if known.
	Addr string
}

func (e *NoServerError) Error() string {
	if e.StalePID != 0 || e.Addr != "" {
		return fmt.Sprintf("no coffer server is running with data directory %s (the last one, at %s, has stopped)", e.DataDir, e.Addr)
	}
	return fmt.Sprintf("no coffer server is running with data directory %s (it has no server.json yet)", e.DataDir)
}

// StartTimeoutError means a server is starting (or its process is alive)
// but did not accept connections in time.
type StartTimeoutError struct {
	DataDir string
	PID     int
	Waited  time.Duration
	Err     error
}

func (e *StartTimeoutError) Error() string {
	return fmt.Sprintf("coffer serve (pid %d, data directory %s) did not accept connections within %s: %v", e.PID, e.DataDir, e.Waited.Round(time.Second), e.Err)
}

func (e *StartTimeoutError) Unwrap() error { return e.Err }

// WaitOptions tune WaitServer; zero values mean the defaults.
type WaitOptions struct {
	// Timeout bounds the wait for a server that is evidently starting
	// (default 15 s).
	Timeout time.Duration
	// Grace is how long to look for a server when there is no sign of one:
	// `coffer serve & coffer …` starts both processes at once, and the
	// server may not have announced itself yet (default 2 s).
	Grace time.Duration
	// OnWait is called once, when a starting server is being waited for.
	OnWait func()
}

// WaitServer returns the server info of the data directory once its server
// accepts connections. It waits (bounded) while a server is starting —
// server.json not written yet, or written by a previous run and the new
// listener not up — and fails at once with *NoServerError when none is.
func WaitServer(ctx context.Context, dataDir string, o WaitOptions) (*ServerInfo, error) {
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 2 * time.Second
	}
	start := time.Now()
	announced := false
	for {
		info, err := ReadServerInfo(dataDir)
		var nse *NoServerError
		if err != nil && !errors.As(err, &nse) {
			return nil, err
		}
		// Who may be starting: the pid in serve.pid.
		markPID, markAlive := 0, false
		if pid, ok := readPID(filepath.Join(dataDir, StartMarkFile)); ok {
			markPID, markAlive = pid, processAlive(pid)
		}
		// A live pid in server.json is the server itself, and it writes
		// the file only once it listens: no need to dial (each dial would
		// be a failed TLS handshake in its debug log). Only a server.json
		// without a pid (an older server) is checked by dialing.
		infoAlive := info != nil && info.PID != 0 && processAlive(info.PID)
		if infoAlive {
			return info, nil
		}
		var dialErr error
		if info != nil && info.PID == 0 {
			if dialErr = dial(ctx, info.Addr); dialErr == nil {
				return info, nil
			}
		}
		starting := markAlive
		elapsed := time.Since(start)
		switch {
		case starting && elapsed >= o.Timeout:
			pid := markPID
			if dialErr == nil {
				dialErr = errors.New("it has not written server.json, which it does once it listens")
			}
			return nil, &StartTimeoutError{DataDir: dataDir, PID: pid, Waited: elapsed, Err: dialErr}
		case !starting && elapsed >= o.Grace:
			e := &NoServerError{DataDir: dataDir}
			if info != nil {
				e.StalePID, e.Addr = info.PID, info.Addr
			}
			return nil, e
		}
		if !announced && starting && o.OnWait != nil {
			o.OnWait()
			announced = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dial checks that addr accepts TCP connections. A wildcard listen address
// (0.0.0.0:8443) is dialed as is: that reaches the local host.
func dial(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

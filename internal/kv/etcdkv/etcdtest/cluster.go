package etcdtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/coffer-dev/coffer/internal/testreq"
)

// Cluster is a real etcd cluster of separate processes (the etcd binary
// on PATH: Debian's etcd-server) on 127.0.0.1, so tests can do to a
// member what happens to real ones: stop it (SIGSTOP), kill it (SIGKILL)
// and start it again. In-process members (embed) cannot be stopped.
type Cluster struct {
	Members []*Member
	t       testing.TB
	bin     string
	initial string // --initial-cluster
}

// Member is one etcd process.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	dir       string
	cmd       *exec.Cmd
	exited    chan struct{}
	c         *Cluster
}

// StartCluster starts n members and waits until the cluster has a
// leader. Without the etcd binary the test fails in strict mode and is
// skipped otherwise (testreq). Every member is killed when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := testreq.Need(t, "etcd")[0]
	c := &Cluster{t: t, bin: bin}
	var initial []string
	for i := range n {
		m := &Member{Name: fmt.Sprintf("m%d", i), ClientURL: "http://" + freeAddr(t), PeerURL: "http://" + freeAddr(t),
			dir: filepath.Join(t.TempDir(), "member"), c: c}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	c.initial = strings.Join(initial, ",")
	t.Cleanup(func() {
		for _, m := range c.Members {
			m.Kill()
		}
	})
	for _, m := range c.Members {
		m.start("new")
	}
	c.WaitLeader(30 * time.Second)
	return c
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (m *Member) start(state string) {
	t := m.c.t
	t.Helper()
	log, err := os.OpenFile(m.dir+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	m.cmd = exec.Command(m.c.bin,
		"--name", m.Name, "--data-dir", m.dir,
		"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", m.c.initial, "--initial-cluster-state", state,
		"--initial-cluster-token", "coffer-test",
		// etcd's defaults, written out: the tests' time bounds rest on them.
		"--heartbeat-interval", "100", "--election-timeout", "1000",
		"--log-level", "warn", "--logger", "zap")
	m.cmd.Stdout, m.cmd.Stderr = log, log
	if err := m.cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("starting etcd member %s: %v", m.Name, err)
	}
	m.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		log.Close()
		close(exited)
	}(m.cmd, m.exited)
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.ClientURL
	}
	return eps
}

// Stop freezes the member (SIGSTOP): its connections stay open and
// nothing it was sent is answered, like a hung machine.
func (m *Member) Stop() { m.signal(syscall.SIGSTOP) }

// Cont resumes a stopped member.
func (m *Member) Cont() { m.signal(syscall.SIGCONT) }

func (m *Member) signal(sig syscall.Signal) {
	if err := m.cmd.Process.Signal(sig); err != nil {
		m.c.t.Errorf("signalling etcd member %s: %v", m.Name, err)
	}
}

// Kill ends the member at once (SIGKILL) and waits for it to exit.
func (m *Member) Kill() {
	if m.cmd == nil {
		return
	}
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
}

// Restart starts a killed member again on its data directory.
func (m *Member) Restart() {
	m.c.t.Helper()
	m.Kill()
	m.start("existing")
}

// Log is the member's output so far, for failure messages.
func (m *Member) Log() string {
	b, _ := os.ReadFile(m.dir + ".log")
	return string(b)
}

// Leader is the member that is leader now, or nil.
func (c *Cluster) Leader() *Member {
	for _, m := range c.Members {
		st, err := m.status()
		if err != nil {
			continue
		}
		if st.Leader != 0 && st.Leader == st.Header.MemberId {
			return m
		}
	}
	return nil
}

func (m *Member) status() (*clientv3.StatusResponse, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientURL}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return cli.Status(ctx, m.ClientURL)
}

// WaitLeader waits until some member is leader, failing the test after d.
func (c *Cluster) WaitLeader(d time.Duration) *Member {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if l := c.Leader(); l != nil {
			return l
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, m := range c.Members {
				fmt.Fprintf(&logs, "--- %s ---\n%s\n", m.Name, tail(m.Log(), 2000))
			}
			c.t.Fatalf("etcd cluster has no leader after %v\n%s", d, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

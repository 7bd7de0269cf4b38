package etcdkv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv/etcdtest"
)

// blackHole accepts TCP connections and never answers on them, as a
// member stopped with SIGSTOP does (the kernel still completes the
// handshake). It returns its endpoint URL.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "http://" + ln.Addr().String()
}

func prefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "r-" + hex.EncodeToString(b) + "/"
}

// TestUnreachableIsUnavailable: with every member silent, each operation
// ends within its attempts' deadlines as errs.Unavailable (503 upstream),
// never a hang and never an unclassified error.
func TestUnreachableIsUnavailable(t *testing.T) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{blackHole(t)}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	s := New(cli, "x/")
	s.opTimeout, s.budget = 150*time.Millisecond, 600*time.Millisecond
	defer func() { s.Close(); cli.Close() }()
	ctx := context.Background()
	ops := []struct {
		name string
		do   func() error
	}{
		{"get", func() error { _, err := s.Get(ctx, "k"); return err }},
		{"list", func() error { _, err := s.List(ctx, "p/"); return err }},
		{"listrange", func() error { _, err := s.ListRange(ctx, "p/", "", 10); return err }},
		{"create", func() error { return s.Create(ctx, "k", []byte("v")) }},
		{"put", func() error { return s.Put(ctx, "k", []byte("v")) }},
		{"update", func() error { return s.Update(ctx, "k", func([]byte) ([]byte, error) { return []byte("v"), nil }) }},
		{"delete", func() error { return s.Delete(ctx, "k") }},
		{"txn", func() error { return s.Txn(ctx, kv.Put("a", []byte("1")), kv.Check("b", nil)) }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			start := time.Now()
			err := op.do()
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v, want the budget (600 ms)", took)
			}
			if errs.KindOf(err) != errs.Unavailable {
				t.Errorf("err = %v (kind %v), want Unavailable", err, errs.KindOf(err))
			}
			if code, _, msg := errs.Details(err); code != "ServiceUnavailable" || msg == "" {
				t.Errorf("details = %q %q", code, msg)
			}
		})
	}
}

// TestCallerContextWins: when the caller gives up first, the error is
// the caller's (context.Canceled), not Unavailable.
func TestCallerContextWins(t *testing.T) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{blackHole(t)}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	s := New(cli, "x/")
	defer func() { s.Close(); cli.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = s.Get(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) || errs.KindOf(err) == errs.Unavailable {
		t.Errorf("err = %v, want the caller's deadline", err)
	}
}

// TestStalledMemberAvoided: with one live member and two silent ones in
// the endpoint list, Open succeeds and, once the prober has run, every
// operation goes to the live member without waiting on the silent ones.
func TestStalledMemberAvoided(t *testing.T) {
	live := etcdtest.Endpoint(t)
	s, err := Open(Options{Endpoints: []string{blackHole(t), live, blackHole(t)}, Prefix: prefix(),
		OpTimeout: 300 * time.Millisecond, ProbeInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(time.Second) // a few probe rounds (their timeout is 1 s)
	ctx := context.Background()
	start := time.Now()
	for i := range 50 {
		k := fmt.Sprintf("k%d", i)
		if err := s.Put(ctx, k, []byte("v")); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if _, err := s.Get(ctx, k); err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
	}
	// 100 operations against a local etcd take well under a second
	// each; one deadline per operation would take 30 s.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("100 operations took %v: the silent members are still used", took)
	}
	if err := s.Ready(); err != nil {
		t.Errorf("Ready = %v with a live member that has a leader", err)
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), true},
		{rpctypes.ErrNoLeader, true},
		{rpctypes.ErrTimeout, true},
		{rpctypes.ErrGRPCNoLeader, true},
		{rpctypes.ErrTooManyRequests, true},
		{rpctypes.ErrPermissionDenied, false},
		{rpctypes.ErrAuthFailed, false},
		{rpctypes.ErrRequestTooLarge, false},
		{context.Canceled, false},
		{errors.New("other"), false},
	}
	for _, tt := range tests {
		if got := transient(tt.err); got != tt.want {
			t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestClientCertificates: against an etcd that requires client
// certificates, Open works with the CA and a client certificate it
// signed, and fails (quickly, with a clear error) without a certificate,
// with a stranger's, or without the CA.
func TestClientCertificates(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	ep := etcdtest.StartTLS(t, certs)
	good := Options{Endpoints: []string{ep}, Prefix: prefix(), CACertFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey,
		OpTimeout: 500 * time.Millisecond, Attempts: 2}
	s, err := Open(good)
	if err != nil {
		t.Fatalf("Open with a client certificate: %v", err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	s.Close()

	bad := []struct {
		name   string
		change func(o *Options)
	}{
		{"no client certificate", func(o *Options) { o.CertFile, o.KeyFile = "", "" }},
		{"a stranger's certificate", func(o *Options) { o.CertFile, o.KeyFile = certs.StrangerCert, certs.StrangerKey }},
		{"no CA (system roots)", func(o *Options) { o.CACertFile = "" }},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			o := good
			b.change(&o)
			start := time.Now()
			s, err := Open(o)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Open took %v to fail", took)
			}
		})
	}
	t.Run("key without certificate", func(t *testing.T) {
		o := good
		o.CertFile = ""
		if _, err := Open(o); err == nil {
			t.Fatal("Open accepted a key without its certificate")
		}
	})
}

// TestAuthentication: against an etcd with authentication enabled, Open
// works with the right user and password and fails with a wrong one.
func TestAuthentication(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	ep := etcdtest.StartTLS(t, certs)
	etcdtest.EnableAuth(t, ep, certs, "root", "root-pw-8c1e")
	ctx := context.Background()
	// With client certificates, etcd takes the user from the certificate's
	// common name unless a user and password are given; give them.
	o := Options{Endpoints: []string{ep}, Prefix: prefix(), CACertFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey,
		Username: "root", Password: "root-pw-8c1e", OpTimeout: 500 * time.Millisecond, Attempts: 2}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open with the password: %v", err)
	}
	if err := s.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	o.Password = "wrong"
	if s, err := Open(o); err == nil {
		s.Close()
		t.Fatal("Open with a wrong password succeeded")
	} else if errors.Is(err, errs.E(errs.Unavailable)) {
		t.Errorf("a wrong password is reported as unavailable: %v", err)
	}
}

// TestAttemptDeadlineIsTransient: when an attempt's own deadline fires,
// the error is retried and ends as Unavailable whatever gRPC called it —
// seen under load as code Unknown "context deadline exceeded", which once
// reached a client as a 500 during a quorum loss.
func TestAttemptDeadlineIsTransient(t *testing.T) {
	s := &Store{opTimeout: 20 * time.Millisecond, budget: 200 * time.Millisecond, attempts: 3}
	calls := 0
	err := s.do(context.Background(), func(ctx context.Context, _ int) error {
		calls++
		<-ctx.Done()
		return status.Error(codes.Unknown, "context deadline exceeded")
	})
	if errs.KindOf(err) != errs.Unavailable || calls < 2 {
		t.Fatalf("do = %v after %d calls, want Unavailable after retries", err, calls)
	}
	// gRPC's own timer fired a moment before the context's: still a
	// timeout, not an answer.
	calls = 0
	err = s.do(context.Background(), func(ctx context.Context, _ int) error {
		calls++
		dl, _ := ctx.Deadline()
		time.Sleep(time.Until(dl) - s.deadlineSlack()/5)
		return status.Error(codes.Unknown, "context deadline exceeded")
	})
	if errs.KindOf(err) != errs.Unavailable || calls < 2 {
		t.Fatalf("early-firing deadline: do = %v after %d calls, want Unavailable after retries", err, calls)
	}
	// An answer within the deadline is not retried.
	calls = 0
	err = s.do(context.Background(), func(context.Context, int) error {
		calls++
		return status.Error(codes.Unknown, "something the member said")
	})
	if errs.KindOf(err) == errs.Unavailable || calls != 1 {
		t.Fatalf("do = %v after %d calls, want the answer itself after one call", err, calls)
	}
}

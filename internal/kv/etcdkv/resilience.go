package etcdkv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coffer-dev/coffer/internal/errs"
)

// Failure handling. A cluster fails in three ways that matter here, and
// each has its answer:
//
//   - A member stalls (SIGSTOP, a frozen VM, a full disk): its TCP
//     connection stays open and requests sent to it never return. Every
//     attempt has a deadline (OpTimeout), a failed attempt is retried on
//     the next member of the round-robin balancer, and a prober takes a
//     member that fails its probe out of the balancer within about a
//     second, and puts it back when it answers again.
//   - The leader dies: attempts fail while the members elect a new one
//     (one to two seconds with etcd's default timings); they are retried,
//     with growing pauses, for up to Budget, which outlasts an election.
//   - The cluster loses quorum: requests carry etcd's "require leader"
//     flag, so a member without a leader refuses them at once instead of
//     holding them; an operation gives up when its Budget is spent; and
//     once no member's probe has found a leader for QuorumGrace (longer
//     than an election), operations fail at once until one does.
//
// What is left is an errs.Unavailable error, which every API answers
// with 503 and Retry-After: within Budget (3.5 s) of a request, never a
// hang and never a 500.
//
// A write attempt that timed out may still have been applied. Retrying
// it is safe because every write but Put is guarded by a comparison, so
// the retry cannot apply it a second time; and a retry that fails its
// comparison checks whether the values it wanted to write are there (each
// encrypted value is unique), in which case the earlier attempt succeeded
// and so does the operation.

// Defaults for Options.
const (
	DefaultOpTimeout = 2 * time.Second
	DefaultBudget    = 3500 * time.Millisecond
	DefaultAttempts  = 10
	// DefaultDialTimeout bounds connecting (and authenticating) at Open.
	DefaultDialTimeout = 3 * time.Second
	// DefaultProbeInterval is how often each member is probed.
	DefaultProbeInterval = 500 * time.Millisecond
	// QuorumGrace is how long no member may have a leader before
	// operations fail without trying: longer than an election.
	QuorumGrace = 2 * time.Second
)

// Options configures Open.
type Options struct {
	// Endpoints are the client URLs of the cluster's members
	// (https:// ones use TLS).
	Endpoints []string
	// Prefix is the namespace of every key.
	Prefix string
	// CACertFile verifies the members' certificates (PEM); empty means
	// the system's roots.
	CACertFile string
	// CertFile and KeyFile are this client's certificate and key (PEM),
	// for a cluster that requires client certificates.
	CertFile, KeyFile string
	// Username and Password authenticate to a cluster with auth enabled.
	Username, Password string
	// OpTimeout bounds one attempt of one operation, Budget all of its
	// attempts, and Attempts their number. Zero means the defaults.
	OpTimeout time.Duration
	Budget    time.Duration
	Attempts  int
	// ProbeInterval is how often each member is probed; zero means
	// DefaultProbeInterval, negative disables the prober.
	ProbeInterval time.Duration
	// Logger receives member health changes; nil discards them.
	Logger *slog.Logger
	// MaxRequestBytes is the cluster's --max-request-bytes; zero means
	// etcd's default. Larger writes are refused before they are sent
	// (limits.go).
	MaxRequestBytes int
}

func (o Options) tlsConfig() (*tls.Config, error) {
	useTLS := o.CACertFile != "" || o.CertFile != "" || o.KeyFile != ""
	for _, ep := range o.Endpoints {
		useTLS = useTLS || strings.HasPrefix(ep, "https://")
	}
	if !useTLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CACertFile != "" {
		pem, err := os.ReadFile(o.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("etcd CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd CA certificate %s: no PEM certificate in it", o.CACertFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("etcd client certificate: give both the certificate and the key")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (o Options) clientConfig(endpoints []string, tc *tls.Config) clientv3.Config {
	return clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: DefaultDialTimeout,
		// Keepalive pings find a connection to a stalled member dead
		// (gRPC allows no interval under 10 s; the prober is faster).
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		PermitWithoutStream:  true,
		TLS:                  tc,
		Username:             o.Username,
		Password:             o.Password,
		// Failures are reported as errors and by the prober's log; the
		// client's own retry warnings would only repeat them.
		Logger: zap.NewNop(),
	}
}

// Open connects to the cluster and uses opts.Prefix as the namespace.
func Open(opts Options) (*Store, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("etcdkv: no endpoints")
	}
	tc, err := opts.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("etcdkv: %w", err)
	}
	cli, err := clientv3.New(opts.clientConfig(opts.Endpoints, tc))
	if err != nil {
		return nil, fmt.Errorf("etcdkv: connecting to %v: %w", opts.Endpoints, err)
	}
	s := New(cli, opts.Prefix)
	s.owned = true
	if opts.OpTimeout > 0 {
		s.opTimeout = opts.OpTimeout
	}
	if opts.Budget > 0 {
		s.budget = opts.Budget
	}
	if opts.Attempts > 0 {
		s.attempts = opts.Attempts
	}
	s.maxRequest = opts.MaxRequestBytes
	// Fail fast when the cluster is unreachable, rather than at first
	// use; with the usual retries, so one stalled member does not stop a
	// start.
	err = s.do(context.Background(), func(ctx context.Context, _ int) error {
		_, err := cli.Get(ctx, opts.Prefix+"health-check", clientv3.WithCountOnly())
		return err
	})
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcdkv: reaching %v: %w", opts.Endpoints, err)
	}
	if opts.ProbeInterval >= 0 {
		s.health = startHealth(cli, opts, tc)
	}
	return s, nil
}

// Client returns the etcd client, for coordination beyond key-value
// storage (leader election).
func (s *Store) Client() *clientv3.Client { return s.cli }

// Ready reports whether the cluster had a leader reachable from this
// client at the last probe: nil, or an errs.Unavailable error. Without a
// prober (New) it always reports ready.
func (s *Store) Ready() error {
	if s.closed.Load() {
		return errClosed
	}
	if s.health == nil {
		return nil
	}
	return s.health.down()
}

// ErrNoQuorum is the cause of fast failures while no member has a leader.
var ErrNoQuorum = errors.New("etcdkv: no etcd member reachable from here has a leader")

// unavailable wraps a cause as errs.Unavailable with a message safe to
// show to a caller, so every API answers 503 with Retry-After.
func unavailable(cause error) error {
	return errs.E(errs.Op("etcdkv"), errs.Unavailable, errs.Code("ServiceUnavailable"),
		errs.Msg("The storage backend is temporarily unavailable. Retry the request."), cause)
}

// do runs one operation: each attempt with its own deadline and the
// require-leader flag, transient failures retried after growing pauses
// while the budget lasts, the last one returned as Unavailable. The
// caller's context ending stops it at once.
// deadlineSlack is how close to an attempt's deadline an error counts as
// that deadline firing (see do): a tenth of the attempt, at most 50 ms.
func (s *Store) deadlineSlack() time.Duration { return min(50*time.Millisecond, s.opTimeout/10) }

func (s *Store) do(ctx context.Context, f func(ctx context.Context, attempt int) error) error {
	deadline := time.Now().Add(s.budget)
	pause := 50 * time.Millisecond
	var last error
	for attempt := range s.attempts {
		if s.health != nil {
			if err := s.health.down(); err != nil {
				return err
			}
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			break
		}
		actx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), min(s.opTimeout, remaining))
		err := f(actx, attempt)
		// The attempt's own deadline firing makes any error transient:
		// gRPC sometimes reports it as code Unknown ("context deadline
		// exceeded"), which would otherwise pass for an answer (a 500).
		// gRPC's timer can fire a moment before the context's, so an error
		// that comes within a slack of the deadline counts as one too.
		dl, _ := actx.Deadline()
		attemptTimedOut := actx.Err() != nil || time.Until(dl) < s.deadlineSlack()
		cancel()
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return errors.Join(cerr, err)
		}
		if !attemptTimedOut && !transient(err) {
			return sizeErr(err)
		}
		last = err
		if time.Until(deadline) <= pause {
			break
		}
		// Long enough for the balancer to move on or an election to
		// finish, short against the budget.
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
	return unavailable(last)
}

// transient reports whether err means the cluster or a member could not
// answer in time (no leader, unreachable, deadline, overloaded), as
// opposed to an answer.
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	code := codes.OK
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	} else if st, ok := status.FromError(err); ok {
		code = st.Code()
	}
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

// health probes every member and keeps the main client's balancer on
// those that answer, and knows whether any of them has a leader.
type health struct {
	main     *clientv3.Client
	opts     Options
	tls      *tls.Config
	key      string
	interval time.Duration
	logger   *slog.Logger

	mu       sync.Mutex
	probers  []*clientv3.Client // one per endpoint; nil until connected
	balanced []string           // the endpoints the main client uses
	noQuorum time.Time          // since when no member has a leader; zero: one has

	stop chan struct{}
	done chan struct{}
}

func startHealth(main *clientv3.Client, opts Options, tc *tls.Config) *health {
	h := &health{
		main: main, opts: opts, tls: tc, key: opts.Prefix + "health-check",
		interval: opts.ProbeInterval, logger: opts.Logger,
		probers:  make([]*clientv3.Client, len(opts.Endpoints)),
		balanced: slices.Clone(opts.Endpoints),
		stop:     make(chan struct{}), done: make(chan struct{}),
	}
	if h.interval == 0 {
		h.interval = DefaultProbeInterval
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	go h.run()
	return h
}

func (h *health) run() {
	defer close(h.done)
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		h.round()
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
	}
}

func (h *health) close() {
	close(h.stop)
	<-h.done
	for _, c := range h.probers {
		if c != nil {
			c.Close()
		}
	}
}

// down is the fast failure once no member has had a leader for
// QuorumGrace.
func (h *health) down() error {
	h.mu.Lock()
	since := h.noQuorum
	h.mu.Unlock()
	if !since.IsZero() && time.Since(since) > QuorumGrace {
		return unavailable(ErrNoQuorum)
	}
	return nil
}

// probe asks one member for a local (serializable) read, which any live
// member answers, and then for a linearizable one, which needs a leader.
// An answer that is an error other than a transient one (a permission
// error, say) still shows the member is alive.
func (h *health) probe(i int) (alive, leader bool) {
	timeout := max(h.interval*2, time.Second)
	c := h.probers[i]
	if c == nil {
		var err error
		cfg := h.opts.clientConfig([]string{h.opts.Endpoints[i]}, h.tls)
		// With authentication, New logs in and so waits for the member:
		// bound it like a probe, so one dead member cannot slow a round.
		cfg.DialTimeout = timeout
		c, err = clientv3.New(cfg)
		if err != nil {
			return false, false
		}
		h.probers[i] = c
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := c.Get(ctx, h.key, clientv3.WithSerializable(), clientv3.WithCountOnly()); err != nil && transient(err) {
		return false, false
	}
	ctx2, cancel2 := context.WithTimeout(clientv3.WithRequireLeader(context.Background()), timeout)
	defer cancel2()
	_, err := c.Get(ctx2, h.key, clientv3.WithCountOnly())
	return true, err == nil || !transient(err)
}

func (h *health) round() {
	n := len(h.opts.Endpoints)
	alive := make([]bool, n)
	leader := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alive[i], leader[i] = h.probe(i)
		}()
	}
	wg.Wait()
	var up []string
	for i, ep := range h.opts.Endpoints {
		if alive[i] {
			up = append(up, ep)
		}
	}
	if len(up) == 0 {
		up = h.opts.Endpoints // nothing answers: let the balancer try everything
	}
	noQuorum := !slices.Contains(leader, true)
	h.mu.Lock()
	changed := !slices.Equal(up, h.balanced)
	h.balanced = up
	wasDown := !h.noQuorum.IsZero()
	switch {
	case noQuorum && !wasDown:
		h.noQuorum = time.Now()
	case !noQuorum:
		h.noQuorum = time.Time{}
	}
	h.mu.Unlock()
	if changed {
		h.logger.Warn("etcd members in use changed", "endpoints", up)
		h.main.SetEndpoints(up...)
	}
	if noQuorum != wasDown {
		if noQuorum {
			h.logger.Error("etcd has no leader reachable from here; storage requests fail with 503 while it lasts")
		} else {
			h.logger.Info("etcd has a leader again")
		}
	}
}

// Package app is Coffer's composition root: it opens the store (bbolt or
// memory, always behind envelope encryption), bootstraps the instance,
// builds the services, mounts every API on one TLS listener routed by Host,
// runs background jobs, and stops them all gracefully.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/arm"
	"github.com/coffer-dev/coffer/internal/audit"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/graph"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/keyvault"
	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/boltkv"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/metrics"
	"github.com/coffer-dev/coffer/internal/msi"
	"github.com/coffer-dev/coffer/internal/netlimit"
	"github.com/coffer-dev/coffer/internal/oidc"
	"github.com/coffer-dev/coffer/internal/pki"
	"github.com/coffer-dev/coffer/internal/resources"
	"github.com/coffer-dev/coffer/internal/store"
	"github.com/coffer-dev/coffer/internal/vaults"
)

// Config configures a server.
type Config struct {
	// DataDir holds the database, the master key, the CA and the admin
	// credential. Ignored when InMemory.
	DataDir string
	// EtcdEndpoints, when set, store everything in etcd (under EtcdPrefix)
	// instead of bbolt, so several servers can share one store. They must
	// then share the master key too (MasterKeyFile).
	EtcdEndpoints []string
	EtcdPrefix    string
	// TLS adds an operator's certificate and extra names (tls.go).
	TLS ServerTLS
	// EtcdTLS and EtcdAuth secure the connection to etcd (etcd.go).
	EtcdTLS  EtcdTLS
	EtcdAuth EtcdAuth
	// EtcdCompaction is the compaction the elected replica runs on etcd
	// (etcdkv.AutoCompact); the zero value compacts periodically, keeping
	// etcdkv.DefaultCompactRetention.
	EtcdCompaction etcdkv.Compaction
	// MasterKeyFile holds the key-encryption keys; default DataDir/master.key.
	MasterKeyFile string
	// InMemory keeps everything in memory and writes nothing to disk.
	InMemory bool
	// Addr is the listen address, e.g. 127.0.0.1:8443.
	Addr string
	// Cloud is the profile whose names Coffer answers for.
	Cloud cloud.Profile
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PurgeInterval is how often expired soft-deleted objects are purged.
	PurgeInterval time.Duration
	// Throttle, if set, limits data-plane transactions per vault.
	Throttle *keyvault.Throttle
	// DefaultVault serves Key Vault requests to a bare host (localhost, an
	// IP); empty means the vault created on first start.
	DefaultVault string
	// WrapStore, if set, wraps the storage backend (below encryption, where
	// a disk or an etcd cluster would fail); tests use it to inject faults
	// (internal/kv/kvfault).
	WrapStore func(kv.Store) kv.Store
	// Limits bound the listener's connections and each phase of a
	// request; zero fields take netlimit.ServerDefaults.
	Limits netlimit.Limits
	// MetricsAddr, if set, serves Prometheus /metrics there (plain HTTP,
	// for the operator's network only); never on the public listener.
	MetricsAddr string
	// AuditLog is the audit log's sink: a file, or "-" for standard
	// output; empty means none. AuditWriter, if set, is used instead.
	AuditLog    string
	AuditWriter io.Writer
	// AuditFailClosed refuses requests (503) whose audit line cannot be
	// written.
	AuditFailClosed bool
	// CacheBytes bounds the read cache (cache.go); zero means
	// kvcache.DefaultMaxBytes, negative turns the cache off.
	CacheBytes int64
}

// Server is a running Coffer.
type Server struct {
	Instance *Instance
	// Admin is the bootstrap admin credential when it was created by this
	// process (first start), else nil; on disk it is in DataDir.
	Admin *AdminCredential
	CA    *pki.CA
	Addr  string // the bound address (useful with port 0)
	// MetricsAddr is the bound metrics address, if Config.MetricsAddr.
	MetricsAddr string
	Profile     cloud.Profile
	Store       *store.Store
	Minter      *identity.Minter
	Vaults      *vaults.Service
	Resources   *resources.Service

	cfg      Config
	kv       kv.Store
	direct   *store.Store  // without the read cache: readiness must reach the backend
	etcd     *etcdkv.Store // when on etcd: for the background-job election
	leading  atomic.Bool   // runs the background jobs (background.go)
	http     *http.Server
	listener net.Listener
	conns    *netlimit.Listener
	// Operations: see observe.go.
	metrics     *metrics.Metrics
	metricsHTTP *http.Server
	audit       *audit.Log
	verifier    *identity.Verifier
	cancel      context.CancelFunc
	draining    atomic.Bool // set by Close: /readyz answers 503
	wg          sync.WaitGroup
	logger      *slog.Logger
}

// Start opens the store, bootstraps and starts serving. Stop it with Close.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PurgeInterval == 0 {
		cfg.PurgeInterval = time.Hour
	}
	if cfg.Cloud.VaultSuffix == "" {
		cfg.Cloud = cloud.Local
	}
	s := &Server{cfg: cfg, logger: cfg.Logger, Profile: cfg.Cloud, metrics: metrics.New()}
	switch {
	case cfg.AuditWriter != nil:
		s.audit = audit.New(cfg.AuditWriter)
	case cfg.AuditLog != "":
		if s.audit, err = audit.Open(cfg.AuditLog); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				s.audit.Close()
			}
		}()
	}
	if !cfg.InMemory {
		// Announce the start before the slow part (opening the store,
		// first-start bootstrap), so that a CLI command run right after
		// `coffer serve &` waits for this server instead of failing.
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		if err := writeStartMark(cfg.DataDir); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				removeStartMark(cfg.DataDir)
			}
		}()
	}
	raw, ring, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	s.etcd = etcdStore(raw)
	if cfg.WrapStore != nil {
		raw = cfg.WrapStore(raw)
	}
	s.kv = crypt.Wrap(raw, ring)
	s.direct = store.New(s.kv)
	s.kv = s.withCache(s.kv)
	s.Store = store.New(s.kv)
	credPath := ""
	if !cfg.InMemory {
		credPath = filepath.Join(cfg.DataDir, AdminCredFile)
	}
	inst, sec, cred, err := bootstrapWhenReachable(ctx, s.Store, cfg, credPath)
	if err != nil {
		s.kv.Close()
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	s.Instance, s.Admin, s.CA = inst, cred, sec.ca
	if cfg.DefaultVault != "" {
		s.Instance.DefaultVault = cfg.DefaultVault
	}
	aead, err := vaults.NewBackupAEAD(sec.backupKey)
	if err != nil {
		s.kv.Close()
		return nil, err
	}
	s.Minter = &identity.Minter{Keys: sec.keys, TenantID: inst.TenantID, Now: cfg.Now, IsGraphAudience: s.Profile.IsGraphAudience}
	s.Vaults = &vaults.Service{Store: s.Store, Now: cfg.Now, Backup: aead}
	s.Resources = &resources.Service{Store: s.Store, Minter: s.Minter, TenantID: inst.TenantID, Now: cfg.Now}
	handler := s.cacheSessions(s.routes(sec.keys))

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.kv.Close()
		return nil, err
	}
	s.listener = ln
	s.Addr = ln.Addr().String()
	tlsCfg, err := s.serverTLS(sec.ca)
	if err != nil {
		ln.Close()
		s.kv.Close()
		return nil, err
	}
	limits := cfg.Limits.WithDefaults(netlimit.ServerDefaults)
	s.http = limits.Server(handler)
	s.http.ErrorLog = slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)
	s.conns = limits.Listen(ln)
	s.conns.Track(s.http)
	s.conns.OnRefuse = s.metrics.ConnRefused
	if err := s.startMetrics(limits); err != nil {
		ln.Close()
		s.kv.Close()
		return nil, err
	}
	if !cfg.InMemory {
		// ca.pem first: server.json tells clients the server is ready.
		if err := writeFileAtomic(filepath.Join(cfg.DataDir, CAFile), s.CA.CertPEM(), 0o644); err != nil {
			ln.Close()
			s.kv.Close()
			return nil, err
		}
	}
	bg, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(tls.NewListener(s.conns, tlsCfg)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("serve", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.background(bg)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.membership(bg)
	}()
	if !cfg.InMemory {
		// Written only now that the listener accepts connections: a client
		// that finds server.json (with a live pid) can connect at once.
		if err := writeFileAtomic(filepath.Join(cfg.DataDir, ServerInfoFile), mustJSON(s.Info()), 0o644); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func openStore(cfg Config) (kv.Store, *crypt.Ring, error) {
	if cfg.InMemory {
		return memkv.New(), crypt.NewRandomRing(), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, err
	}
	keyFile := cfg.MasterKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.DataDir, KeyFile)
	}
	ring, err := crypt.LoadOrCreateKeyFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.EtcdEndpoints) > 0 {
		if err := cfg.EtcdCompaction.Validate(); err != nil {
			return nil, nil, err
		}
		st, err := etcdkv.Open(cfg.etcdOptions())
		if err != nil {
			return nil, nil, err
		}
		return st, ring, nil
	}
	db, err := boltkv.Open(filepath.Join(cfg.DataDir, DBFile))
	if err != nil {
		return nil, nil, fmt.Errorf("open %s (is another coffer serve using this data directory?): %w", cfg.DataDir, err)
	}
	return db, ring, nil
}

func defaultCertNames(p cloud.Profile, addr string) []string {
	names := []string{"localhost", "127.0.0.1", "::1", "*." + p.VaultSuffix}
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" && h != "0.0.0.0" && h != "::" && net.ParseIP(h) != nil {
		names = append(names, h)
	}
	return names
}

// routes builds the Host-routed handler: vault hosts get the Key Vault data
// plane only; the login, management and bare hosts get the general mux,
// and a bare host (localhost, an IP) also serves the default vault.
func (s *Server) routes(keys *identity.KeySet) http.Handler {
	verifier := &identity.Verifier{Keys: keys, TenantID: s.Instance.TenantID, Now: s.cfg.Now}
	s.verifier = verifier
	kvh := &keyvault.Handler{
		Vaults: s.Vaults, Verify: verifier, Principals: s.Store, Profile: s.Profile,
		TenantID: s.Instance.TenantID, DefaultVault: s.Instance.DefaultVault, Logger: s.logger, Throttle: s.cfg.Throttle,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)

	armh := &arm.Handler{Vaults: s.Vaults, Resources: s.Resources, Store: s.Store, Verify: verifier, Profile: s.Profile,
		TenantID: s.Instance.TenantID, SubscriptionID: s.Instance.SubscriptionID, AdminObjectID: s.Instance.AdminObjectID,
		Logger: s.logger, Now: s.cfg.Now}
	mux.HandleFunc("GET /metadata/endpoints", arm.CloudMetadata(s.Profile))
	graphh := &graph.Handler{Store: s.Store, Verify: verifier, Profile: s.Profile, TenantID: s.Instance.TenantID,
		AdminObjectID: s.Instance.AdminObjectID, AdminUserObjectID: s.Instance.AdminUserObjectID, Domain: TenantDomain,
		Logger: s.logger, Now: s.cfg.Now}
	(&msi.Handler{Resources: s.Resources, TenantID: s.Instance.TenantID, Profile: s.Profile, Logger: s.logger,
		KnownResource: s.knownResource}).Mount(mux)
	oidch := &oidc.Handler{Minter: s.Minter, Keys: keys, Principals: s.Store, Users: s.Store, Flows: s.Store, TenantID: s.Instance.TenantID,
		Logger: s.logger, Now: s.cfg.Now, KnownResource: s.knownResource}
	oidch.Mount(mux)
	portalh := s.portal(oidch)
	handler := httpx.Middleware(s.logger, s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		class, _ := s.Profile.Classify(r.Host)
		switch {
		case class != cloud.HostVault && isPortalPath(r.URL.Path):
			portalh.ServeHTTP(w, r)
		case class == cloud.HostVault && r.URL.Path != "/healthz" && r.URL.Path != "/readyz":
			kvh.ServeHTTP(w, r)
		case class == cloud.HostBare && isKeyVaultPath(r.URL.Path):
			kvh.ServeHTTP(w, r)
		case (class == cloud.HostBare || class == cloud.HostManagement) && isARMPath(r.URL.Path):
			armh.ServeHTTP(w, r)
		case (class == cloud.HostBare || class == cloud.HostGraph) && strings.HasPrefix(r.URL.Path, "/v1.0/"):
			graphh.ServeHTTP(w, r)
		default:
			mux.ServeHTTP(&jsonMuxErrors{ResponseWriter: w, r: r}, r)
		}
	})))
	portalh.API = handler
	return handler
}

// isARMPath: ARM's paths start with /subscriptions, or are the
// tenant-level /tenants and /providers[/{namespace}] (the wildcard
// patterns of the issuer would conflict with them in one ServeMux).
func isARMPath(p string) bool {
	p = strings.ToLower(strings.TrimLeft(p, "/"))
	return p == "subscriptions" || strings.HasPrefix(p, "subscriptions/") || p == "tenants" ||
		p == "providers" || strings.HasPrefix(p, "providers/")
}

func isKeyVaultPath(p string) bool {
	p = strings.ToLower(strings.TrimLeft(p, "/"))
	for _, c := range []string{"secrets", "deletedsecrets", "keys", "deletedkeys"} {
		if p == c || strings.HasPrefix(p, c+"/") {
			return true
		}
	}
	return false
}

func (s *Server) purgeLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PurgeInterval)
	defer t.Stop()
	lifecycle := s.newLifecycleJob()
	for {
		lifecycle.run(ctx)
		if n, err := s.Vaults.PurgeExpired(ctx); err != nil {
			s.logger.Error("purging expired deleted secrets", "err", err)
		} else if n > 0 {
			s.logger.Info("purged expired deleted secrets", "count", n)
		}
		if n, err := s.Vaults.PurgeExpiredKeys(ctx); err != nil {
			s.logger.Error("purging expired deleted keys", "err", err)
		} else if n > 0 {
			s.logger.Info("purged expired deleted keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops serving, waits for background jobs and closes the store.
// Requests in flight finish first (for up to 10 s); new connections are
// refused at once.
func (s *Server) Close() error {
	s.draining.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if s.metricsHTTP != nil {
		err = errors.Join(err, s.metricsHTTP.Shutdown(ctx))
	}
	if s.audit != nil {
		err = errors.Join(err, s.audit.Close()) // after the last request's line
	}
	s.cancel()
	s.wg.Wait()
	if !s.cfg.InMemory {
		removeStartMark(s.cfg.DataDir)
	}
	return errors.Join(err, s.kv.Close())
}

// jsonMuxErrors turns the ServeMux's plain-text 404 and 405 answers into
// Azure's JSON error shape, keeping their status (and the Allow header).
type jsonMuxErrors struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (j *jsonMuxErrors) WriteHeader(code int) {
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(j.Header().Get("Content-Type"), "text/plain") {
		j.replaced = true
		j.Header().Del("X-Content-Type-Options")
		msg := "Coffer serves no resource at " + j.r.Method + " " + j.r.URL.Path + " on " + j.r.Host + "."
		errCode := "NotFound"
		if code == http.StatusMethodNotAllowed {
			errCode, msg = "MethodNotAllowed", "The method "+j.r.Method+" is not allowed on "+j.r.URL.Path+"."
		}
		httpx.WriteJSON(j.ResponseWriter, code, map[string]any{"error": map[string]string{"code": errCode, "message": msg}})
		return
	}
	j.ResponseWriter.WriteHeader(code)
}

func (j *jsonMuxErrors) Write(b []byte) (int, error) {
	if j.replaced {
		return len(b), nil // the mux's text body; the JSON is already out
	}
	return j.ResponseWriter.Write(b)
}

func (j *jsonMuxErrors) Unwrap() http.ResponseWriter { return j.ResponseWriter }

// startupWait bounds how long Start waits for an unreachable store.
const startupWait = 2 * time.Minute

// bootstrapWhenReachable runs bootstrap, waiting while the store answers
// Unavailable (an etcd cluster still electing its leader, or started in
// the same breath as Coffer) instead of exiting at once; bootstrap is safe
// to repeat, as concurrent replicas already do. It gives up after
// startupWait or when ctx ends.
func bootstrapWhenReachable(ctx context.Context, st *store.Store, cfg Config, credPath string) (*Instance, *secrets, *AdminCredential, error) {
	deadline := time.Now().Add(startupWait)
	pause := 250 * time.Millisecond
	for {
		inst, sec, cred, err := bootstrap(ctx, st, cfg.Now(), credPath)
		if err == nil || errs.KindOf(err) != errs.Unavailable || time.Now().Add(pause).After(deadline) {
			return inst, sec, cred, err
		}
		cfg.Logger.WarnContext(ctx, "the store is unavailable; waiting for it before starting", "err", err, "retry_in", pause)
		select {
		case <-ctx.Done():
			return nil, nil, nil, err
		case <-time.After(pause):
		}
		pause = min(2*pause, 4*time.Second)
	}
}

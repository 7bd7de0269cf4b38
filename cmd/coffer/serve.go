package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/keyvault"
	"github.com/coffer-dev/coffer/internal/kv/etcdkv"
	"github.com/coffer-dev/coffer/internal/netlimit"
)

func newServeCmd() *cobra.Command {
	var (
		cfg       app.Config
		cloudName string
		logFormat string
		logLevel  string
		throttle  string
		cacheMB   int64
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Coffer server (HTTPS: Key Vault, token issuer, managed identity endpoints)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := cloud.Lookup(cloudName)
			if err != nil {
				return err
			}
			cfg.Cloud = p
			switch throttle {
			case "azure":
				cfg.Throttle = keyvault.AzureThrottle(time.Now)
			case "off", "":
			default:
				return fmt.Errorf("--throttle: want azure or off, got %q", throttle)
			}
			cfg.DataDir = opts.dataDir
			cfg.CacheBytes = cacheMB << 20
			if cacheMB <= 0 {
				cfg.CacheBytes = -1 // off
			}
			if cfg.EtcdAuth.Password == "" {
				// Read here, not as the flag's default: --help would print it.
				cfg.EtcdAuth.Password = os.Getenv("COFFER_ETCD_PASSWORD")
			}
			if cfg.Logger, err = newLogger(logFormat, logLevel, os.Stderr); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := app.Start(ctx, cfg)
			if err != nil {
				return err
			}
			info := s.Info()
			where := "in memory (nothing is written to disk)"
			if !cfg.InMemory {
				where = cfg.DataDir
			}
			cfg.Logger.Info("coffer is serving", "addr", s.Addr, "cloud", p.Name, "data_dir", where,
				"tenant_id", info.TenantID, "default_vault_url", info.VaultURL, "authority_host", info.AuthorityHost,
				"portal_url", strings.TrimSuffix(info.AuthorityHost, "/")+"/portal/")
			if cfg.InMemory && s.Admin != nil {
				fmt.Fprintf(os.Stderr, "admin client id: %s (in-memory mode: the secret is printed once)\nadmin client secret: %s\n", s.Admin.ClientID, s.Admin.ClientSecret)
				fmt.Fprintf(os.Stderr, "portal sign-in: %s with password %s\n", s.Admin.UserPrincipalName, s.Admin.Password)
				os.Stderr.Write(s.CA.CertPEM())
			}
			<-ctx.Done()
			cfg.Logger.Info("shutting down")
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&cfg.Addr, "addr", "127.0.0.1:8443", "listen address (HOST:PORT)")
	cmd.Flags().BoolVar(&cfg.InMemory, "in-memory", false, "keep everything in memory; nothing is written to disk")
	cmd.Flags().StringVar(&cloudName, "cloud", "local", "cloud profile: local, AzureCloud, AzureUSGovernment, AzureChinaCloud")
	cmd.Flags().StringSliceVar(&cfg.EtcdEndpoints, "etcd-endpoints", nil, "store everything in this etcd cluster (comma-separated client URLs) instead of the embedded bbolt file; replicas share it")
	cmd.Flags().StringVar(&cfg.EtcdPrefix, "etcd-prefix", "coffer/", "key prefix (namespace) in etcd")
	cmd.Flags().StringVar(&cfg.EtcdTLS.CACert, "etcd-cacert", "", "verify the etcd members' certificates with this CA bundle (PEM; default: the system's roots for https:// endpoints)")
	cmd.Flags().StringVar(&cfg.EtcdTLS.Cert, "etcd-cert", "", "client certificate (PEM) for an etcd that requires one (--client-cert-auth)")
	cmd.Flags().StringVar(&cfg.EtcdTLS.Key, "etcd-key", "", "private key (PEM) of --etcd-cert")
	cmd.Flags().StringVar(&cfg.EtcdAuth.Username, "etcd-username", "", "etcd user, when etcd's authentication is enabled")
	cmd.Flags().StringVar(&cfg.EtcdAuth.Password, "etcd-password", "", "password of --etcd-username (default $COFFER_ETCD_PASSWORD, which keeps it out of the process list)")
	cmd.Flags().StringVar(&cfg.EtcdCompaction.Mode, "etcd-auto-compaction-mode", etcdkv.CompactPeriodic, "how the replica running background jobs compacts etcd's history (etcd's --auto-compaction-mode): periodic or revision")
	cmd.Flags().StringVar(&cfg.EtcdCompaction.Retention, "etcd-auto-compaction-retention", etcdkv.DefaultCompactRetention, "history to keep (etcd's --auto-compaction-retention): a duration in periodic mode (1h; a bare number is hours), a revision count in revision mode; 0 disables (compaction is cluster-wide: use 0 when etcd compacts itself)")
	cmd.Flags().StringVar(&cfg.MasterKeyFile, "master-key-file", "", "key-encryption keys (default DATA_DIR/master.key); replicas on one etcd must share it")
	cmd.Flags().StringVar(&cfg.TLS.CertFile, "tls-cert", "", "serve this certificate (PEM, with its chain) to clients asking for a name it covers, e.g. a load balancer's; Coffer's CA serves the other names. Re-read when it changes")
	cmd.Flags().StringVar(&cfg.TLS.KeyFile, "tls-key", "", "private key (PEM) of --tls-cert")
	cmd.Flags().StringSliceVar(&cfg.TLS.Names, "tls-name", nil, "extra names (DNS, *.wildcard, IP) on the certificates Coffer issues, e.g. a load balancer's name; repeatable or comma-separated")
	cmd.Flags().StringVar(&cfg.DefaultVault, "default-vault", "", "vault that serves Key Vault requests to a bare localhost/IP host (default: the one created on first start)")
	cmd.Flags().StringVar(&throttle, "throttle", "off", "data-plane throttling: off, or azure (Key Vault's 4,000 transactions per 10 s per vault, 429 + Retry-After)")
	cmd.Flags().IntVar(&cfg.Limits.MaxConns, "max-conns", netlimit.ServerDefaults.MaxConns, "connections the listener keeps open at once; more are closed on accept")
	cmd.Flags().IntVar(&cfg.Limits.MaxConnsPerAddr, "max-conns-per-ip", netlimit.ServerDefaults.MaxConnsPerAddr, "connections one client address (IPv6: /64) may hold; keep it below --max-conns (raise it behind a load balancer or NAT)")
	cmd.Flags().StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this operator address (plain HTTP, e.g. 127.0.0.1:9090); default off, never on --addr")
	cmd.Flags().StringVar(&cfg.AuditLog, "audit-log", "", "write the audit log (one JSON line per operation, shaped like Key Vault's AuditEvent) to FILE (0600, rotated at 100 MB) or - for standard output")
	cmd.Flags().BoolVar(&cfg.AuditFailClosed, "audit-fail-closed", false, "refuse requests (503) whose audit line cannot be written")
	cmd.Flags().Int64Var(&cacheMB, "cache-mb", 64, "MiB of decrypted records and values kept for reads (0 turns the cache off); on etcd kept coherent with the other replicas through a watch")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug (adds a line per request), info, warn, error")
	return cmd
}

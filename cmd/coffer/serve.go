package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/app"
	"github.com/coffer-dev/coffer/internal/cloud"
)

func newServeCmd() *cobra.Command {
	var (
		cfg       app.Config
		cloudName string
		logFormat string
		logLevel  string
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
			cfg.DataDir = opts.dataDir
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			hopts := &slog.HandlerOptions{Level: level}
			if logFormat == "json" {
				cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, hopts))
			} else {
				cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, hopts))
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
				"tenant_id", info.TenantID, "default_vault_url", info.VaultURL, "authority_host", info.AuthorityHost)
			if cfg.InMemory && s.Admin != nil {
				fmt.Fprintf(os.Stderr, "admin client id: %s (in-memory mode: the secret is printed once)\nadmin client secret: %s\n", s.Admin.ClientID, s.Admin.ClientSecret)
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
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/imds"
)

// agentConfig is what `coffer agent` needs; see the flag help.
type agentConfig struct {
	server         string
	credentialFile string
	addr           string
	caFile         string
	logFormat      string
	logLevel       string
}

// agentEnvPrefix prefixes the environment variables that stand in for
// flags: --credential-file is COFFER_AGENT_CREDENTIAL_FILE.
const agentEnvPrefix = "COFFER_AGENT_"

var agentFlags = []string{"server", "credential-file", "addr", "ca-file", "log-format", "log-level"}

func newAgentCmd() *cobra.Command {
	var cfg agentConfig
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Serve this machine's instance metadata service (http://169.254.169.254) from a Coffer server",
		Long: `Serve the Azure instance metadata service for one VM, so that unmodified
SDKs using managed identity on this machine get the VM's tokens from Coffer.

The machine credential (from 'coffer vm credential create') is read from
--credential-file, which must not be accessible to group or others. Give the
loopback interface the address first: ip addr add 169.254.169.254/32 dev lo.
See docs/agent.md.

Every flag can also be set by an environment variable: COFFER_AGENT_ and the
flag name in upper case with '-' as '_', e.g. COFFER_AGENT_CREDENTIAL_FILE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd, agentEnvPrefix, agentFlags); err != nil {
				return err
			}
			logger, err := newLogger(cfg.logFormat, cfg.logLevel, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAgent(ctx, cfg, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.server, "server", "", "Coffer server URL, e.g. https://coffer.example.com:8443 (required)")
	f.StringVar(&cfg.credentialFile, "credential-file", "", "file holding this machine's credential; mode 0600 or stricter (required)")
	f.StringVar(&cfg.addr, "addr", imdsAddr, "listen address (plain HTTP)")
	f.StringVar(&cfg.caFile, "ca-file", "", "PEM CA certificate to trust for --server (default: the system roots, which honour SSL_CERT_FILE)")
	f.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// imdsAddr is where SDKs look for the instance metadata service.
const imdsAddr = "169.254.169.254:80"

// flagsFromEnv sets every named flag that was not given on the command
// line from its environment variable, so flags win over the environment.
func flagsFromEnv(cmd *cobra.Command, prefix string, names []string) error {
	for _, name := range names {
		fl := cmd.Flags().Lookup(name)
		if fl == nil || fl.Changed {
			continue
		}
		env := prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fl.Value.Set(v); err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	return nil
}

// newLogger builds the slog logger of `coffer serve` and `coffer agent`:
// human-readable text by default, JSON for log collectors.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// runAgent serves the instance metadata service until ctx ends.
func runAgent(ctx context.Context, cfg agentConfig, logger *slog.Logger) error {
	if cfg.server == "" || cfg.credentialFile == "" {
		return errors.New("--server and --credential-file are required")
	}
	u, err := url.Parse(cfg.server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		// The credential travels in a header; never over plain HTTP.
		return fmt.Errorf("--server must be an https:// URL, not %q", cfg.server)
	}
	cred, err := readCredentialFile(cfg.credentialFile)
	if err != nil {
		return err
	}
	// The agent honours HTTPS_PROXY for reaching the server, as a VM
	// behind a corporate proxy needs.
	upstream, err := upstreamClient(cfg.caFile, http.ProxyFromEnvironment)
	if err != nil {
		return err
	}
	front := &imds.Front{Upstream: upstream, ServerURL: cfg.server, Credential: cred, Logger: logger,
		FixCA: "Give the agent Coffer's CA certificate with --ca-file FILE (or COFFER_AGENT_CA_FILE=FILE); `coffer ca` on the server prints it.",
		FixName: "Use a --server URL (COFFER_AGENT_SERVER) whose host name the server's certificate covers: a name of its cloud profile, " +
			"localhost, or the IP address `coffer serve --addr` listens on."}
	if cfg.caFile == "" {
		front.FixCA = "The agent trusts the system roots (and SSL_CERT_FILE); give it Coffer's CA certificate with --ca-file FILE (or COFFER_AGENT_CA_FILE=FILE). `coffer ca` on the server prints it."
	}

	// Check the credential once at start: a rejected one is an operator
	// error worth failing on; an unreachable server may come up later.
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	doc, _, err := front.Instance(cctx)
	cancel()
	switch te := imds.AsTrustError(err); {
	case errors.Is(err, imds.ErrCredentialRejected):
		return fmt.Errorf("%w; issue a new one with `coffer vm credential create` and write it to %s", err, cfg.credentialFile)
	case te != nil:
		// Not "unreachable": nothing will change until the configuration
		// does. The agent still serves, so clients get this error at once
		// instead of waiting for a server that will never be trusted.
		logger.Error("configuration error: "+te.Error(), "fix", front.Fix(te))
	case err != nil:
		logger.Warn("cannot reach the coffer server yet; serving anyway", "server", cfg.server, "err", err)
	default:
		compute, _ := doc["compute"].(map[string]any)
		logger.Info("machine credential accepted", "server", cfg.server, "vm", compute["resourceId"])
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return listenHint(cfg.addr, err)
	}
	srv := &http.Server{
		Handler:           front,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("serving the instance metadata service", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// listenHint explains the two usual reasons binding 169.254.169.254:80 fails.
func listenHint(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		host, _, _ := net.SplitHostPort(addr)
		return fmt.Errorf("%w (add the address first: ip addr add %s/32 dev lo)", err, host)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w (ports below 1024 need root or CAP_NET_BIND_SERVICE; see docs/coffer-agent.service)", err)
	}
	return err
}

// credentialPrefix starts every machine credential.
const credentialPrefix = "cofferm_"

// readCredentialFile reads a machine credential, refusing files that group
// or others may access: whoever reads it can act as the VM. Files in
// systemd's $CREDENTIALS_DIRECTORY are exempt, because systemd makes them
// private to the unit with an ACL that shows up in the group bits.
func readCredentialFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the machine credential: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("credential file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 && !inCredentialsDirectory(path) {
		return "", fmt.Errorf("credential file %s is writable by group or others (mode %04o); anyone could swap in another VM's credential: chmod 600 %s",
			path, perm, path)
	} else if perm&0o044 != 0 && !inCredentialsDirectory(path) {
		// Readable by others is a leak, but refusing would break the common
		// `coffer vm credential create … > file` under umask 022; warn loudly.
		fmt.Fprintf(os.Stderr, "WARNING: credential file %s is readable by group or others (mode %04o); whoever reads it can act as this VM: chmod 600 %s\n", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", err
	}
	cred := strings.TrimSpace(string(b))
	// Accept the JSON that `coffer vm credential create` prints, too.
	var printed struct {
		Credential string `json:"credential"`
	}
	if strings.HasPrefix(cred, "{") && json.Unmarshal([]byte(cred), &printed) == nil {
		cred = strings.TrimSpace(printed.Credential)
	}
	if !strings.HasPrefix(cred, credentialPrefix) || strings.ContainsAny(cred, " \t\r\n") {
		return "", fmt.Errorf("credential file %s does not hold a Coffer machine credential (one line starting %s)", path, credentialPrefix)
	}
	return cred, nil
}

func inCredentialsDirectory(path string) bool {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return false
	}
	abs, err := filepath.Abs(path)
	return err == nil && filepath.Dir(abs) == filepath.Clean(dir)
}

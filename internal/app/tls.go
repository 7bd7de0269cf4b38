package app

import (
	"crypto/tls"
	"fmt"

	"github.com/coffer-dev/coffer/internal/pki"
)

// ServerTLS is how the listener presents itself beyond Coffer's own CA.
type ServerTLS struct {
	// CertFile and KeyFile are an operator's certificate and key (PEM),
	// served to clients that ask for a name it covers (a load balancer's
	// name, say); Coffer's CA still serves every other name. The files
	// are re-read when they change.
	CertFile, KeyFile string
	// Names are extra names (DNS names, wildcards, IP addresses) on the
	// certificates Coffer issues itself, e.g. the load balancer's name
	// when clients trust Coffer's CA.
	Names []string
}

// serverTLS is the listener's TLS configuration: Coffer's issuer for its
// default names plus TLS.Names, behind the operator's certificate when
// one is given.
func (s *Server) serverTLS(ca *pki.CA) (*tls.Config, error) {
	t := s.cfg.TLS
	if err := pki.ValidateNames(t.Names); err != nil {
		return nil, fmt.Errorf("--tls-name: %w", err)
	}
	names := append(defaultCertNames(s.cfg.Cloud, s.Addr), t.Names...)
	cfg := ca.TLSConfig(pki.NewIssuer(ca, s.cfg.Cloud.ServesName, names))
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if t.CertFile != "" {
		fc, err := pki.LoadFileCert(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetCertificate = fc.GetCertificate(cfg.GetCertificate)
		s.logger.Info("serving the operator's certificate for its names", "names", fc.Leaf().DNSNames, "not_after", fc.Leaf().NotAfter)
	}
	return cfg, nil
}

package app

import (
	"strings"

	"github.com/coffer-dev/coffer/internal/oidc"
	"github.com/coffer-dev/coffer/internal/portal"
)

// portal builds the web portal; routes sets its API (the routed handler
// itself) once built. Its sessions are in the shared store, so replicas
// behind a load balancer need no sticky sessions; sign-out revokes the
// session's refresh token at the issuer.
func (s *Server) portal(issuer *oidc.Handler) *portal.Handler {
	return &portal.Handler{TenantID: s.Instance.TenantID, SubscriptionID: s.Instance.SubscriptionID, Profile: s.Profile,
		Logger: s.logger, Now: s.cfg.Now, Sessions: s.Store, RevokeRefreshToken: issuer.RevokeRefreshToken}
}

// isPortalPath: the portal lives under /portal; / redirects there.
func isPortalPath(p string) bool {
	return p == "/" || p == portal.Prefix || strings.HasPrefix(p, portal.Prefix+"/")
}

package app

import (
	"strings"

	"github.com/coffer-dev/coffer/internal/portal"
)

// portal builds the web portal; routes sets its API (the routed handler
// itself) once built.
func (s *Server) portal() *portal.Handler {
	return &portal.Handler{TenantID: s.Instance.TenantID, SubscriptionID: s.Instance.SubscriptionID, Profile: s.Profile,
		Logger: s.logger, Now: s.cfg.Now}
}

// isPortalPath: the portal lives under /portal; / redirects there.
func isPortalPath(p string) bool {
	return p == "/" || p == portal.Prefix || strings.HasPrefix(p, portal.Prefix+"/")
}

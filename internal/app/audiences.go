package app

import (
	"context"
	"strings"
)

// knownResource reports whether a token may be issued for resource: one of
// the APIs Coffer serves (Key Vault, ARM, Graph, by any of their names), or
// an application registered in the directory, by its appId or one of its
// identifierUris (workload tokens for the operator's own APIs). Entra
// answers anything else with AADSTS500011; so does Coffer, instead of
// minting tokens no service here would accept.
func (s *Server) knownResource(ctx context.Context, resource string) (bool, error) {
	p := s.Profile
	if p.IsVaultAudience(resource) || p.IsManagementAudience(resource) || p.IsManagementAudience(resource+"/") ||
		p.IsGraphAudience(resource) {
		return true, nil
	}
	all, err := s.Store.ListPrincipals(ctx)
	if err != nil {
		return false, err
	}
	trimmed := strings.TrimSuffix(resource, "/")
	for _, pr := range all {
		if pr.AppID != "" && strings.EqualFold(pr.AppID, resource) {
			return true, nil
		}
		for _, u := range pr.IdentifierURIs {
			if strings.TrimSuffix(u, "/") == trimmed {
				return true, nil
			}
		}
	}
	return false, nil
}

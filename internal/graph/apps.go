package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
)

// appBody is the part of an application a client may set. Fields are
// pointers so PATCH can tell "absent" from "empty".
type appBody struct {
	DisplayName    *string
	IdentifierURIs *[]string
	Tags           *[]string
}

// parseAppBody reads a POST or PATCH /applications body. Coffer stores
// displayName, identifierUris and tags; it accepts the values az and the
// SDKs send for what it does not model (empty keyCredentials and
// passwordCredentials, signInAudience AzureADMyOrg) and rejects anything
// else rather than dropping it silently.
func parseAppBody(r *http.Request) (*appBody, error) {
	var raw map[string]json.RawMessage
	if err := decode(r, &raw); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	invalid := func(prop string) error {
		return badRequest(fmt.Sprintf("Invalid value specified for property '%s' of resource 'Application'.", prop))
	}
	b := &appBody{}
	for _, k := range keys {
		v := raw[k]
		switch k {
		case "@odata.type":
		case "displayName":
			var s string
			if json.Unmarshal(v, &s) != nil {
				return nil, invalid(k)
			}
			b.DisplayName = &s
		case "identifierUris", "tags":
			var list []string
			if json.Unmarshal(v, &list) != nil {
				return nil, invalid(k)
			}
			if list == nil {
				list = []string{}
			}
			if k == "tags" {
				b.Tags = &list
			} else {
				b.IdentifierURIs = &list
			}
		case "keyCredentials", "passwordCredentials":
			var list []any
			if json.Unmarshal(v, &list) != nil {
				return nil, invalid(k)
			}
			if len(list) > 0 {
				return nil, badRequest(fmt.Sprintf("Coffer does not support setting '%s' on an application; use addPassword for client secrets.", k))
			}
		case "signInAudience":
			var s string
			if json.Unmarshal(v, &s) != nil || s != "AzureADMyOrg" {
				return nil, badRequest("Coffer serves a single tenant: signInAudience must be 'AzureADMyOrg'.")
			}
		default:
			if appSchema.Lookup(k) == nil {
				return nil, badRequest(fmt.Sprintf("Property '%s' does not exist as a declared property or extension property.", k))
			}
			return nil, badRequest(fmt.Sprintf("Coffer does not support setting property '%s' of an application; it stores displayName, identifierUris and tags.", k))
		}
	}
	if b.DisplayName != nil && (strings.TrimSpace(*b.DisplayName) == "" || len(*b.DisplayName) > 256) {
		return nil, badRequest("Property 'displayName' is required and must be at most 256 characters.")
	}
	if b.Tags != nil {
		for _, t := range *b.Tags {
			if t == "" || len(t) > 256 {
				return nil, invalid("tags")
			}
		}
	}
	if b.IdentifierURIs != nil {
		seen := map[string]bool{}
		for _, u := range *b.IdentifierURIs {
			pu, err := url.Parse(u)
			if err != nil || pu.Scheme == "" || pu.Fragment != "" || pu.RawQuery != "" || len(u) > 255 || seen[strings.ToLower(u)] {
				return nil, invalid("identifierUris")
			}
			seen[strings.ToLower(u)] = true
		}
	}
	return b, nil
}

// checkURIsFree rejects identifier URIs another application already uses:
// they name service principals, so they are unique in the tenant. The check
// is not atomic with the write; two concurrent writers of the same URI can
// both succeed, which only makes the name ambiguous for lookups.
func (h *Handler) checkURIsFree(ctx context.Context, uris []string, self string) error {
	if len(uris) == 0 {
		return nil
	}
	all, err := h.Store.ListPrincipals(ctx)
	if err != nil {
		return err
	}
	for _, p := range all {
		if p.ApplicationObjectID == "" || p.ApplicationObjectID == self {
			continue
		}
		for _, have := range p.IdentifierURIs {
			for _, u := range uris {
				if strings.EqualFold(have, u) {
					return badRequest("Another object with the same value for property identifierUris already exists.")
				}
			}
		}
	}
	return nil
}

func (h *Handler) createApplication(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	b, err := parseAppBody(r)
	if err != nil {
		return err
	}
	if b.DisplayName == nil {
		return badRequest("Property 'displayName' is required and must be at most 256 characters.")
	}
	p := &model.Principal{ObjectID: identity.NewObjectID(), AppID: identity.NewObjectID(), ApplicationObjectID: identity.NewObjectID(),
		DisplayName: *b.DisplayName, Type: model.PrincipalApplication, Created: h.Now()}
	if b.IdentifierURIs != nil {
		if err := h.checkURIsFree(ctx, *b.IdentifierURIs, ""); err != nil {
			return err
		}
		p.IdentifierURIs = *b.IdentifierURIs
	}
	if b.Tags != nil {
		p.Tags = *b.Tags
	}
	if err := h.Store.PutApplicationIndex(ctx, p.ApplicationObjectID, p.ObjectID); err != nil {
		return err
	}
	if err := h.Store.CreatePrincipal(ctx, p); err != nil {
		_ = h.Store.DeleteApplicationIndex(ctx, p.ApplicationObjectID)
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, h.entity("applications", h.appJSON(p)))
	return nil
}

// patchApplication updates what the body names and answers 204, as Graph.
func (h *Handler) patchApplication(ctx context.Context, w http.ResponseWriter, r *http.Request, id ref) error {
	b, err := parseAppBody(r)
	if err != nil {
		return err
	}
	p, err := h.application(ctx, id)
	if err != nil {
		return err
	}
	if b.IdentifierURIs != nil {
		if err := h.checkURIsFree(ctx, *b.IdentifierURIs, p.ApplicationObjectID); err != nil {
			return err
		}
	}
	if err := h.Store.UpdatePrincipal(ctx, p.ObjectID, func(cur *model.Principal) error {
		if b.DisplayName != nil {
			cur.DisplayName = *b.DisplayName
		}
		if b.IdentifierURIs != nil {
			cur.IdentifierURIs = *b.IdentifierURIs
		}
		if b.Tags != nil {
			cur.Tags = *b.Tags
		}
		return nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package graph

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/graph/odata"
	"github.com/coffer-dev/coffer/internal/model"
)

// managedIdentityOwnerTenant is the tenant Entra lists as the owner of
// every managed identity's application (appOwnerOrganizationId).
const managedIdentityOwnerTenant = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

// Filter operators Graph serves by default (the advanced-query operators
// ne, not and endsWith come with any of them).
var (
	opsKey     = []string{"eq", "in"}
	opsName    = []string{"eq", "in", "startswith", "ge", "le"}
	opsColl    = []string{"eq", "startswith", "ge", "le"}
	opsEnum    = []string{"eq", "in"}
	opsBoolean = []string{"eq"}
)

// spSchema lists every property spJSON renders, with Graph v1.0's
// $filter support for each (documented on the servicePrincipal resource).
var spSchema = &odata.Schema{Resource: "ServicePrincipal", Type: "microsoft.graph.servicePrincipal", Props: []odata.Prop{
	{Name: "id", Type: odata.String, Ops: opsKey},
	{Name: "deletedDateTime", Type: odata.Complex},
	{Name: "accountEnabled", Type: odata.Bool, Ops: opsEnum},
	{Name: "addIns", Type: odata.Complex},
	{Name: "alternativeNames", Type: odata.StringCollection, Ops: opsColl},
	{Name: "appDescription", Type: odata.String},
	{Name: "appDisplayName", Type: odata.String, Ops: opsName},
	{Name: "appId", Type: odata.String, Ops: opsKey},
	{Name: "applicationTemplateId", Type: odata.String, Ops: opsKey},
	{Name: "appOwnerOrganizationId", Type: odata.GUID, Ops: opsKey},
	{Name: "appRoleAssignmentRequired", Type: odata.Bool, Ops: opsBoolean},
	{Name: "appRoles", Type: odata.Complex},
	{Name: "description", Type: odata.String, Ops: []string{"eq", "startswith", "ge", "le"}},
	{Name: "disabledByMicrosoftStatus", Type: odata.String},
	{Name: "displayName", Type: odata.String, Ops: opsName},
	{Name: "homepage", Type: odata.String},
	{Name: "info", Type: odata.Complex},
	{Name: "keyCredentials", Type: odata.Complex},
	{Name: "loginUrl", Type: odata.String},
	{Name: "logoutUrl", Type: odata.String},
	{Name: "notes", Type: odata.String},
	{Name: "notificationEmailAddresses", Type: odata.StringCollection},
	{Name: "oauth2PermissionScopes", Type: odata.Complex},
	{Name: "passwordCredentials", Type: odata.Complex},
	{Name: "preferredSingleSignOnMode", Type: odata.String, Ops: opsEnum},
	{Name: "preferredTokenSigningKeyThumbprint", Type: odata.String},
	{Name: "replyUrls", Type: odata.StringCollection, Ops: opsColl},
	{Name: "resourceSpecificApplicationPermissions", Type: odata.Complex},
	{Name: "samlSingleSignOnSettings", Type: odata.Complex},
	{Name: "servicePrincipalNames", Type: odata.StringCollection, Ops: opsColl},
	{Name: "servicePrincipalType", Type: odata.String, Ops: opsEnum},
	{Name: "signInAudience", Type: odata.String},
	{Name: "tags", Type: odata.StringCollection, Ops: opsColl},
	{Name: "tokenEncryptionKeyId", Type: odata.String},
	{Name: "verifiedPublisher", Type: odata.Complex},
}}

// appSchema lists every property appJSON renders, with Graph v1.0's
// $filter support for each (documented on the application resource).
var appSchema = &odata.Schema{Resource: "Application", Type: "microsoft.graph.application", Props: []odata.Prop{
	{Name: "id", Type: odata.String, Ops: opsKey},
	{Name: "deletedDateTime", Type: odata.Complex},
	{Name: "addIns", Type: odata.Complex},
	{Name: "api", Type: odata.Complex},
	{Name: "appId", Type: odata.String, Ops: opsName},
	{Name: "applicationTemplateId", Type: odata.String, Ops: opsKey},
	{Name: "appRoles", Type: odata.Complex},
	{Name: "createdDateTime", Type: odata.Complex},
	{Name: "defaultRedirectUri", Type: odata.String},
	{Name: "description", Type: odata.String, Ops: []string{"eq", "startswith", "ge", "le"}},
	{Name: "disabledByMicrosoftStatus", Type: odata.String},
	{Name: "displayName", Type: odata.String, Ops: opsName},
	{Name: "groupMembershipClaims", Type: odata.String},
	{Name: "identifierUris", Type: odata.StringCollection, Ops: opsColl},
	{Name: "info", Type: odata.Complex},
	{Name: "isDeviceOnlyAuthSupported", Type: odata.Bool},
	{Name: "isFallbackPublicClient", Type: odata.Bool, Ops: opsBoolean},
	{Name: "keyCredentials", Type: odata.Complex},
	{Name: "notes", Type: odata.String},
	{Name: "optionalClaims", Type: odata.Complex},
	{Name: "parentalControlSettings", Type: odata.Complex},
	{Name: "passwordCredentials", Type: odata.Complex},
	{Name: "publicClient", Type: odata.Complex},
	{Name: "publisherDomain", Type: odata.String, Ops: opsName},
	{Name: "requiredResourceAccess", Type: odata.Complex},
	{Name: "serviceManagementReference", Type: odata.String},
	{Name: "signInAudience", Type: odata.String, Ops: opsEnum},
	{Name: "spa", Type: odata.Complex},
	{Name: "tags", Type: odata.StringCollection, Ops: opsColl},
	{Name: "tokenEncryptionKeyId", Type: odata.String},
	{Name: "verifiedPublisher", Type: odata.Complex},
	{Name: "web", Type: odata.Complex},
}}

// userSchema is the part of Graph's user resource that Coffer's users
// have and az filters on.
var userSchema = &odata.Schema{Resource: "User", Type: "microsoft.graph.user", Props: []odata.Prop{
	{Name: "id", Type: odata.String, Ops: opsKey},
	{Name: "accountEnabled", Type: odata.Bool, Ops: opsEnum},
	{Name: "businessPhones", Type: odata.StringCollection},
	{Name: "displayName", Type: odata.String, Ops: opsName},
	{Name: "givenName", Type: odata.String, Ops: opsName},
	{Name: "jobTitle", Type: odata.String, Ops: opsName},
	{Name: "mail", Type: odata.String, Ops: opsName},
	{Name: "mobilePhone", Type: odata.String, Ops: opsName},
	{Name: "officeLocation", Type: odata.String, Ops: opsName},
	{Name: "otherMails", Type: odata.StringCollection, Ops: opsColl},
	{Name: "preferredLanguage", Type: odata.String, Ops: opsName},
	{Name: "proxyAddresses", Type: odata.StringCollection, Ops: opsColl},
	{Name: "surname", Type: odata.String, Ops: opsName},
	{Name: "userPrincipalName", Type: odata.String, Ops: opsName},
}}

// searchable properties of both entities ($search="displayName:…").
var searchable = []string{"displayName", "description"}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// passwordCreds lists the password credentials of the application
// (onSP false) or of its service principal (onSP true), without secrets.
func (h *Handler) passwordCreds(p *model.Principal, onSP bool) []any {
	out := []any{}
	for _, c := range p.Credentials {
		if c.ServicePrincipal != onSP {
			continue
		}
		out = append(out, map[string]any{"customKeyIdentifier": nil, "keyId": c.KeyID, "displayName": nilIfEmpty(c.Name), "hint": c.Hint,
			"secretText": nil, "startDateTime": graphTime(c.Created), "endDateTime": graphTime(c.Expires)})
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// appJSON renders an app registration the way Graph v1.0 does (every
// property, unset ones as null or empty), without secret texts.
func (h *Handler) appJSON(p *model.Principal) map[string]any {
	return map[string]any{
		"id": p.ApplicationObjectID, "deletedDateTime": nil, "addIns": []any{},
		"api":   map[string]any{"acceptMappedClaims": nil, "knownClientApplications": []any{}, "requestedAccessTokenVersion": nil, "oauth2PermissionScopes": []any{}, "preAuthorizedApplications": []any{}},
		"appId": p.AppID, "applicationTemplateId": nil, "appRoles": []any{},
		"createdDateTime": graphTime(p.Created), "defaultRedirectUri": nil, "description": nil, "disabledByMicrosoftStatus": nil,
		"displayName": p.DisplayName, "groupMembershipClaims": nil, "identifierUris": strs(p.IdentifierURIs),
		"info":                      map[string]any{"logoUrl": nil, "marketingUrl": nil, "privacyStatementUrl": nil, "supportUrl": nil, "termsOfServiceUrl": nil},
		"isDeviceOnlyAuthSupported": nil, "isFallbackPublicClient": nil, "keyCredentials": []any{}, "notes": nil,
		"optionalClaims":          nil,
		"parentalControlSettings": map[string]any{"countriesBlockedForMinors": []any{}, "legalAgeGroupRule": "Allow"},
		"passwordCredentials":     h.passwordCreds(p, false),
		"publicClient":            map[string]any{"redirectUris": []any{}},
		"publisherDomain":         nil, "requiredResourceAccess": []any{}, "serviceManagementReference": nil,
		"signInAudience": "AzureADMyOrg", "spa": map[string]any{"redirectUris": []any{}}, "tags": strs(p.Tags),
		"tokenEncryptionKeyId": nil, "verifiedPublisher": map[string]any{"displayName": nil, "verifiedPublisherId": nil, "addedDateTime": nil},
		"web": map[string]any{"homePageUrl": nil, "logoutUrl": nil, "redirectUris": []any{},
			"implicitGrantSettings": map[string]any{"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false}},
	}
}

// spJSON renders a service principal the way Graph v1.0 does. An app's
// service principal is named by its appId and identifierUris; a managed
// identity's by its appId and an identity.azure.net URI, with the ARM id
// of the resource it belongs to in alternativeNames, as Entra lists them.
func (h *Handler) spJSON(p *model.Principal) map[string]any {
	typ, owner, appName := "Application", h.TenantID, any(p.DisplayName)
	names := append([]string{p.AppID}, p.IdentifierURIs...)
	alt := []string{}
	if p.Type == model.PrincipalManagedIdentity {
		typ, owner, appName = "ManagedIdentity", managedIdentityOwnerTenant, nil
		sum := sha256.Sum256([]byte(strings.ToLower(p.ResourceID)))
		names = []string{p.AppID, "https://identity.azure.net/" + base64.StdEncoding.EncodeToString(sum[:])}
		explicit := "False"
		if strings.Contains(strings.ToLower(p.ResourceID), "/providers/microsoft.managedidentity/userassignedidentities/") {
			explicit = "True"
		}
		alt = []string{"isExplicit=" + explicit, p.ResourceID}
	}
	return map[string]any{
		"id": p.ObjectID, "deletedDateTime": nil, "accountEnabled": !p.Disabled, "addIns": []any{}, "alternativeNames": strs(alt),
		"appDescription": nil, "appDisplayName": appName, "appId": p.AppID, "applicationTemplateId": nil,
		"appOwnerOrganizationId": owner, "appRoleAssignmentRequired": false, "appRoles": []any{}, "description": nil,
		"disabledByMicrosoftStatus": nil, "displayName": p.DisplayName, "homepage": nil,
		"info":           map[string]any{"logoUrl": nil, "marketingUrl": nil, "privacyStatementUrl": nil, "supportUrl": nil, "termsOfServiceUrl": nil},
		"keyCredentials": []any{}, "loginUrl": nil, "logoutUrl": nil, "notes": nil, "notificationEmailAddresses": []any{},
		"oauth2PermissionScopes": []any{}, "passwordCredentials": h.passwordCreds(p, true), "preferredSingleSignOnMode": nil,
		"preferredTokenSigningKeyThumbprint": nil, "replyUrls": []any{}, "resourceSpecificApplicationPermissions": []any{},
		"samlSingleSignOnSettings": nil, "servicePrincipalNames": strs(names), "servicePrincipalType": typ,
		"signInAudience": "AzureADMyOrg", "tags": []any{}, "tokenEncryptionKeyId": nil,
		"verifiedPublisher": map[string]any{"displayName": nil, "verifiedPublisherId": nil, "addedDateTime": nil},
	}
}

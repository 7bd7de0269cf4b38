package main

// mutants is the maintained list. Keep each Orig small but unique in its
// file; when the code changes, update the snippet (the check fails on a
// stale one rather than skipping it). Prefer the tests of the package
// itself: a mutant's run recompiles only what depends on the mutated file.
//
// Snippets in internal/oidc, internal/graph, internal/arm and
// internal/cloud live in files other work is changing; re-check them with
// `scripts/mutate -run 'cloud|arm|graph'` after a merge.
var mutants = []mutant{
	// --- Managed-identity selection (internal/resources). ---
	{
		Name: "resources/object_id selects any principal",
		File: "internal/resources/resources.go",
		Orig: `		if pick == nil && system != nil && strings.EqualFold(system.ObjectID, sel.ObjectID) {
			pick = system
		}`,
		Repl: `		if pick == nil {
			pick, _ = s.Store.GetPrincipal(ctx, sel.ObjectID)
		}`,
		Pkgs: []string{"./internal/msi"}, Run: "TestForeignIdentitySelection",
	},
	{
		Name: "resources/client_id selects any principal",
		File: "internal/resources/resources.go",
		Orig: `		if pick == nil && system != nil && strings.EqualFold(system.AppID, sel.ClientID) {
			pick = system
		}`,
		Repl: `		if pick == nil {
			pick, _ = s.Store.GetPrincipalByAppID(ctx, sel.ClientID)
		}`,
		Pkgs: []string{"./internal/msi"}, Run: "TestForeignIdentitySelection",
	},
	{
		Name: "resources/mi_res_id selects any user-assigned identity",
		File: "internal/resources/resources.go",
		Orig: `	case sel.ResourceID != "":
		for _, p := range users {`,
		Repl: `	case sel.ResourceID != "":
		if u, err := s.uamiByID(ctx, sel.ResourceID); err == nil {
			pick, _ = s.Store.GetPrincipal(ctx, u.PrincipalID)
		}
		for _, p := range users {`,
		Pkgs: []string{"./internal/resources", "./internal/msi"}, Run: "TestForeignIdentitySelection|TestResolveIdentity",
	},
	{
		Name: "resources/store failure reads as identity not found",
		File: "internal/resources/resources.go",
		Orig: `		if err != nil {
			return nil, errs.E(op, err)
		}
		return p, nil`,
		Repl: `		if err != nil {
			return nil, nil
		}
		return p, nil`,
		Pkgs: []string{"./internal/e2e"}, Run: "TestStorageFaults$",
	},
	{
		Name: "resources/token cache keyed by resource only",
		File: "internal/resources/resources.go",
		Orig: `key := cacheKey{p.ObjectID, resource}`,
		Repl: `key := cacheKey{"", resource}`,
		Pkgs: []string{"./internal/msi"}, Run: "TestForeignIdentitySelection",
	},
	{
		Name: "resources/machine credential secret not checked",
		File: "internal/resources/resources.go",
		Orig: `if !identity.CheckClientSecret(match, string(secret), s.Now()) {`,
		Repl: `if len(match) == 0 || secret == nil {`,
		Pkgs: []string{"./internal/msi"}, Run: "TestMachineCredential",
	},
	{
		Name: "resources/deleted identity stays attached",
		File: "internal/resources/resources.go",
		Orig: `		if !vm.HasUserAssigned(rid) {
			continue
		}`,
		Repl: `		if true {
			continue
		}`,
		Pkgs: []string{"./internal/msi"}, Run: "TestForeignIdentitySelection",
	},
	// --- The App Service protocol (internal/msi). ---
	{
		Name: "msi/principal_id ignored",
		File: "internal/msi/msi.go",
		Orig: `[]string{"object_id", "principal_id"}`,
		Repl: `[]string{"object_id"}`,
		Pkgs: []string{"./internal/msi"}, Run: "TestForeignIdentitySelection",
	},
	// --- IMDS request rules and cache (internal/imds). ---
	{
		Name: "imds/Metadata header not required",
		File: "internal/imds/imds.go",
		Orig: `if r.Header.Get("Metadata") != "true" {`,
		Repl: `if r.Header.Get("Metadata") == "false" {`,
		Pkgs: []string{"./internal/imds"}, Run: "TestBadRequests",
	},
	{
		Name: "imds/X-Forwarded-For accepted",
		File: "internal/imds/imds.go",
		Orig: `if len(r.Header.Values("X-Forwarded-For")) > 0 {`,
		Repl: `if len(r.Header.Values("X-Forwarded-For")) > 1 {`,
		Pkgs: []string{"./internal/imds"}, Run: "TestBadRequests",
	},
	{
		Name: "imds/cache ignores the selector value",
		File: "internal/imds/imds.go",
		Orig: `key.value = strings.ToLower(selValue) // ids are case-insensitive`,
		Repl: `key.value = ""`,
		Pkgs: []string{"./internal/imds"}, Run: "TestForeignIdentitySelection",
	},
	{
		Name: "imds/selector not relayed",
		File: "internal/imds/imds.go",
		Orig: `		up.Set(key.selector, selValue)`,
		Repl: `		_ = selValue`,
		Pkgs: []string{"./internal/imds"}, Run: "TestForeignIdentitySelection",
	},
	// --- Token verification (internal/identity). ---
	{
		Name: "identity/issuer not checked",
		File: "internal/identity/tokens.go",
		Orig: `if c.Issuer != IssuerURL(v.TenantID) {`,
		Repl: `if c.Issuer == "" {`,
		Pkgs: []string{"./internal/identity"}, Run: "TestVerify",
	},
	{
		Name: "identity/audience not checked",
		File: "internal/identity/tokens.go",
		Orig: `if !audOK(c.Audience) {`,
		Repl: `if c.Audience == "" {`,
		Pkgs: []string{"./internal/identity"}, Run: "TestVerify",
	},
	{
		Name: "identity/expiry not checked",
		File: "internal/identity/tokens.go",
		Orig: `expired = c.Expiry == 0 || now.After(time.Unix(c.Expiry, 0).Add(ClockSkew))`,
		Repl: `expired = c.Expiry == 0`,
		Pkgs: []string{"./internal/identity"}, Run: "TestVerify",
	},
	{
		Name: "identity/not-before not checked",
		File: "internal/identity/tokens.go",
		Orig: `early = c.NotBefore != 0 && now.Add(ClockSkew).Before(time.Unix(c.NotBefore, 0))`,
		Repl: `early = c.NotBefore < 0`,
		Pkgs: []string{"./internal/identity"}, Run: "TestVerify",
	},
	{
		Name: "identity/signature not verified",
		File: "internal/identity/tokens.go",
		Orig: `if err := tok.Claims(&key.priv.PublicKey, &c); err != nil {`,
		Repl: `if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {`,
		Pkgs: []string{"./internal/identity"}, Run: "TestVerify",
	},
	{
		Name: "identity/tenant not checked",
		File: "internal/identity/tokens.go",
		Orig: `if c.ObjectID == "" || !strings.EqualFold(c.TenantID, v.TenantID) {`,
		Repl: `if c.ObjectID == "" || strings.EqualFold(c.TenantID, "*") {`,
		Pkgs: []string{"./internal/identity"}, Run: "TestVerify",
	},
	// --- Audiences (internal/cloud: being changed elsewhere; re-check). ---
	{
		Name: "cloud/vault audience with userinfo",
		File: "internal/cloud/cloud.go",
		Orig: `u.Scheme != "https" || u.User != nil {`,
		Repl: `u.Scheme != "https" {`,
		Pkgs: []string{"./internal/cloud"}, Run: "TestVaultAudienceStrict",
	},
	{
		Name: "cloud/vault audience with query or fragment",
		File: "internal/cloud/cloud.go",
		Orig: `if strings.ContainsAny(aud, "?#") {`,
		Repl: `if false {`,
		Pkgs: []string{"./internal/cloud"}, Run: "TestVaultAudienceStrict",
	},
	{
		Name: "keyvault/audience not checked",
		File: "internal/keyvault/auth.go",
		Orig: `if !h.Profile.IsVaultAudience(aud) {`,
		Repl: `if aud == "" {`,
		Pkgs: []string{"./internal/e2e"}, Run: "TestJWTRejection$|TestVaultAudienceStrictness",
	},
	{
		Name: "keyvault/groups claim dropped",
		File: "internal/keyvault/auth.go",
		Orig: `AppID: claims.AppID, Groups: claims.Groups}`,
		Repl: `AppID: claims.AppID}`,
		Pkgs: []string{"./internal/e2e"}, Run: "TestGroupMembershipOnTheWire",
	},
	{
		Name: "keyvault/deleted principal's token accepted",
		File: "internal/keyvault/auth.go",
		Orig: `	if err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return errs.E(op, errs.Unauthenticated, errs.Code("Unauthorized"),`,
		Repl: `	if err != nil && errs.KindOf(err) != errs.NotExist {
		if false {
			return errs.E(op, errs.Unauthenticated, errs.Code("Unauthorized"),`,
		Pkgs: []string{"./internal/e2e"}, Run: "TestDeletedPrincipalToken$|TestJWTRejection$",
	},
	// --- Access decisions (internal/policy, internal/vaults). ---
	{
		Name: "policy/access policy ignores the tenant",
		File: "internal/policy/policy.go",
		Orig: `		if !strings.EqualFold(p.TenantID, c.TenantID) {
			continue
		}`,
		Repl: ``,
		Pkgs: []string{"./internal/policy"}, Run: "TestAllowedByAccessPolicy",
	},
	{
		Name: "policy/access policy ignores the object id",
		File: "internal/policy/policy.go",
		Orig: `if !strings.EqualFold(p.ObjectID, c.ObjectID) && !contains(c.Groups, p.ObjectID) {`,
		Repl: `if p.ObjectID == "" {`,
		Pkgs: []string{"./internal/policy"}, Run: "TestAllowedByAccessPolicy",
	},
	{
		Name: "policy/access policy ignores group membership",
		File: "internal/policy/policy.go",
		Orig: `if !strings.EqualFold(p.ObjectID, c.ObjectID) && !contains(c.Groups, p.ObjectID) {`,
		Repl: `if !strings.EqualFold(p.ObjectID, c.ObjectID) {`,
		Pkgs: []string{"./internal/policy"}, Run: "TestAllowedByAccessPolicy|TestGroupMembership",
	},
	{
		Name: "policy/compound identity ignores the application",
		File: "internal/policy/policy.go",
		Orig: `if p.ApplicationID != "" && !strings.EqualFold(p.ApplicationID, c.AppID) {`,
		Repl: `if p.ApplicationID == "-" {`,
		Pkgs: []string{"./internal/policy"}, Run: "TestAllowedByAccessPolicy",
	},
	{
		Name: "policy/any permission grants every permission",
		File: "internal/policy/policy.go",
		Orig: `if strings.EqualFold(got, perm) || strings.EqualFold(got, model.PermAll) {`,
		Repl: `if got != "" || strings.EqualFold(got, model.PermAll) {`,
		Pkgs: []string{"./internal/policy"}, Run: "TestAllowedByAccessPolicy",
	},
	{
		Name: "policy/RBAC ignores the principal",
		File: "internal/policy/rbac.go",
		Orig: `if !strings.EqualFold(a.PrincipalID, c.ObjectID) && !contains(c.Groups, a.PrincipalID) {`,
		Repl: `if a.PrincipalID == "" {`,
		Pkgs: []string{"./internal/policy"}, Run: "TestAllowedByRBAC",
	},
	{
		Name: "policy/RBAC ignores group membership",
		File: "internal/policy/rbac.go",
		Orig: `if !strings.EqualFold(a.PrincipalID, c.ObjectID) && !contains(c.Groups, a.PrincipalID) {`,
		Repl: `if !strings.EqualFold(a.PrincipalID, c.ObjectID) {`,
		Pkgs: []string{"./internal/policy"}, Run: "TestGroupMembership",
	},
	{
		Name: "policy/scope prefix without segment boundary",
		File: "internal/policy/rbac.go",
		Orig: `strings.HasPrefix(c, p+"/")`,
		Repl: `strings.HasPrefix(c, p)`,
		Pkgs: []string{"./internal/policy"}, Run: "TestAllowedByRBAC|TestScopeBoundary",
	},
	{
		Name: "policy/NotActions ignored",
		File: "internal/policy/rbac.go",
		Orig: `	if matchAny(r.NotActions, action) {
		return false
	}`,
		Repl: ``,
		Pkgs: []string{"./internal/policy"}, Run: "TestAllowedControlAction|TestBuiltinRoles",
	},
	{
		Name: "vaults/RBAC vault falls back to access policies",
		File: "internal/vaults/objects.go",
		Orig: `		if policy.AllowedByRBAC(assignments, c, scope, a.DataAction) {`,
		Repl: `		if policy.AllowedByRBAC(assignments, c, scope, a.DataAction) || policy.AllowedByAccessPolicy(v.AccessPolicies, c, a.Permission) {`,
		Pkgs: []string{"./internal/e2e"}, Run: "TestAuthzRBAC$",
	},
	{
		Name: "vaults/firewall ignores its rules",
		File: "internal/vaults/control.go",
		Orig: `if p, err := parseIPRule(r); err == nil && p.Contains(addr) {`,
		Repl: `if _, err := parseIPRule(r); err == nil {`,
		Pkgs: []string{"./internal/e2e"}, Run: "TestVaultFirewall$",
	},
	{
		Name: "vaults/public network access ignored",
		File: "internal/vaults/control.go",
		Orig: `if v.PublicNetworkAccess == "Disabled" {`,
		Repl: `if v.PublicNetworkAccess == "disabled-never" {`,
		Pkgs: []string{"./internal/e2e"}, Run: "TestVaultFirewall$",
	},
	// --- ARM authorization (internal/arm: being changed elsewhere; re-check). ---
	{
		Name: "arm/any role assignment authorizes anyone",
		File: "internal/arm/arm.go",
		Orig: `if policy.AllowedControlAction(assignments, policy.Caller{ObjectID: c.caller.ObjectID, Groups: c.caller.Groups}, scope, action) {`,
		Repl: `if policy.AllowedControlAction(assignments, policy.Caller{ObjectID: c.caller.ObjectID, Groups: c.caller.Groups}, scope, action) || len(assignments) > 0 {`,
		Pkgs: []string{"./internal/arm"}, Run: "TestAuthorize",
	},
	{
		Name: "arm/groups claim ignored",
		File: "internal/arm/arm.go",
		Orig: `policy.Caller{ObjectID: c.caller.ObjectID, Groups: c.caller.Groups}`,
		Repl: `policy.Caller{ObjectID: c.caller.ObjectID}`,
		Pkgs: []string{"./internal/arm"}, Run: "TestAuthorize",
	},
	{
		Name: "arm/admin check matches anyone",
		File: "internal/arm/arm.go",
		Orig: `if strings.EqualFold(c.caller.ObjectID, h.AdminObjectID) {
		return nil
	}`,
		Repl: `if c.caller.ObjectID != "" {
		return nil
	}`,
		Pkgs: []string{"./internal/arm"}, Run: "TestAuthorize",
	},
	// --- Graph and the token endpoints (being changed elsewhere; re-check). ---
	{
		Name: "graph/anyone may write",
		File: "internal/graph/approles.go",
		Orig: `case !read && c.IDType != "user" && hasRole(c, writeRoles(coll, rest)):`,
		Repl: `case !read:`,
		Pkgs: []string{"./internal/graph"}, Run: "TestGraphRequests",
	},
	{
		Name: "graph/app-only reads without a permission",
		File: "internal/graph/approles.go",
		Orig: `case read && hasRole(c, readRoles(coll)):`,
		Repl: `case read:`,
		Pkgs: []string{"./internal/graph"}, Run: "TestGraphReadAuthorization",
	},
	{
		Name: "graph/admins' objects writable by writers",
		File: "internal/graph/graph.go",
		Orig: `if err := h.protectAdmins(r.Context(), coll, id); err != nil {`,
		Repl: `if err := h.protectAdmins(r.Context(), coll, id); false {`,
		Pkgs: []string{"./internal/graph"}, Run: "TestGraphWriteAuthorization",
	},
	{
		Name: "graph/disabled principal's token accepted",
		File: "internal/graph/graph.go",
		Orig: "\tif p.Disabled {\n\t\treturn &gerr{",
		Repl: "\tif false {\n\t\treturn &gerr{",
		Pkgs: []string{"./internal/graph"}, Run: "TestDisableServicePrincipal",
	},
	{
		Name: "keyvault/disabled principal's token accepted",
		File: "internal/keyvault/auth.go",
		Orig: "\tif p.Disabled {\n\t\t// accountEnabled=false bites at once",
		Repl: "\tif false {\n\t\t// accountEnabled=false bites at once",
		Pkgs: []string{"./internal/graph"}, Run: "TestDisableServicePrincipal",
	},
	{
		Name: "oidc/disabled principal gets tokens",
		File: "internal/oidc/oidc.go",
		Orig: "\tif p.Disabled {\n\t\t// Entra's answer for a service principal",
		Repl: "\tif false {\n\t\t// Entra's answer for a service principal",
		Pkgs: []string{"./internal/graph"}, Run: "TestDisableServicePrincipal",
	},
	{
		Name: "resources/expired credential renewed",
		File: "internal/resources/resources.go",
		Orig: `(c.Expires.IsZero() || now.Before(c.Expires))`,
		Repl: `true`,
		Pkgs: []string{"./internal/app"}, Run: "TestCredentialRenewal",
	},
	{
		Name: "oidc/client secret not checked",
		File: "internal/oidc/oidc.go",
		Orig: `if tr.clientSecret == "" || !identity.CheckClientSecret(p.Credentials, tr.clientSecret, h.Now()) {`,
		Repl: `if tr.clientSecret == "" || !identity.CheckClientSecret(p.Credentials, tr.clientSecret, h.Now()) && false {`,
		Pkgs: []string{"./internal/oidc"}, Run: "TestTokenEndpoint",
	},
	{
		Name: "oidc/managed identities use client credentials",
		File: "internal/oidc/oidc.go",
		Orig: `if err != nil || p.Type != model.PrincipalServicePrincipal {`,
		Repl: `if err != nil || p.Type == model.PrincipalApplication {`,
		Pkgs: []string{"./internal/oidc"}, Run: "TestTokenEndpoint",
	},
	{
		Name: "oidc/token for another tenant",
		File: "internal/oidc/oidc.go",
		Orig: `if !h.knownTenant(r.PathValue("tenant"), false) {`,
		Repl: `if !h.knownTenant(r.PathValue("tenant"), true) && false {`,
		Pkgs: []string{"./internal/oidc"}, Run: "TestTokenEndpoint",
	},
	{
		Name: "oidc/refresh token reusable",
		File: "internal/oidc/usertoken.go",
		Orig: `b, err := fl.st.TakeEphemeral(ctx, kindRefresh, flowID(f.Get("refresh_token")), now)`,
		Repl: `b, err := fl.st.GetEphemeral(ctx, kindRefresh, flowID(f.Get("refresh_token")), now)`,
		Pkgs: []string{"./internal/oidc"}, Run: "TestRefreshTokenSingleUse|TestAuthCodePKCE",
	},
	{
		Name: "oidc/PKCE verifier not checked",
		File: "internal/oidc/usertoken.go",
		Orig: `case !pkceOK(c.Method, c.Challenge, verifier):`,
		Repl: `case !pkceOK(c.Method, c.Challenge, verifier) && false:`,
		Pkgs: []string{"./internal/oidc"}, Run: "TestAuthCodePKCE",
	},
	{
		Name: "portal/sign-out keeps the session",
		File: "internal/portal/sessions.go",
		Orig: `b, err := h.sessionStore().TakeEphemeral(ctx, kindSession, s.id, h.Now())`,
		Repl: `b, err := h.sessionStore().GetEphemeral(ctx, kindSession, s.id, h.Now())`,
		Pkgs: []string{"./internal/portal"}, Run: "TestPortalSession",
	},
	// --- The run proxy (internal/runproxy). ---
	{
		Name: "runproxy/bare host on any port",
		File: "internal/runproxy/runproxy.go",
		Orig: `return err == nil && port == sport`,
		Repl: `return err == nil && sport != ""`,
		Pkgs: []string{"./internal/runproxy"}, Run: "TestRefusals|TestAllowListPorts",
	},
	{
		Name: "runproxy/any bare name allowed",
		File: "internal/runproxy/runproxy.go",
		Orig: `	if !p.Profile.ServesName(host) {
		return false
	}`,
		Repl: ``,
		Pkgs: []string{"./internal/runproxy"}, Run: "TestRefusals|TestAllowListPorts",
	},
	{
		Name: "runproxy/CONNECT target not checked",
		File: "internal/runproxy/runproxy.go",
		Orig: `	if !p.servesTarget(host, port) {
		p.refuse(w, r.Host, p.servedNames())`,
		Repl: `	if !p.servesTarget(host, port) && false {
		p.refuse(w, r.Host, p.servedNames())`,
		Pkgs: []string{"./internal/runproxy"}, Run: "TestRefusals",
	},
	{
		Name: "runproxy/password not checked",
		File: "internal/runproxy/runproxy.go",
		Orig: `return u&pw == 1`,
		Repl: `return u&(pw|1) == 1`,
		Pkgs: []string{"./internal/runproxy"}, Run: "TestAuthentication",
	},
	{
		Name: "runproxy/Close leaves tunnels open",
		File: "internal/runproxy/runproxy.go",
		Orig: `	for c := range p.conns {
		c.Close()
	}`,
		Repl: `	for range p.conns {
	}`,
		Pkgs: []string{"./internal/runproxy"}, Run: "TestTunnelLifetime",
	},
}

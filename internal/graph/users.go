package graph

import (
	"context"
	"net/http"
	"strings"
	"unicode"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/identity"
	"github.com/coffer-dev/coffer/internal/model"
)

// userJSON renders a user with Graph v1.0's default properties (plus
// accountEnabled, which az shows).
func (h *Handler) userJSON(p *model.Principal) map[string]any {
	return map[string]any{
		"id": p.ObjectID, "accountEnabled": !p.Disabled, "businessPhones": []any{}, "displayName": p.DisplayName,
		"givenName": nil, "jobTitle": nil, "mail": nil, "mobilePhone": nil, "officeLocation": nil, "otherMails": []any{},
		"preferredLanguage": nil, "proxyAddresses": []any{}, "surname": nil, "userPrincipalName": p.UserPrincipalName,
	}
}

func (h *Handler) users(ctx context.Context) ([]map[string]any, error) {
	all, err := h.Store.ListPrincipals(ctx)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for i := range all {
		if all[i].Type == model.PrincipalUser {
			out = append(out, h.userJSON(&all[i]))
		}
	}
	return out, nil
}

// user finds a user by object id or, as Graph allows, by userPrincipalName.
func (h *Handler) user(ctx context.Context, key string) (*model.Principal, error) {
	var p *model.Principal
	var err error
	if strings.Contains(key, "@") {
		p, err = h.Store.GetUserByUPN(ctx, key)
	} else {
		if err := checkID(key); err != nil {
			return nil, err
		}
		p, err = h.Store.GetPrincipal(ctx, key)
		if err == nil && p.Type != model.PrincipalUser {
			err = errs.E(errs.NotExist)
		}
	}
	if err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return nil, notFound(key)
		}
		return nil, err
	}
	return p, nil
}

type passwordProfile struct {
	Password                      *string `json:"password"`
	ForceChangePasswordNextSignIn *bool   `json:"forceChangePasswordNextSignIn"`
}

// checkPasswordComplexity applies Entra's rule: at least 8 characters and
// three of upper case, lower case, digits and symbols.
func checkPasswordComplexity(pw string) error {
	var up, low, dig, sym int
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r):
			up = 1
		case unicode.IsLower(r):
			low = 1
		case unicode.IsDigit(r):
			dig = 1
		default:
			sym = 1
		}
	}
	if len(pw) < 8 || len(pw) > 256 || up+low+dig+sym < 3 {
		return badRequest("The specified password does not comply with password complexity requirements. Please provide a different password.")
	}
	return nil
}

func (h *Handler) createUser(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	var b struct {
		AccountEnabled    *bool            `json:"accountEnabled"`
		DisplayName       *string          `json:"displayName"`
		MailNickname      *string          `json:"mailNickname"`
		UserPrincipalName *string          `json:"userPrincipalName"`
		PasswordProfile   *passwordProfile `json:"passwordProfile"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	invalid := func(prop string) error {
		return badRequest("Invalid value specified for property '" + prop + "' of resource 'User'.")
	}
	switch {
	case b.AccountEnabled == nil:
		return invalid("accountEnabled")
	case b.DisplayName == nil || strings.TrimSpace(*b.DisplayName) == "" || len(*b.DisplayName) > 256:
		return invalid("displayName")
	case b.MailNickname == nil || strings.TrimSpace(*b.MailNickname) == "" || len(*b.MailNickname) > 64:
		return invalid("mailNickname")
	case b.UserPrincipalName == nil || *b.UserPrincipalName == "":
		return invalid("userPrincipalName")
	case b.PasswordProfile == nil || b.PasswordProfile.Password == nil:
		return invalid("passwordProfile")
	}
	local, domain, ok := strings.Cut(*b.UserPrincipalName, "@")
	if !ok || local == "" || len(local) > 64 || strings.ContainsAny(local, " \"\\()<>,;:[]@") {
		return invalid("userPrincipalName")
	}
	if !strings.EqualFold(domain, h.Domain) {
		return badRequest("The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.")
	}
	if err := checkPasswordComplexity(*b.PasswordProfile.Password); err != nil {
		return err
	}
	p := &model.Principal{
		ObjectID: identity.NewObjectID(), DisplayName: *b.DisplayName, Type: model.PrincipalUser,
		UserPrincipalName: local + "@" + strings.ToLower(h.Domain), PasswordHash: identity.HashPassword(*b.PasswordProfile.Password),
		Disabled: !*b.AccountEnabled, Created: h.Now(),
	}
	if err := h.Store.CreateUser(ctx, p); err != nil {
		if errs.KindOf(err) == errs.Exist {
			return badRequest("Another object with the same value for property userPrincipalName already exists.")
		}
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, h.entity("users", h.userJSON(p)))
	return nil
}

func (h *Handler) patchUser(ctx context.Context, w http.ResponseWriter, r *http.Request, key string) error {
	p, err := h.user(ctx, key)
	if err != nil {
		return err
	}
	var b struct {
		AccountEnabled  *bool            `json:"accountEnabled"`
		DisplayName     *string          `json:"displayName"`
		PasswordProfile *passwordProfile `json:"passwordProfile"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.DisplayName != nil && (strings.TrimSpace(*b.DisplayName) == "" || len(*b.DisplayName) > 256) {
		return badRequest("Invalid value specified for property 'displayName' of resource 'User'.")
	}
	if b.AccountEnabled != nil && !*b.AccountEnabled && h.isAdmin(p.ObjectID) {
		return badRequest("The bootstrap admin user cannot be disabled.")
	}
	hash := ""
	if b.PasswordProfile != nil && b.PasswordProfile.Password != nil {
		if err := checkPasswordComplexity(*b.PasswordProfile.Password); err != nil {
			return err
		}
		hash = identity.HashPassword(*b.PasswordProfile.Password)
	}
	err = h.Store.UpdatePrincipal(ctx, p.ObjectID, func(cur *model.Principal) error {
		if b.AccountEnabled != nil {
			cur.Disabled = !*b.AccountEnabled
		}
		if b.DisplayName != nil {
			cur.DisplayName = *b.DisplayName
		}
		if hash != "" {
			cur.PasswordHash = hash
		}
		return nil
	})
	if err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return notFound(key)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) deleteUser(ctx context.Context, w http.ResponseWriter, key string) error {
	p, err := h.user(ctx, key)
	if err != nil {
		return err
	}
	if h.isAdmin(p.ObjectID) {
		return badRequest("The bootstrap admin user cannot be deleted.")
	}
	if err := h.Store.DeleteUser(ctx, p.ObjectID); err != nil {
		if errs.KindOf(err) == errs.NotExist {
			return notFound(key)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// isAdmin: the bootstrap service principal and the bootstrap admin user
// hold the directory's write rights (Entra's Global Administrator).
func (h *Handler) isAdmin(oid string) bool {
	return strings.EqualFold(oid, h.AdminObjectID) || h.AdminUserObjectID != "" && strings.EqualFold(oid, h.AdminUserObjectID)
}

// serveUsers routes /users[/{id|upn}].
func (h *Handler) serveUsers(w http.ResponseWriter, r *http.Request, id *ref, rest []string) (bool, error) {
	ctx, m := r.Context(), r.Method
	switch {
	case id == nil && len(rest) == 0 && m == http.MethodGet:
		return true, h.list(w, r, userSchema, "users", h.users)
	case id == nil && len(rest) == 1 && rest[0] == "$count" && m == http.MethodGet:
		return true, h.count(w, r, userSchema, h.users)
	case id == nil && len(rest) == 0 && m == http.MethodPost:
		return true, h.createUser(ctx, w, r)
	case id != nil && id.appID == "" && len(rest) == 0 && m == http.MethodGet:
		p, err := h.user(ctx, id.id)
		if err != nil {
			return true, err
		}
		return true, h.getEntity(w, r, userSchema, "users", h.userJSON(p))
	case id != nil && id.appID == "" && len(rest) == 0 && m == http.MethodPatch:
		return true, h.patchUser(ctx, w, r, id.id)
	case id != nil && id.appID == "" && len(rest) == 0 && m == http.MethodDelete:
		return true, h.deleteUser(ctx, w, id.id)
	}
	return false, nil
}

package portal

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

const (
	armVaultAPI   = "2023-07-01"
	armGroupAPI   = "2021-04-01"
	armComputeAPI = "2024-07-01"
	kvAPI         = "7.4"
)

var funcs = map[string]any{
	"join":  strings.Join,
	"lower": strings.ToLower,
	"has": func(list []string, s string) bool {
		return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
	},
	"date": func(unix int64) string {
		if unix == 0 {
			return ""
		}
		return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04 UTC")
	},
	"deref": func(b *bool) bool { return b != nil && *b },
	"split": func(id string) []string { return append(strings.Split(id, "/"), "", "", "") },
}

// page is what every template gets.
type page struct {
	Title string
	CSRF  string
	User  string
	Nav   string // the left navigation entry that is current (its path)
	// NavPage: the entry is this very page, not a section it belongs to
	// (aria-current="page" rather than "true").
	NavPage bool
	Error   string
	Data    any
}

type message struct{ Heading, Text string }

func msgPage(heading, text string) message { return message{heading, text} }

func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data any) {
	h.init()
	t := h.pages[name]
	p := page{Data: data}
	p.Nav, p.NavPage = navEntry(strings.TrimPrefix(r.URL.Path, Prefix))
	if s != nil {
		p.CSRF, p.User = s.CSRF, s.Name
		if p.User == "" {
			p.User = s.UPN
		}
	}
	if m, ok := data.(message); ok {
		p.Title = m.Heading
	}
	if e, ok := data.(interface{ errText() string }); ok {
		p.Error = e.errText()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout.html", p); err != nil {
		h.Logger.ErrorContext(r.Context(), "portal template", "page", name, "err", err)
	}
}

// navEntry is the left menu's entry for a portal path: the list pages
// are entries themselves, the pages under them (a vault's blades, a
// group, a VM, the create forms) belong to one.
func navEntry(p string) (entry string, exact bool) {
	switch {
	case p == "/", p == "/create", p == "/resourcegroups", p == "/keyvaults", p == "/virtualmachines", p == "/managedidentities":
		return p, true
	case strings.HasPrefix(p, "/create/"):
		return "/create", false
	case strings.HasPrefix(p, "/rg/"):
		return "/resourcegroups", false
	case strings.HasPrefix(p, "/kv/"):
		return "/keyvaults", false
	case strings.HasPrefix(p, "/vm/"):
		return "/virtualmachines", false
	}
	return "", false
}

// fail shows an API error on a message page (a 403 with ARM's or Key
// Vault's own explanation).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, heading string, err error) {
	status := http.StatusBadGateway
	var ae *apiError
	if errors.As(err, &ae) {
		status = ae.Status
	}
	h.render(w, r, s, status, "message", msgPage(heading, err.Error()))
}

var (
	rePath  = regexp.MustCompile(`^/(kv|vm)/([^/]+)/([^/]+)(/[a-z/-]*)?$`)
	reGroup = regexp.MustCompile(`^/rg/([^/]+)(/[a-z-]*)?$`)
)

func (h *Handler) route(w http.ResponseWriter, r *http.Request, s *session, p string) {
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case p == "/" && get:
		h.render(w, r, s, http.StatusOK, "home", nil)
		return
	case p == "/create" && get:
		h.marketplace(w, r, s)
		return
	case strings.HasPrefix(p, "/create/") && get && !strings.HasSuffix(p, "/form"):
		h.product(w, r, s, strings.TrimPrefix(p, "/create/"))
		return
	case p == "/create/keyvault/form" && get:
		h.vaultForm(w, r, s, vaultInput{Region: "", RetentionDays: "90", Permission: "accesspolicy", Tier: "standard"}, "")
		return
	case p == "/create/keyvault/form" && post:
		h.vaultWizard(w, r, s)
		return
	case p == "/create/resourcegroup/form" && (get || post):
		h.groupCreate(w, r, s)
		return
	case p == "/resourcegroups" && get:
		h.groups(w, r, s)
		return
	case p == "/keyvaults" && get:
		h.vaultList(w, r, s)
		return
	case p == "/managedidentities" && (get || post):
		h.identities(w, r, s)
		return
	case p == "/create/virtualmachine/form" && (get || post):
		h.vmCreate(w, r, s)
		return
	case p == "/virtualmachines" && get:
		h.vmList(w, r, s)
		return
	}
	if g := reGroup.FindStringSubmatch(p); g != nil {
		rg, sub := g[1], g[2]
		switch {
		case sub == "" && get:
			h.group(w, r, s, rg)
		case sub == "/delete" && (get || post):
			h.groupDelete(w, r, s, rg)
		case sub == "/deleting" && get:
			h.groupDeleting(w, r, s, rg)
		case sub == "/iam" && (get || post):
			h.groupIAM(w, r, s, rg)
		default:
			h.render(w, r, s, http.StatusNotFound, "message", msgPage("Not found", "The portal has no page at "+p+"."))
		}
		return
	}
	m := rePath.FindStringSubmatch(p)
	if m == nil {
		h.render(w, r, s, http.StatusNotFound, "message", msgPage("Not found", "The portal has no page at "+p+"."))
		return
	}
	kind, rg, name, sub := m[1], m[2], m[3], m[4]
	switch {
	case kind == "kv" && (sub == "" || sub == "/overview") && get:
		h.vaultOverview(w, r, s, rg, name)
	case kind == "kv" && sub == "/secrets" && get:
		h.secrets(w, r, s, rg, name)
	case kind == "kv" && sub == "/secrets/new" && (get || post):
		h.secretNew(w, r, s, rg, name)
	case kind == "kv" && sub == "/iam" && (get || post):
		h.vaultIAM(w, r, s, rg, name)
	case kind == "kv" && sub == "/secret" && (get || post):
		h.secretPage(w, r, s, rg, name)
	case kind == "kv" && sub == "/deleted-secrets" && (get || post):
		h.deletedSecrets(w, r, s, rg, name)
	case kind == "kv" && sub == "/keys" && get:
		h.keys(w, r, s, rg, name)
	case kind == "kv" && sub == "/keys/new" && (get || post):
		h.keyNew(w, r, s, rg, name)
	case kind == "kv" && sub == "/key" && (get || post):
		h.keyPage(w, r, s, rg, name)
	case kind == "kv" && sub == "/deleted-keys" && (get || post):
		h.deletedObjects(w, r, s, rg, name, "keys")
	case kind == "kv" && sub == "/certificates" && get:
		h.certificates(w, r, s, rg, name)
	case kind == "kv" && sub == "/certificates/new" && (get || post):
		h.certNew(w, r, s, rg, name)
	case kind == "kv" && sub == "/certificate" && (get || post):
		h.certPage(w, r, s, rg, name)
	case kind == "kv" && sub == "/deleted-certificates" && (get || post):
		h.deletedObjects(w, r, s, rg, name, "certificates")
	case kind == "kv" && sub == "/access-policies" && get:
		h.policies(w, r, s, rg, name, "")
	case kind == "kv" && sub == "/access-policies" && post:
		h.policiesSave(w, r, s, rg, name)
	case kind == "kv" && sub == "/access-policies/add" && (get || post):
		h.policyAdd(w, r, s, rg, name)
	case kind == "vm" && sub == "" && get:
		h.vm(w, r, s, rg, name)
	default:
		h.render(w, r, s, http.StatusNotFound, "message", msgPage("Not found", "The portal has no page at "+p+"."))
	}
}

func rgPath(rg string) string { return "/portal/rg/" + url.PathEscape(rg) }

func kvPath(rg, name string) string {
	return "/portal/kv/" + url.PathEscape(rg) + "/" + url.PathEscape(name)
}

// ----- marketplace -----

type product struct{ Slug, Name, Publisher, Description, Create string }

var products = []product{
	{"keyvault", "Key Vault", "Microsoft", "Safeguard cryptographic keys and other secrets used by cloud apps and services.", Prefix + "/create/keyvault/form"},
	{"virtualmachine", "Virtual machine", "Microsoft", "Create a virtual machine with a managed identity: run `coffer agent` on the machine it stands for.", Prefix + "/create/virtualmachine/form"},
	{"managedidentity", "Managed Identity", "Microsoft", "Create an identity that Azure resources can use (user-assigned managed identity).", Prefix + "/managedidentities"},
	{"resourcegroup", "Resource group", "Microsoft", "A container that holds related resources for an Azure solution.", Prefix + "/create/resourcegroup/form"},
}

func (h *Handler) marketplace(w http.ResponseWriter, r *http.Request, s *session) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	var hits []product
	for _, p := range products {
		if q == "" || strings.Contains(strings.ToLower(p.Name+" "+p.Description), strings.ToLower(q)) {
			hits = append(hits, p)
		}
	}
	h.render(w, r, s, http.StatusOK, "create", map[string]any{"Query": q, "Results": hits})
}

func (h *Handler) product(w http.ResponseWriter, r *http.Request, s *session, slug string) {
	for _, p := range products {
		if p.Slug == slug {
			h.render(w, r, s, http.StatusOK, "product", p)
			return
		}
	}
	h.render(w, r, s, http.StatusNotFound, "message", msgPage("Not found", "No such offer in the Marketplace."))
}

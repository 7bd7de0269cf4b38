package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/wire"
)

type vaultInput struct {
	Subscription, ResourceGroup, NewGroup, Name, Region, Tier, RetentionDays, PurgeProtection, Permission string
}

type option struct{ Value, Label string }

type vaultFormData struct {
	In            vaultInput
	Subscriptions []option
	Groups        []option
	Regions       []option
	Err           string
}

func (d vaultFormData) errText() string { return d.Err }

func (h *Handler) sub(r *http.Request) string { return "/subscriptions/" + h.SubscriptionID }

func (h *Handler) vaultForm(w http.ResponseWriter, r *http.Request, s *session, in vaultInput, errMsg string) {
	d := vaultFormData{In: in, Err: errMsg}
	var subs wire.Page[struct {
		SubscriptionID string `json:"subscriptionId"`
		DisplayName    string `json:"displayName"`
	}]
	if err := h.call(r, s, "GET", h.armHost(r), "/subscriptions?api-version=2022-12-01", armAudience, nil, &subs); err != nil {
		h.fail(w, r, s, "Create a key vault", err)
		return
	}
	for _, x := range subs.Value {
		d.Subscriptions = append(d.Subscriptions, option{x.SubscriptionID, x.DisplayName})
	}
	var groups wire.Page[wire.ResourceGroup]
	if err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/resourcegroups?api-version="+armGroupAPI, armAudience, nil, &groups); err != nil {
		h.fail(w, r, s, "Create a key vault", err)
		return
	}
	for _, g := range groups.Value {
		d.Groups = append(d.Groups, option{g.Name, g.Name})
		if d.In.Region == "" {
			d.In.Region = g.Location
		}
	}
	var locs wire.Page[struct {
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	}]
	if err := h.call(r, s, "GET", h.armHost(r), h.sub(r)+"/locations?api-version=2022-12-01", armAudience, nil, &locs); err == nil {
		for _, l := range locs.Value {
			d.Regions = append(d.Regions, option{l.Name, l.DisplayName})
		}
	}
	// The resource groups' regions are offered too (first), so a vault can
	// go where its group is even in a region ARM does not list (local).
	seen := map[string]bool{}
	for _, r := range d.Regions {
		seen[r.Value] = true
	}
	var extra []option
	for _, g := range groups.Value {
		if !seen[g.Location] {
			seen[g.Location] = true
			extra = append(extra, option{g.Location, g.Location})
		}
	}
	d.Regions = append(extra, d.Regions...)
	h.render(w, r, s, http.StatusOK, "kvcreate", d)
}

func readVaultInput(f url.Values) vaultInput {
	g := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	return vaultInput{Subscription: g("subscription"), ResourceGroup: g("resourceGroup"), NewGroup: g("newResourceGroup"), Name: g("name"),
		Region: g("region"), Tier: g("tier"), RetentionDays: g("retentionDays"), PurgeProtection: g("purgeProtection"), Permission: g("permissionModel")}
}

// vaultWizard handles the create wizard's steps: Review + create checks
// the input (the name's availability through ARM) and shows the summary;
// Create deploys.
func (h *Handler) vaultWizard(w http.ResponseWriter, r *http.Request, s *session) {
	in := readVaultInput(r.PostForm)
	step := r.PostForm.Get("step")
	if step == "back" {
		h.vaultForm(w, r, s, in, "")
		return
	}
	if in.ResourceGroup == "" && in.NewGroup == "" {
		h.vaultForm(w, r, s, in, "Select a resource group or create a new one.")
		return
	}
	days, err := strconv.Atoi(in.RetentionDays)
	if err != nil || days < 7 || days > 90 {
		h.vaultForm(w, r, s, in, "Days to retain deleted vaults must be a number between 7 and 90.")
		return
	}
	var avail struct {
		NameAvailable bool   `json:"nameAvailable"`
		Message       string `json:"message"`
	}
	if in.Name == "" {
		h.vaultForm(w, r, s, in, "The key vault name is required.")
		return
	}
	if err := h.call(r, s, "POST", h.armHost(r), h.sub(r)+"/providers/Microsoft.KeyVault/checkNameAvailability?api-version="+armVaultAPI,
		armAudience, map[string]string{"name": in.Name, "type": "Microsoft.KeyVault/vaults"}, &avail); err != nil {
		h.vaultForm(w, r, s, in, err.Error())
		return
	}
	if !avail.NameAvailable {
		h.vaultForm(w, r, s, in, avail.Message)
		return
	}
	if step != "create" {
		h.render(w, r, s, http.StatusOK, "kvreview", in)
		return
	}
	rg := in.ResourceGroup
	if in.NewGroup != "" {
		rg = in.NewGroup
		if err := h.call(r, s, "PUT", h.armHost(r), h.sub(r)+"/resourcegroups/"+url.PathEscape(rg)+"?api-version="+armGroupAPI, armAudience,
			map[string]any{"location": in.Region}, nil); err != nil {
			h.fail(w, r, s, "Deployment failed", err)
			return
		}
	}
	rbac := in.Permission == "rbac"
	purge := in.PurgeProtection == "enable"
	props := wire.VaultProperties{
		TenantID: h.TenantID, Sku: &wire.Sku{Family: "A", Name: in.Tier}, AccessPolicies: []wire.AccessPolicyEntry{},
		SoftDeleteRetentionInDays: &days, EnableRbacAuthorization: &rbac,
	}
	if purge {
		props.EnablePurgeProtection = &purge
	}
	if !rbac {
		// As the Azure portal does, the creator gets an access policy with
		// the "Key, Secret, & Certificate Management" template.
		t := templates[0]
		props.AccessPolicies = []wire.AccessPolicyEntry{{TenantID: h.TenantID, ObjectID: s.OID,
			Permissions: wire.Permissions{Keys: t.Keys, Secrets: t.Secrets, Certificates: t.Certificates}}}
	}
	path := h.sub(r) + "/resourceGroups/" + url.PathEscape(rg) + "/providers/Microsoft.KeyVault/vaults/" + url.PathEscape(in.Name) + "?api-version=" + armVaultAPI
	if err := h.call(r, s, "PUT", h.armHost(r), path, armAudience, map[string]any{"location": in.Region, "properties": props}, nil); err != nil {
		h.fail(w, r, s, "Deployment failed", err)
		return
	}
	h.render(w, r, s, http.StatusOK, "deployed", map[string]string{"Name": in.Name, "Group": rg, "Link": kvPath(rg, in.Name) + "/overview"})
}

// vaultData is what the vault's blades show.
type vaultData struct {
	Group, Name, Link, Blade string
	Vault                    wire.Vault
	RBAC                     bool
	Err                      string
}

func (d *vaultData) errText() string { return d.Err }

func (h *Handler) loadVault(w http.ResponseWriter, r *http.Request, s *session, rg, name, blade string) *vaultData {
	d := &vaultData{Group: rg, Name: name, Link: kvPath(rg, name), Blade: blade}
	path := h.sub(r) + "/resourceGroups/" + url.PathEscape(rg) + "/providers/Microsoft.KeyVault/vaults/" + url.PathEscape(name) + "?api-version=" + armVaultAPI
	if err := h.call(r, s, "GET", h.armHost(r), path, armAudience, nil, &d.Vault); err != nil {
		h.fail(w, r, s, name, err)
		return nil
	}
	d.RBAC = d.Vault.Properties.EnableRbacAuthorization != nil && *d.Vault.Properties.EnableRbacAuthorization
	return d
}

func (h *Handler) vaultOverview(w http.ResponseWriter, r *http.Request, s *session, rg, name string) {
	if d := h.loadVault(w, r, s, rg, name, "overview"); d != nil {
		h.render(w, r, s, http.StatusOK, "kvoverview", d)
	}
}

// vaultHost is the host of the vault's URI (the data plane).
func vaultHost(d *vaultData) string {
	u, err := url.Parse(d.Vault.Properties.VaultURI)
	if err != nil {
		return ""
	}
	return u.Host
}

func (h *Handler) secrets(w http.ResponseWriter, r *http.Request, s *session, rg, name string) {
	d := h.loadVault(w, r, s, rg, name, "secrets")
	if d == nil {
		return
	}
	var list wire.Page[wire.SecretItem]
	err := h.call(r, s, "GET", vaultHost(d), "/secrets?api-version="+kvAPI, h.Profile.VaultResource(), nil, &list)
	type row struct {
		Name, Type, Expires string
		Enabled             bool
	}
	rows := []row{}
	for _, it := range list.Value {
		n := it.ID[strings.LastIndex(it.ID, "/")+1:]
		rows = append(rows, row{Name: n, Type: it.ContentType, Enabled: it.Attributes.Enabled == nil || *it.Attributes.Enabled, Expires: date(it.Attributes.Expires)})
	}
	if err != nil {
		d.Err = err.Error()
	}
	h.render(w, r, s, http.StatusOK, "secrets", map[string]any{"V": d, "Rows": rows, "Flash": r.URL.Query().Get("created")})
}

func date(unix *int64) string {
	if unix == nil || *unix == 0 {
		return ""
	}
	return time.Unix(*unix, 0).UTC().Format("2006-01-02")
}

type secretInput struct {
	Upload, Name, ContentType, Activation, Expiration, Enabled string
	SetActivation, SetExpiration                               bool
}

func (h *Handler) secretNew(w http.ResponseWriter, r *http.Request, s *session, rg, name string) {
	d := h.loadVault(w, r, s, rg, name, "secrets")
	if d == nil {
		return
	}
	in := secretInput{Upload: "manual", Enabled: "yes"}
	if r.Method == http.MethodGet {
		h.render(w, r, s, http.StatusOK, "secretnew", map[string]any{"V": d, "In": in})
		return
	}
	f := r.PostForm
	in = secretInput{Upload: f.Get("upload"), Name: strings.TrimSpace(f.Get("secretName")), ContentType: f.Get("contentType"),
		Activation: f.Get("activation"), Expiration: f.Get("expiration"), Enabled: f.Get("enabled"),
		SetActivation: f.Get("setActivation") == "on", SetExpiration: f.Get("setExpiration") == "on"}
	value := f.Get("secretValue")
	again := func(msg string) {
		d.Err = msg
		h.render(w, r, s, http.StatusBadRequest, "secretnew", map[string]any{"V": d, "In": in})
	}
	if in.Upload != "manual" {
		again("Only the Manual upload option is available.")
		return
	}
	if in.Name == "" || value == "" {
		again("Name and Secret value are required.")
		return
	}
	attrs := map[string]any{"enabled": in.Enabled != "no"}
	for _, x := range []struct {
		set  bool
		val  string
		attr string
	}{{in.SetActivation, in.Activation, "nbf"}, {in.SetExpiration, in.Expiration, "exp"}} {
		if !x.set {
			continue
		}
		t, err := time.Parse("2006-01-02", x.val)
		if err != nil {
			again("Dates must be given as YYYY-MM-DD.")
			return
		}
		attrs[x.attr] = t.Unix()
	}
	body := map[string]any{"value": value, "attributes": attrs}
	if in.ContentType != "" {
		body["contentType"] = in.ContentType
	}
	if err := h.call(r, s, "PUT", vaultHost(d), "/secrets/"+url.PathEscape(in.Name)+"?api-version="+kvAPI, h.Profile.VaultResource(), body, nil); err != nil {
		again(err.Error())
		return
	}
	http.Redirect(w, r, d.Link+"/secrets?created="+url.QueryEscape(in.Name), http.StatusSeeOther)
}

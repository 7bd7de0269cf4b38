package keyvault

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/httpx"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/policy"
	"github.com/coffer-dev/coffer/internal/vaults"
	"github.com/coffer-dev/coffer/internal/wire"
)

// open loads the vault and authorizes the action on the named secret.
func (h *Handler) open(req *request, a policy.Action, secret string) (*model.Vault, error) {
	return h.openFor(req, a, secret, h.Vaults.Authorize)
}

func (req *request) base() string { return "https://" + req.host }

func (req *request) secretID(name, version string) string {
	id := req.base() + "/secrets/" + name
	if version != "" {
		id += "/" + version
	}
	return id
}

func (req *request) attributes(v *model.Vault, ver *model.SecretVersion) wire.SecretAttributes {
	enabled := ver.Enabled
	a := wire.SecretAttributes{
		Enabled: &enabled, NotBefore: ver.NotBefore, Expires: ver.Expires,
		Created: ver.Created, Updated: ver.Updated, RecoveryLevel: v.RecoveryLevel(),
	}
	if req.api.hasRecoverableDays {
		a.RecoverableDays = v.RecoverableDays()
	}
	return a
}

func (req *request) bundle(v *model.Vault, sec *model.Secret, ver *model.SecretVersion, withValue bool) wire.SecretBundle {
	b := wire.SecretBundle{
		ContentType: ver.ContentType, ID: req.secretID(sec.Name, ver.Version),
		Attributes: req.attributes(v, ver), Tags: ver.Tags,
	}
	if withValue {
		value := ver.Value
		b.Value = &value
	}
	if ver.Managed { // a certificate's secret names its key, as in Azure
		b.Managed, b.Kid = true, req.keyID(sec.Name, ver.Version)
	}
	return b
}

func (req *request) deletedBundle(v *model.Vault, sec *model.Secret) wire.DeletedSecretBundle {
	ver := sec.Latest()
	b := wire.DeletedSecretBundle{
		ContentType: ver.ContentType, ID: req.secretID(sec.Name, ver.Version),
		Attributes: req.attributes(v, ver), Tags: ver.Tags,
	}
	if ver.Managed {
		b.Managed, b.Kid = true, req.keyID(sec.Name, ver.Version)
	}
	if sec.Deleted != nil {
		b.RecoveryID = req.base() + "/deletedsecrets/" + sec.Name
		b.DeletedDate = sec.Deleted.DeletedDate
		b.ScheduledPurgeDate = sec.Deleted.ScheduledPurgeDate
	}
	return b
}

func toAttributes(a *wire.SecretAttributes) vaults.Attributes {
	if a == nil {
		return vaults.Attributes{}
	}
	return vaults.Attributes{Enabled: a.Enabled, NotBefore: a.NotBefore, Expires: a.Expires}
}

func (h *Handler) setSecret(w http.ResponseWriter, req *request) error {
	if req.trail {
		return badParameter("The request URI contains an invalid name: " + req.name() + "/")
	}
	v, err := h.open(req, policy.SetSecret, req.name())
	if err != nil {
		return err
	}
	var body wire.SecretSetParameters
	if err := decode(req, &body); err != nil {
		return err
	}
	sec, ver, err := h.Vaults.SetSecret(req.r.Context(), v, req.name(), vaults.SetParams{
		Value: body.Value, ContentType: body.ContentType, Tags: body.Tags, Attributes: toAttributes(body.Attributes),
	})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.bundle(v, sec, ver, true))
	return nil
}

func (h *Handler) getSecret(w http.ResponseWriter, req *request) error {
	v, err := h.open(req, policy.GetSecret, req.name())
	if err != nil {
		return err
	}
	if oct := first(req.query, "outcontenttype"); oct != "" && oct != "application/x-pkcs12" && oct != "application/x-pem-file" {
		return badParameter("The value of outContentType '" + oct + "' is not supported.")
	}
	sec, ver, err := h.Vaults.GetSecret(req.r.Context(), v, req.name(), req.version())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.bundle(v, sec, ver, true))
	return nil
}

func (h *Handler) updateSecret(w http.ResponseWriter, req *request) error {
	v, err := h.open(req, policy.UpdateSecret, req.name())
	if err != nil {
		return err
	}
	var body wire.SecretUpdateParameters
	if err := decode(req, &body); err != nil {
		return err
	}
	p := vaults.UpdateParams{ContentType: body.ContentType, Attributes: toAttributes(body.Attributes)}
	if body.Tags != nil {
		p.Tags, p.TagsSet = *body.Tags, true
	}
	sec, ver, err := h.Vaults.UpdateSecret(req.r.Context(), v, req.name(), req.version(), p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, req.bundle(v, sec, ver, false))
	return nil
}

func (h *Handler) deleteSecret(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.open, policy.DeleteSecret, h.Vaults.DeleteSecret, req.deletedBundle)
}

func (h *Handler) getDeleted(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.open, policy.GetDeleted, h.Vaults.GetDeletedSecret, req.deletedBundle)
}

func (h *Handler) purgeDeleted(w http.ResponseWriter, req *request) error {
	return servePurge(w, req, h.open, policy.PurgeSecret, h.Vaults.PurgeDeletedSecret)
}

func (h *Handler) recoverDeleted(w http.ResponseWriter, req *request) error {
	return serveObject(w, req, h.open, policy.RecoverSecret, h.Vaults.RecoverDeletedSecret, req.latestBundle)
}

func (h *Handler) backupSecret(w http.ResponseWriter, req *request) error {
	return serveBackup(w, req, h.open, policy.BackupSecret, h.Vaults.BackupSecret)
}

func (h *Handler) restoreSecret(w http.ResponseWriter, req *request) error {
	return serveRestore(w, req, h.open, policy.RestoreSecret, h.Vaults.RestoreSecret, req.latestBundle)
}

// page holds the parsed paging parameters of a list request.
type page struct {
	max    int
	maxSet bool
	after  string
}

func (req *request) page() (page, error) {
	p := page{max: 25}
	if m := first(req.query, "maxresults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > 25 {
			return p, badParameter("Invalid value for maxresults: " + m + ". The value must be between 1 and 25.")
		}
		p.max, p.maxSet = n, true
	}
	if tok := first(req.query, "$skiptoken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		var st skipToken
		if err != nil || json.Unmarshal(b, &st) != nil || st.After == "" {
			return p, badParameter("The $skiptoken is invalid.")
		}
		p.after = st.After
	}
	return p, nil
}

// skipToken marks where the next page starts. It is opaque to clients.
type skipToken struct {
	After string `json:"after"`
}

// nextLink builds the absolute link to the page after key, from the exact
// scheme and Host the client used (JS requires the same origin).
func (req *request) nextLink(path, after string, p page) *string {
	tok, _ := json.Marshal(skipToken{After: after})
	link := req.base() + path + "?api-version=" + req.api.raw + "&$skiptoken=" + base64.RawURLEncoding.EncodeToString(tok)
	if p.maxSet {
		link += "&maxresults=" + strconv.Itoa(p.max)
	}
	return &link
}

// paginate returns the items after p.after (by key), at most p.max, and the
// key of the last one when more follow.
func paginate[T any](items []T, key func(T) string, p page) ([]T, string) {
	start := 0
	if p.after != "" {
		start = len(items)
		for i, it := range items {
			if key(it) > p.after {
				start = i
				break
			}
		}
	}
	items = items[start:]
	if len(items) <= p.max {
		return items, ""
	}
	return items[:p.max], key(items[p.max-1])
}

func upperName(s model.Secret) string { return strings.ToUpper(s.Name) }

func (h *Handler) listSecrets(w http.ResponseWriter, req *request) error {
	v, err := h.open(req, policy.ListSecrets, "")
	if err != nil {
		return err
	}
	p, err := req.page()
	if err != nil {
		return err
	}
	// One page is read from the store's ordered index, so the cost of a
	// page does not grow with the vault.
	items, more, err := h.Vaults.ListSecretsPage(req.r.Context(), v, p.after, p.max)
	if err != nil {
		return err
	}
	return writeItems(w, req, p, items, lastKey(items, more, upperName), "/secrets", func(sec *model.Secret) wire.SecretItem {
		ver := sec.Latest()
		return wire.SecretItem{ID: req.secretID(sec.Name, ""), Attributes: req.attributes(v, ver), Tags: ver.Tags, ContentType: ver.ContentType, Managed: ver.Managed}
	})
}

// writePage renders the page of items after p's skip token, with a
// nextLink to path when more follow.
func writePage[T, W any](w http.ResponseWriter, req *request, p page, all []T, key func(T) string, path string, render func(*T) W) error {
	items, last := paginate(all, key, p)
	return writeItems(w, req, p, items, last, path, render)
}

// lastKey is the paging key of a page's last item when more follow.
func lastKey[T any](items []T, more bool, key func(T) string) string {
	if !more || len(items) == 0 {
		return ""
	}
	return key(items[len(items)-1])
}

// writeItems renders one page, with a nextLink after last unless it is "".
func writeItems[T, W any](w http.ResponseWriter, req *request, p page, items []T, last string, path string, render func(*T) W) error {
	out := wire.ListResult[W]{Value: make([]W, 0, len(items))}
	for i := range items {
		out.Value = append(out.Value, render(&items[i]))
	}
	if last != "" {
		out.NextLink = req.nextLink(path, last, p)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) listVersions(w http.ResponseWriter, req *request) error {
	v, err := h.open(req, policy.ListSecrets, req.name())
	if err != nil {
		return err
	}
	p, err := req.page()
	if err != nil {
		return err
	}
	sec, vers, err := h.Vaults.ListVersions(req.r.Context(), v, req.name())
	if err != nil {
		return err
	}
	all := byPagingKey(sec.Versions, vers, func(v *model.SecretVersion) (string, int64) { return v.Version, v.Created })
	return writePage(w, req, p, all, pagingKey[model.SecretVersion], "/secrets/"+sec.Name+"/versions", func(it *pagedVersion[model.SecretVersion]) wire.SecretItem {
		return wire.SecretItem{ID: req.secretID(sec.Name, it.ver.Version), Attributes: req.attributes(v, &it.ver), Tags: it.ver.Tags, ContentType: it.ver.ContentType, Managed: it.ver.Managed}
	})
}

// versionKey is the paging key of a version: newer (created later, or
// added later within the same second) sorts first.
// pagedVersion is one listed version with its paging key.
type pagedVersion[V any] struct {
	key string
	ver V
}

func pagingKey[V any](x pagedVersion[V]) string { return x.key }

// byPagingKey orders the listed versions (newest first) by their paging
// keys. The key must not move when versions are added between two page
// requests, so it is not the list position but (created, insertion order
// in stored, the record's versions), both inverted so that keys ascend in
// list order: a new version sorts before every page already served, and
// no existing version is listed twice or skipped. Secrets, keys and
// certificates all page their versions this way.
func byPagingKey[V any](stored, listed []V, id func(*V) (version string, created int64)) []pagedVersion[V] {
	order := make(map[string]int, len(stored))
	for i := range stored {
		name, _ := id(&stored[i])
		order[strings.ToLower(name)] = i
	}
	all := make([]pagedVersion[V], len(listed))
	for i := range listed {
		name, created := id(&listed[i])
		all[i] = pagedVersion[V]{versionKey(created, order[strings.ToLower(name)]), listed[i]}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].key < all[j].key })
	return all
}

func versionKey(created int64, insertion int) string {
	// Flipping the sign bit maps int64 order onto uint64 order; the
	// complement then makes later times sort first.
	inv := ^(uint64(created) ^ 1<<63)
	return fmt.Sprintf("%020d.%010d", inv, math.MaxInt32-insertion)
}

func (h *Handler) listDeleted(w http.ResponseWriter, req *request) error {
	v, err := h.open(req, policy.ListSecrets, "")
	if err != nil {
		return err
	}
	p, err := req.page()
	if err != nil {
		return err
	}
	items, more, err := h.Vaults.ListDeletedSecretsPage(req.r.Context(), v, p.after, p.max)
	if err != nil {
		return err
	}
	return writeItems(w, req, p, items, lastKey(items, more, upperName), "/deletedsecrets", func(sec *model.Secret) wire.DeletedSecretItem {
		b := req.deletedBundle(v, sec)
		return wire.DeletedSecretItem{
			RecoveryID: b.RecoveryID, DeletedDate: b.DeletedDate, ScheduledPurgeDate: b.ScheduledPurgeDate,
			ID: req.secretID(sec.Name, ""), Attributes: b.Attributes, Tags: b.Tags, ContentType: b.ContentType, Managed: b.Managed,
		}
	})
}

// peerAddr is the TCP peer of the request; headers are not trusted for it.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

package imds_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// identityNotFound is IMDS's answer for an identity the VM does not have
// (azure-wire-spec §3.2): 400, never a retryable 404.
const identityNotFound = `{"error":"invalid_request","error_description":"Identity not found"}`

// TestForeignIdentitySelection: through the IMDS Front (what `coffer agent`
// serves on a VM), naming any identity that is not the VM's own — another
// VM's, one attached elsewhere or nowhere, a service principal, the admin,
// a deleted one — by client_id, object_id, msi_res_id or mi_res_id is a
// 400 "Identity not found" with no token. The Front caches nothing for it
// (asking again goes to the server again and is refused again), and its
// cache of the VM's own tokens, filled first, is never served for a
// foreign selector.
func TestForeignIdentitySelection(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	w := testenv.NewIdentityWorld(env, "sel", "sel-")
	front, upstream := newFront(t, env, w.Cred, nil)
	front.IdentityRate = 1000 // this test is about selection, not IMDS's rate limit
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)

	// Control, and a warm cache: the VM's own identities by every selector.
	for _, q := range []string{"", "&client_id=" + w.Mine.ClientID, "&object_id=" + w.Mine.PrincipalID,
		"&msi_res_id=" + url.QueryEscape(w.Mine.ResourceID()), "&mi_res_id=" + url.QueryEscape(w.Mine.ResourceID())} {
		want := w.Mine.PrincipalID
		if q == "" {
			want = w.VM.SystemAssigned
		}
		tok := tokenFields(t, get(t, srv.URL, tokenTarget(q), nil))
		if got := claims(t, tok["access_token"])["oid"]; got != want {
			t.Fatalf("own identity %q: oid %v, want %s", q, got, want)
		}
	}
	// The owners' tokens exist on the server before the foreign requests.
	for _, f := range w.Foreign {
		if f.OwnerCred != "" {
			ownerFront, _ := newFront(t, env, f.OwnerCred, nil)
			owner := httptest.NewServer(ownerFront)
			tok := tokenFields(t, get(t, owner.URL, tokenTarget("&object_id="+f.ObjectID), nil))
			owner.Close()
			if got := claims(t, tok["access_token"])["oid"]; got != f.ObjectID {
				t.Fatalf("%s for its owner: oid %v", f.Name, got)
			}
		}
	}

	sels := w.Selections(map[string]string{"client_id": "client", "object_id": "object", "msi_res_id": "resource", "mi_res_id": "resource"})
	for _, s := range sels {
		t.Run(s.Identity.Name+"/"+s.Param, func(t *testing.T) {
			for attempt := range 2 {
				before := upstream.n.Load()
				r := get(t, srv.URL, tokenTarget(s.Query()), nil)
				if r.status != http.StatusBadRequest || r.body != identityNotFound {
					t.Fatalf("attempt %d: %s=%s: %d %s, want 400 %s", attempt+1, s.Param, s.Value, r.status, r.body, identityNotFound)
				}
				if upstream.n.Load() == before {
					t.Errorf("attempt %d was answered from the Front's cache", attempt+1)
				}
			}
		})
	}
	if len(sels) < 24 {
		t.Errorf("only %d foreign selections: the world lost identities", len(sels))
	}
}

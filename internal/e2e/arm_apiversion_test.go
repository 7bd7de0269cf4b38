package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestARMNewerAPIVersionServed: a well-formed api-version newer than any
// Coffer knows (the next SDK release's) is served like the newest, while
// versions that never existed or lie far in the future are refused.
func TestARMNewerAPIVersionServed(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := armTokenFor(t, env, env.Admin.ClientID, env.Admin.ClientSecret)
	next := time.Now().AddDate(0, 2, 0).Format("2006-01-02")
	path := "/subscriptions/" + env.Instance.SubscriptionID + "/resourcegroups/coffer?api-version="
	for _, tc := range []struct {
		version string
		want    int
	}{
		{next, http.StatusOK},
		{next + "-preview", http.StatusOK},
		{"2021-04-01", http.StatusOK},
		{"2021-04-02", http.StatusBadRequest},
		{"2099-01-01", http.StatusBadRequest},
	} {
		r := armRaw(t, env, "GET", path+tc.version, tok, nil)
		if r.Status != tc.want {
			t.Errorf("GET resource group with api-version %s = %d, want %d: %s", tc.version, r.Status, tc.want, r.Body)
		}
	}
}

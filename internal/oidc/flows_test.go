package oidc_test

import (
	"net/url"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/oidc"
)

// TestRefreshTokenSingleUse: refresh tokens live in the shared store and
// rotate; redeemed by many clients at once (replicas, or a thief racing
// the owner), exactly one redemption succeeds, and so does the code.
func TestRefreshTokenSingleUse(t *testing.T) {
	f := newFlow(t)
	admin := f.env.Admin
	code := f.code(t, admin.UserPrincipalName, admin.Password, redirect)
	const racers = 8
	race := func(form url.Values) int {
		var wg sync.WaitGroup
		results := make(chan tokenResp, racers)
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- f.token(t, form)
			}()
		}
		wg.Wait()
		close(results)
		won := 0
		for tr := range results {
			switch {
			case tr.status == 200:
				won++
			case tr.status != 400 || tr.Error != "invalid_grant":
				t.Errorf("a losing redemption: %+v", tr)
			}
		}
		return won
	}
	if won := race(redeem(code, redirect, verifier)); won != 1 {
		t.Fatalf("%d redemptions of one code succeeded, want 1", won)
	}
	// One more redemption for a refresh token to race with.
	code = f.code(t, admin.UserPrincipalName, admin.Password, redirect)
	tr := f.token(t, redeem(code, redirect, verifier))
	if tr.status != 200 || tr.Refresh == "" {
		t.Fatalf("redeem: %+v", tr)
	}
	if won := race(url.Values{"grant_type": {"refresh_token"}, "client_id": {oidc.AzureCLIClientID}, "refresh_token": {tr.Refresh},
		"scope": {"https://vault.localhost/.default"}}); won != 1 {
		t.Errorf("%d redemptions of one refresh token succeeded, want 1", won)
	}
}

package e2e

import (
	"net/http"
	"testing"

	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestRawKeyRotationPolicyRules: PUT /keys/{name}/rotationpolicy keeps Key
// Vault's documented limits — an expiryTime of at least 28 days, triggers
// at least 7 days after creation and 7 days before the expiry, ISO 8601
// durations, one Rotate and one Notify at most, a Notify only before
// expiry, action types Rotate and Notify — and answers a breach with 400
// BadParameter, storing nothing (the policy read back is unchanged).
//
// Confirmed: the limits (Key Vault's key-rotation documentation and the
// behaviour other emulators measured against Azure) and the 400
// BadParameter status and code. Best guesses: the message texts, which
// Key Vault does not publish; the test checks them exactly so that a
// change is deliberate.
func TestRawKeyRotationPolicyRules(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	tok := adminToken(t, env)
	const api = "?api-version=7.5"
	if r := rawDo(t, env, "POST", kvURL(env, "/keys/rot/create"+api), tok, jsonBody(t, map[string]any{"kty": "EC"}), nil); r.Status != http.StatusOK {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	url := kvURL(env, "/keys/rot/rotationpolicy"+api)
	act := func(typ, trigger, d string) map[string]any {
		return map[string]any{"action": map[string]any{"type": typ}, "trigger": map[string]any{trigger: d}}
	}
	pol := func(expiry string, actions ...map[string]any) map[string]any {
		p := map[string]any{"lifetimeActions": actions}
		if expiry != "" {
			p["attributes"] = map[string]any{"expiryTime": expiry}
		}
		return p
	}
	// A valid policy first: every refusal below must leave it as it is.
	good := pol("P90D", act("Rotate", "timeAfterCreate", "P60D"), act("Notify", "timeBeforeExpiry", "P30D"))
	if r := rawDo(t, env, "PUT", url, tok, jsonBody(t, good), nil); r.Status != http.StatusOK {
		t.Fatalf("valid policy: %d %s", r.Status, r.Body)
	}
	stored := rawDo(t, env, "GET", url, tok, nil, nil).Body

	tests := []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"expiry below 28 days", pol("P27D"), "The expiryTime must be at least 28 days (P28D)."},
		{"expiry in hours", pol("PT600H"), "The expiryTime must be at least 28 days (P28D)."},
		{"expiry not ISO 8601", pol("90 days"), "The expiryTime '90 days' is not a valid ISO 8601 duration."},
		{"trigger not ISO 8601", pol("", act("Rotate", "timeAfterCreate", "P1X")), "The trigger 'P1X' is not a valid ISO 8601 duration."},
		{"empty duration", pol("", act("Rotate", "timeAfterCreate", "P")), "The trigger 'P' is not a valid ISO 8601 duration."},
		{"rotate sooner than 7 days after creation", pol("", act("Rotate", "timeAfterCreate", "P6D")), "The trigger 'P6D' is shorter than the minimum of 7 days (P7D)."},
		{"rotate later than 7 days before expiry", pol("P28D", act("Rotate", "timeAfterCreate", "P22D")),
			"The trigger 'P22D' must fall at least 7 days after creation and at least 7 days before the expiryTime 'P28D'."},
		{"rotate less than 7 days before expiry", pol("", act("Rotate", "timeBeforeExpiry", "PT48H")), "The trigger 'PT48H' is shorter than the minimum of 7 days (P7D)."},
		{"rotate before expiry sooner than 7 days after creation", pol("P30D", act("Rotate", "timeBeforeExpiry", "P25D")),
			"The trigger 'P25D' must fall at least 7 days after creation and at least 7 days before the expiryTime 'P30D'."},
		{"notify less than 7 days before expiry", pol("", act("Notify", "timeBeforeExpiry", "P3D")), "The trigger 'P3D' is shorter than the minimum of 7 days (P7D)."},
		{"notify after creation", pol("", act("Notify", "timeAfterCreate", "P30D")), "A Notify action must be triggered by timeBeforeExpiry."},
		{"two triggers", pol("", map[string]any{"action": map[string]any{"type": "Rotate"}, "trigger": map[string]any{"timeAfterCreate": "P30D", "timeBeforeExpiry": "P30D"}}),
			"A lifetime action trigger must set exactly one of timeAfterCreate and timeBeforeExpiry."},
		{"no trigger", pol("", map[string]any{"action": map[string]any{"type": "Rotate"}, "trigger": map[string]any{}}),
			"A lifetime action trigger must set exactly one of timeAfterCreate and timeBeforeExpiry."},
		{"two Rotate actions", pol("", act("Rotate", "timeAfterCreate", "P30D"), act("Rotate", "timeAfterCreate", "P60D")), "A rotation policy may have at most one Rotate action."},
		{"two Notify actions", pol("", act("Notify", "timeBeforeExpiry", "P30D"), act("Notify", "timeBeforeExpiry", "P10D")), "A rotation policy may have at most one Notify action."},
		{"unknown action", pol("", act("Delete", "timeAfterCreate", "P30D")), "The lifetime action type 'Delete' is invalid. Valid types are: Rotate, Notify."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawDo(t, env, "PUT", url, tok, jsonBody(t, tt.body), nil)
			if msg := r.wantKVError(t, tt.name, http.StatusBadRequest, "BadParameter", ""); msg != tt.msg {
				t.Errorf("message %q\nwant    %q", msg, tt.msg)
			}
		})
	}
	if got := rawDo(t, env, "GET", url, tok, nil, nil).Body; string(got) != string(stored) {
		t.Errorf("refused policies changed the stored one:\n%s\nwas\n%s", got, stored)
	}
	// The limits themselves are allowed.
	for _, ok := range []map[string]any{
		pol("P28D", act("Rotate", "timeAfterCreate", "P21D"), act("Notify", "timeBeforeExpiry", "P7D")),
		pol("P28D", act("Rotate", "timeBeforeExpiry", "P21D")),
		pol("P1Y", act("Rotate", "timeAfterCreate", "P1W")),
		pol("", act("notify", "timeBeforeExpiry", "P30D")),
	} {
		if r := rawDo(t, env, "PUT", url, tok, jsonBody(t, ok), nil); r.Status != http.StatusOK {
			t.Errorf("policy %v: %d %s", ok, r.Status, r.Body)
		}
	}
}

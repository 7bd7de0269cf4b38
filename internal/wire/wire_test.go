package wire_test

import (
	"encoding/json"
	"testing"

	"github.com/coffer-dev/coffer/internal/wire"
)

func ptr[T any](v T) *T { return &v }

// TestShapes: the exact JSON of the shapes clients parse strictly
// (azure-wire-spec §1.2, §3.2): field names, field order, omitted optional
// fields, nulls where the service sends null, strings where it sends
// strings.
func TestShapes(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"Key Vault error without inner", wire.KeyVaultError{Error: wire.ErrorDetail{Code: "SecretNotFound", Message: "m"}},
			`{"error":{"code":"SecretNotFound","message":"m"}}`},
		{"Key Vault error with inner", wire.KeyVaultError{Error: wire.ErrorDetail{Code: "Forbidden", Message: "m", InnerError: &wire.InnerError{Code: "AccessDenied"}}},
			`{"error":{"code":"Forbidden","message":"m","innererror":{"code":"AccessDenied"}}}`},
		{"OAuth error, IMDS form", wire.OAuthError{Error: "invalid_request", ErrorDescription: "Identity not found"},
			`{"error":"invalid_request","error_description":"Identity not found"}`},
		{"OAuth error, Entra form", wire.OAuthError{Error: "invalid_client", ErrorDescription: "d", ErrorCodes: []int{7000215}, Timestamp: "ts", TraceID: "t", CorrelationID: "c"},
			`{"error":"invalid_client","error_description":"d","error_codes":[7000215],"timestamp":"ts","trace_id":"t","correlation_id":"c"}`},
		{"managed identity token: all strings", wire.ManagedIdentityToken{AccessToken: "a", ClientID: "c", ExpiresIn: "86399", ExpiresOn: "2", ExtExpiresIn: "86399", NotBefore: "1", Resource: "r", TokenType: "Bearer"},
			`{"access_token":"a","client_id":"c","expires_in":"86399","expires_on":"2","ext_expires_in":"86399","not_before":"1","resource":"r","token_type":"Bearer"}`},
		{"v2 token: numbers", wire.TokenResponseV2{TokenType: "Bearer", ExpiresIn: 3599, ExtExpiresIn: 3599, AccessToken: "a"},
			`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"a"}`},
		{"v1 token: strings", wire.TokenResponseV1{TokenType: "Bearer", ExpiresIn: "3599", ExtExpiresIn: "3599", ExpiresOn: "2", NotBefore: "1", Resource: "r", AccessToken: "a"},
			`{"token_type":"Bearer","expires_in":"3599","ext_expires_in":"3599","expires_on":"2","not_before":"1","resource":"r","access_token":"a"}`},
		{"secret bundle", wire.SecretBundle{Value: ptr("v"), ID: "https://kv/secrets/s/1", Attributes: wire.SecretAttributes{Enabled: ptr(true), Created: 1, Updated: 2, RecoveryLevel: "Recoverable+Purgeable", RecoverableDays: 90}},
			`{"value":"v","id":"https://kv/secrets/s/1","attributes":{"enabled":true,"created":1,"updated":2,"recoveryLevel":"Recoverable+Purgeable","recoverableDays":90}}`},
		{"secret bundle without value or optional fields", wire.SecretBundle{ID: "i", Attributes: wire.SecretAttributes{Enabled: ptr(false)}},
			`{"id":"i","attributes":{"enabled":false}}`},
		{"empty value kept", wire.SecretBundle{Value: ptr(""), ID: "i"}, `{"value":"","id":"i","attributes":{}}`},
		{"last list page has a null nextLink", wire.ListResult[wire.SecretItem]{Value: []wire.SecretItem{}}, `{"value":[],"nextLink":null}`},
		{"ARM page omits nextLink", wire.Page[wire.IPRule]{Value: []wire.IPRule{{Value: "1.2.3.4"}}}, `{"value":[{"value":"1.2.3.4"}]}`},
		{"set parameters send a null value", wire.SecretSetParameters{}, `{"value":null}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if string(b) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, b, tt.want)
		}
	}
}

// TestUpdateParametersDistinguishAbsentFromEmpty: PATCH must tell "tags
// not sent" (keep) from "tags: {}" (clear).
func TestUpdateParametersDistinguishAbsentFromEmpty(t *testing.T) {
	var absent, empty wire.SecretUpdateParameters
	if err := json.Unmarshal([]byte(`{}`), &absent); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"tags":{}}`), &empty); err != nil {
		t.Fatal(err)
	}
	if absent.Tags != nil || empty.Tags == nil || len(*empty.Tags) != 0 {
		t.Errorf("absent %v, empty %v", absent.Tags, empty.Tags)
	}
}

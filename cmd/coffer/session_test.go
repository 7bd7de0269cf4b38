package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestNeedSubscription: with no subscription, every ARM path that would
// name the missing one is refused before it is sent, with the error that
// names the login; the subscription list, Graph and the data plane pass.
func TestNeedSubscription(t *testing.T) {
	tests := []struct {
		url     string
		refused bool
	}{
		{"https://localhost:8443/subscriptions//resourceGroups/rg?api-version=2021-04-01", true},
		{"https://localhost:8443/subscriptions//providers/Microsoft.KeyVault/vaults", true},
		{"https://localhost:8443/subscriptions/?api-version=2021-04-01", true},
		{"https://localhost:8443/subscriptions/providers/Microsoft.Authorization/roleAssignments", true},
		{"https://localhost:8443/SUBSCRIPTIONS/resourcegroups/rg", true},
		{"https://localhost:8443/subscriptions?api-version=2022-12-01", false},
		{"https://localhost:8443/subscriptions/70140345-1c73-4ad4-8eea-46898188ef95/resourceGroups/rg", false},
		{"https://localhost:8443/v1.0/servicePrincipals", false},
		{"https://kv1.vault.azure.net/secrets/s?api-version=7.6", false},
	}
	src := credSource{kind: "login", clientID: "app-1", dataDir: "/data"}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			sent := false
			rt := needSubscription{src: src, next: roundTripFunc(func(*http.Request) (*http.Response, error) {
				sent = true
				return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
			})}
			req, err := http.NewRequest("PUT", tt.url, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = rt.RoundTrip(req)
			var ns *noSubscriptionError
			if refused := errors.As(err, &ns); refused != tt.refused || sent == tt.refused {
				t.Fatalf("refused %v (err %v), sent %v; want refused %v", refused, err, sent, tt.refused)
			}
			if !tt.refused {
				return
			}
			msg := renderError(err)
			for _, want := range []string{"service principal app-1", "sees no subscription", "--assignee app-1", "`coffer logout`", "/data"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
		})
	}
}

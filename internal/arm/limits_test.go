package arm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

func manyTags(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("tag%02d", i)] = "v"
	}
	return m
}

// TestTagLimits: ARM's tag limits on every resource type's PUT, with ARM's
// codes; the boundary values pass.
func TestTagLimits(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	sub := env.Instance.SubscriptionID
	admin := adminARMToken(t, env)
	if _, _, err := env.Resources.CreateOrUpdateGroup(context.Background(), sub, "rg", testLocation, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		tags     map[string]string
		wantCode string // "" means accepted
		wantIn   string
	}{
		{"50 tags", manyTags(50), "", ""},
		{"51 tags", manyTags(51), "InvalidTags", "Requested tag count - '51'. Maximum number of tags allowed - '50'."},
		{"name of 512", map[string]string{strings.Repeat("n", 512): "v"}, "", ""},
		{"name of 513", map[string]string{strings.Repeat("n", 513): "v"}, "InvalidTagName", "Maximum allowed length for tag name - '512' characters."},
		{"value of 256 (runes)", map[string]string{"k": strings.Repeat("é", 256)}, "", ""},
		{"value of 257", map[string]string{"k": strings.Repeat("v", 257)}, "InvalidTagValueLength", "Maximum allowed length for tag value - '256' characters."},
		{"empty name", map[string]string{" ": "v"}, "InvalidTagName", "non-empty"},
		{"slash", map[string]string{"k8s.io/role": "v"}, "InvalidTagNameCharacters", "The tag names 'k8s.io/role' have reserved characters"},
		{"every reserved one", map[string]string{"a<": "", "b>": "", "c%": "", "d&": "", `e\`: "", "f?": ""}, "InvalidTagNameCharacters", `'a<,b>,c%,d&,e\,f?'`},
		{"control character", map[string]string{"a\tb": "v"}, "InvalidTagNameCharacters", ""},
		{"hidden- prefix may", map[string]string{"hidden-link:/x": "v"}, "", ""},
		{"value may hold them", map[string]string{"url": "https://x/?a=1&b=%20"}, "", ""},
		{"empty value", map[string]string{"k": ""}, "", ""},
	}
	paths := map[string]string{
		"resource group": "/subscriptions/" + sub + "/resourcegroups/tagged?api-version=" + groupsAPI,
		"identity":       "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1?api-version=2023-01-31",
	}
	for _, tt := range tests {
		for kind, path := range paths {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				body, _ := json.Marshal(map[string]any{"location": testLocation, "tags": tt.tags})
				r := armDo(t, env, "PUT", path, admin, body)
				if tt.wantCode == "" {
					if r.status != 200 && r.status != 201 {
						t.Errorf("PUT = %d %s, want it accepted", r.status, r.body)
					}
					return
				}
				if r.status != 400 || r.code != tt.wantCode || !strings.Contains(armMessage(r), tt.wantIn) {
					t.Errorf("PUT = %d %s, want 400 %s containing %q", r.status, r.body, tt.wantCode, tt.wantIn)
				}
			})
		}
	}
}

// TestRoleAssignmentScopes: scopes with '.', '..' or empty segments are
// refused before anything is stored, however they are spelled.
func TestRoleAssignmentScopes(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	sub := env.Instance.SubscriptionID
	admin := adminARMToken(t, env)
	ctx := context.Background()
	for _, rg := range []string{"rg", "other"} {
		if _, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, rg, testLocation, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, target := principalToken(t, env, "target")
	body, _ := json.Marshal(map[string]any{"properties": map[string]string{
		"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleReader,
		"principalId":      target}})
	ra := "/providers/Microsoft.Authorization/roleAssignments/"
	tests := []struct {
		name, scope string
		want        int
		wantCode    string
	}{
		{"resource group", "/subscriptions/" + sub + "/resourceGroups/rg", 201, ""},
		{"dot-dot to another group", "/subscriptions/" + sub + "/resourceGroups/rg/../other", 400, "InvalidRoleAssignmentScope"},
		{"encoded dot-dot", "/subscriptions/" + sub + "/resourceGroups/rg/%2e%2e/other", 400, "InvalidRoleAssignmentScope"},
		{"dot", "/subscriptions/" + sub + "/./resourceGroups/rg", 400, "InvalidRoleAssignmentScope"},
		{"empty segment", "/subscriptions/" + sub + "//resourceGroups/rg", 400, "InvalidRoleAssignmentScope"},
		{"dot-dot under a resource", "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/..", 400, "InvalidRoleAssignmentScope"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
			r := armDo(t, env, "PUT", tt.scope+ra+name+"?api-version="+roleAssignAPI, admin, body)
			if r.status != tt.want || r.code != tt.wantCode {
				t.Errorf("PUT = %d %s, want %d %s", r.status, r.body, tt.want, tt.wantCode)
			}
		})
	}
	all, err := env.Store.ListRoleAssignments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if strings.Contains(a.Scope, "..") || strings.Contains(a.Scope, "//") || strings.Contains(a.Scope, "/./") {
			t.Errorf("stored scope %q", a.Scope)
		}
	}
}

func adminARMToken(t *testing.T, env *testenv.Env) string {
	t.Helper()
	p, err := env.Store.GetPrincipal(context.Background(), env.Instance.AdminObjectID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := env.Minter.Mint(p, armAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Raw
}

// armMessage is the error message of an ARM answer, unescaped.
func armMessage(r armResp) string {
	var e struct{ Error struct{ Message string } }
	_ = json.Unmarshal([]byte(r.body), &e)
	return e.Error.Message
}

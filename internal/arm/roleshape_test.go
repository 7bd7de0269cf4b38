package arm_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestRoleAssignmentShape: an assignment carries every property ARM sends,
// null where unset, with its author; a condition, which Coffer would not
// evaluate, is refused and nothing is stored.
func TestRoleAssignmentShape(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	sub := env.Instance.SubscriptionID
	admin := adminARMToken(t, env)
	ctx := context.Background()
	if _, _, err := env.Resources.CreateOrUpdateGroup(ctx, sub, "rg", testLocation, nil); err != nil {
		t.Fatal(err)
	}
	_, target := principalToken(t, env, "target")
	scope := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/"
	props := func(extra map[string]string) []byte {
		p := map[string]string{
			"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleReader,
			"principalId":      target}
		for k, v := range extra {
			p[k] = v
		}
		b, _ := json.Marshal(map[string]any{"properties": p})
		return b
	}

	r := armDo(t, env, "PUT", scope+"00000000-0000-4000-8000-000000000001?api-version="+roleAssignAPI, admin,
		props(map[string]string{"condition": "@Resource[x] StringEquals 'y'", "conditionVersion": "2.0"}))
	if r.status != 400 || r.code != "InvalidRoleAssignmentRequest" {
		t.Errorf("PUT with a condition = %d %s, want 400 InvalidRoleAssignmentRequest", r.status, r.body)
	}
	if all, _ := env.Store.ListRoleAssignments(ctx); len(all) != 1 { // the admin's own
		t.Errorf("%d assignments stored after a refused PUT, want 1", len(all))
	}

	r = armDo(t, env, "PUT", scope+"00000000-0000-4000-8000-000000000002?api-version="+roleAssignAPI, admin,
		props(map[string]string{"description": "read the group"}))
	if r.status != 201 {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	}
	for _, got := range []armResp{r, armDo(t, env, "GET", scope+"00000000-0000-4000-8000-000000000002?api-version="+roleAssignAPI, admin, nil)} {
		var a struct {
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal([]byte(got.body), &a); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"condition", "conditionVersion", "delegatedManagedIdentityResourceId"} {
			if v, ok := a.Properties[k]; !ok || v != nil {
				t.Errorf("%s = %v (present %v), want null", k, v, ok)
			}
		}
		want := map[string]any{"createdBy": env.Instance.AdminObjectID, "updatedBy": env.Instance.AdminObjectID,
			"description": "read the group", "principalType": "ServicePrincipal"}
		for k, v := range want {
			if a.Properties[k] != v {
				t.Errorf("%s = %v, want %v", k, a.Properties[k], v)
			}
		}
		if a.Properties["updatedOn"] == nil || a.Properties["updatedOn"] != a.Properties["createdOn"] {
			t.Errorf("updatedOn %v, createdOn %v: want both, equal", a.Properties["updatedOn"], a.Properties["createdOn"])
		}
	}
}

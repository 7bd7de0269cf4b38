package graph

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/graph/odata"
	"github.com/coffer-dev/coffer/internal/model"
)

// TestSchemasMatchRendering: every property Coffer renders can be named in
// $select/$filter, and every property the schema names is rendered, so a
// filter never reads a property that is silently absent.
func TestSchemasMatchRendering(t *testing.T) {
	h := &Handler{TenantID: "t"}
	p := &model.Principal{ObjectID: "o", AppID: "a", ApplicationObjectID: "ao", DisplayName: "d", Type: model.PrincipalServicePrincipal, Created: time.Unix(0, 0)}
	for _, tt := range []struct {
		s   *odata.Schema
		obj map[string]any
	}{{spSchema, h.spJSON(p)}, {appSchema, h.appJSON(p)}} {
		var rendered, declared []string
		for k := range tt.obj {
			rendered = append(rendered, k)
		}
		for _, pr := range tt.s.Props {
			declared = append(declared, pr.Name)
		}
		sort.Strings(rendered)
		sort.Strings(declared)
		if r, d := strings.Join(rendered, ","), strings.Join(declared, ","); r != d {
			t.Errorf("%s:\nrendered %s\ndeclared %s", tt.s.Resource, r, d)
		}
	}
}

// TestManagedIdentityNames: Entra names a managed identity's service
// principal by its appId and an identity.azure.net URI and lists the ARM id
// in alternativeNames, with isExplicit=True for user-assigned ones.
func TestManagedIdentityNames(t *testing.T) {
	h := &Handler{TenantID: "t"}
	for _, tt := range []struct {
		rid, explicit string
	}{
		{"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm1", "isExplicit=False"},
		{"/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1", "isExplicit=True"},
	} {
		o := h.spJSON(&model.Principal{ObjectID: "o", AppID: "app", Type: model.PrincipalManagedIdentity, ResourceID: tt.rid})
		names := o["servicePrincipalNames"].([]any)
		alt := o["alternativeNames"].([]any)
		if len(names) != 2 || names[0] != "app" || !strings.HasPrefix(names[1].(string), "https://identity.azure.net/") {
			t.Errorf("%s: servicePrincipalNames %v", tt.rid, names)
		}
		if len(alt) != 2 || alt[0] != tt.explicit || alt[1] != tt.rid {
			t.Errorf("%s: alternativeNames %v", tt.rid, alt)
		}
		if o["servicePrincipalType"] != "ManagedIdentity" || o["appOwnerOrganizationId"] != managedIdentityOwnerTenant {
			t.Errorf("%s: %v", tt.rid, o)
		}
	}
}

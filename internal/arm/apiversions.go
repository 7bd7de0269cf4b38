package arm

import (
	"slices"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
)

// apiVersions lists, per resource type, the api-versions ARM publishes for
// it (azure-rest-api-specs), newest first. A well-formed version that is
// not listed is refused the way ARM refuses it: InvalidApiVersionParameter
// for Microsoft.Resources, NoRegisteredProviderFound for a provider's types
// (azure-wire-spec §4.1).
//
// A well-formed version newer than every listed one, and not dated beyond
// next year, is served like the newest: SDK releases move to new api-versions before Coffer can list
// them, and refusing them is the emulator failure users complain of most.
type apiVersions struct {
	typ      string // "" for Microsoft.Resources (groups, subscriptions, operations)
	versions []string
}

var (
	resourcesAPI = apiVersions{"", []string{
		"2025-04-01", "2025-03-01", "2025-01-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-07-01", "2022-12-01",
		"2022-09-01", "2022-01-01", "2021-04-01", "2021-01-01", "2020-10-01", "2020-08-01", "2020-06-01", "2020-01-01",
		"2019-11-01", "2019-10-01", "2019-08-01", "2019-07-01", "2019-06-01", "2019-05-10", "2019-05-01", "2019-03-01",
		"2018-06-01", "2018-05-01", "2018-02-01", "2017-08-01", "2017-06-01", "2017-05-10", "2016-09-01", "2016-07-01",
		"2016-06-01", "2016-02-01", "2015-11-01", "2015-01-01", "2014-04-01-preview", "2014-04-01",
	}}
	vaultsAPI = apiVersions{"vaults", []string{
		"2026-02-01", "2025-05-01", "2024-12-01-preview", "2024-11-01", "2024-04-01-preview", "2023-08-01-preview",
		"2023-07-01", "2023-02-01", "2022-11-01", "2022-07-01", "2022-02-01-preview", "2021-11-01-preview", "2021-10-01",
		"2021-06-01-preview", "2021-04-01-preview", "2020-04-01-preview", "2019-09-01", "2018-02-14-preview", "2018-02-14",
		"2016-10-01", "2015-06-01",
	}}
	vmsAPI = apiVersions{"virtualMachines", []string{
		"2026-04-01", "2025-11-01", "2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-09-01", "2023-07-01",
		"2023-03-01", "2022-11-01", "2022-08-01", "2022-03-01", "2021-11-01", "2021-07-01", "2021-04-01", "2021-03-01",
		"2020-12-01", "2020-06-01", "2019-12-01", "2019-07-01", "2019-03-01", "2018-10-01", "2018-06-01", "2018-04-01",
		"2017-12-01", "2017-03-30", "2016-04-30-preview", "2016-03-30", "2015-06-15", "2015-05-01-preview",
	}}
	identitiesAPI = apiVersions{"userAssignedIdentities", []string{
		"2025-01-31-preview", "2024-11-30", "2023-07-31-preview", "2023-01-31", "2022-01-31-preview",
		"2021-09-30-preview", "2018-11-30", "2015-08-31-preview",
	}}
	roleAssignmentsAPI = apiVersions{"roleAssignments", []string{
		"2022-04-01", "2022-01-01-preview", "2021-04-01-preview", "2020-10-01-preview", "2020-08-01-preview",
		"2020-04-01-preview", "2020-03-01-preview", "2019-04-01-preview", "2018-12-01-preview", "2018-09-01-preview",
		"2018-01-01-preview", "2017-10-01-preview", "2015-07-01", "2015-06-01", "2014-10-01-preview", "2014-07-01-preview",
	}}
)

func invalidAPIVersion(v string) error {
	return armErr(errs.Invalid, "InvalidApiVersionParameter", "The api-version '"+v+"' is invalid. The supported versions are '"+
		strings.Join(resourcesAPI.versions, ",")+"'.")
}

// check refuses an api-version the type does not know.
func (a apiVersions) check(c *call) error {
	v := strings.ToLower(c.api)
	if slices.Contains(a.versions, v) {
		return nil
	}
	// Newer than anything Coffer knows but not from the future (a year of
	// slack for previews): serve like the newest.
	if date := v[:min(len(v), 10)]; date > a.versions[0][:10] && date <= c.now.AddDate(1, 0, 0).Format("2006-01-02") {
		return nil
	}
	if a.typ == "" {
		return invalidAPIVersion(c.api)
	}
	return armErr(errs.Invalid, "NoRegisteredProviderFound", "No registered resource provider found for API version '"+c.api+
		"' and type '"+a.typ+"'. The supported api-versions are '"+strings.Join(a.versions, ", ")+"'.")
}

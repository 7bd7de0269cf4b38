package keyvault

import (
	"regexp"
	"strconv"
	"strings"
)

// LatestAPIVersion is the newest data-plane api-version Coffer knows.
const LatestAPIVersion = "2026-04-01"

var (
	dateVersionRE    = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})(-preview(\.\d+)?)?$`)
	numericVersionRE = regexp.MustCompile(`^(\d+)\.(\d+)(-preview(\.\d+)?)?$`)
)

// apiVersion is a parsed data-plane api-version.
type apiVersion struct {
	raw string
	// hasRecoverableDays: recoverableDays exists from 7.1 on.
	hasRecoverableDays bool
}

// parseAPIVersion accepts every released version (2015-06-01, 2016-10-01,
// 7.0 … 7.6 and date versions since 2025) and their previews, and serves
// unknown newer versions like the newest, because SDK releases bump their
// default version before any emulator can know it.
func parseAPIVersion(v string) (apiVersion, bool) {
	if m := numericVersionRE.FindStringSubmatch(v); m != nil {
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		if major < 7 {
			return apiVersion{}, false
		}
		return apiVersion{raw: v, hasRecoverableDays: major > 7 || minor >= 1}, true
	}
	if m := dateVersionRE.FindStringSubmatch(v); m != nil {
		date := m[1] + m[2] + m[3]
		switch {
		case date == "20150601" || date == "20161001":
			return apiVersion{raw: v}, true
		case date >= "20250101" && validDate(m[2], m[3]):
			return apiVersion{raw: v, hasRecoverableDays: true}, true
		}
	}
	return apiVersion{}, false
}

func validDate(month, day string) bool {
	mo, _ := strconv.Atoi(month)
	d, _ := strconv.Atoi(day)
	return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && !strings.HasPrefix(month, "-")
}

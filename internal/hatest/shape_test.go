package hatest

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func formValues(grant, id, secret, scope string) url.Values {
	return url.Values{"grant_type": {grant}, "client_id": {id}, "client_secret": {secret}, "scope": {scope}}
}

// checkShape checks an error body has its API's shape.
func checkShape(t *testing.T, name string, res result, oauth bool) {
	t.Helper()
	if !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: Content-Type %q", name, res.header.Get("Content-Type"))
	}
	if oauth {
		var b struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		if json.Unmarshal(res.body, &b) != nil || b.Error == "" || b.ErrorDescription == "" {
			t.Errorf("%s: body %s is not {\"error\",\"error_description\"}", name, res.body)
		}
		return
	}
	var b struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(res.body, &b) != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Errorf("%s: body %s is not {\"error\":{\"code\",\"message\"}}", name, res.body)
	}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

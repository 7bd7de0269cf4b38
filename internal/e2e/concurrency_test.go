package e2e

import (
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestConcurrentWriters: concurrent sets of one name each add a version
// (none is lost), and racing deletes, sets and recovers never produce a
// 5xx, on the bbolt backend.
func TestConcurrentWriters(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud, DataDir: t.TempDir()})
	tok := adminToken(t, env)
	const n = 16
	var wg sync.WaitGroup
	statuses := make(chan string, 4*n)
	for i := range n {
		wg.Go(func() {
			r, err := rawTry(env, "PUT", kvURL(env, "/secrets/shared?api-version=7.6"), tok, []byte(fmt.Sprintf(`{"value":"%d"}`, i)), nil)
			statuses <- failureOf("PUT /secrets/shared", r, err)
		})
	}
	wg.Wait()
	if ids := listIDs(t, env, tok, kvURL(env, "/secrets/shared/versions?api-version=7.6&maxresults=5")); len(ids) != n {
		t.Errorf("%d concurrent sets left %d versions", n, len(ids))
	}

	putSecret(t, env, tok, "contested", map[string]any{"value": "x"})
	for i := range n {
		wg.Go(func() {
			var method, path string
			var body []byte
			switch i % 3 {
			case 0:
				method, path = "DELETE", "/secrets/contested"
			case 1:
				method, path, body = "PUT", "/secrets/contested", []byte(`{"value":"y"}`)
			case 2:
				method, path = "POST", "/deletedsecrets/contested/recover"
			}
			r, err := rawTry(env, method, kvURL(env, path+"?api-version=7.6"), tok, body, nil)
			statuses <- failureOf(method+" "+path, r, err)
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != "" {
			t.Error(s)
		}
	}
}

// result describes a failed (transport error or 5xx) response, else "".
func failureOf(what string, r *rawResp, err error) string {
	switch {
	case err != nil:
		return what + ": " + err.Error()
	case r.Status >= 500:
		return fmt.Sprintf("%s: %d %s", what, r.Status, r.Body)
	}
	return ""
}

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestPaging walks every collection one item per page, following nextLink
// verbatim, and checks each link: absolute, same origin (port included) as
// the request, carrying api-version, maxresults and a $skiptoken.
func TestPaging(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	names := []string{"Alpha", "beta", "Gamma", "delta"}
	for _, n := range names {
		putSecret(t, env, tok, n, map[string]any{"value": "x"})
	}
	var versionIDs []string
	for i := range 3 {
		b := putSecret(t, env, tok, "multi", map[string]any{"value": fmt.Sprint(i)})
		versionIDs = append(versionIDs, b["id"].(string))
	}
	for _, n := range []string{"gone1", "Gone2", "gone3"} {
		putSecret(t, env, tok, n, map[string]any{"value": "x"})
		if r := rawDo(t, env, "DELETE", kvURL(env, "/secrets/"+n+"?api-version=7.6"), tok, nil, nil); r.Status != 200 {
			t.Fatalf("delete %s: %d", n, r.Status)
		}
	}

	for _, origin := range []string{"https://default.vault.azure.net", "https://default.vault.azure.net:8443"} {
		tests := []struct {
			name, path string
			want       []string // ids, in order when ordered
			ordered    bool
		}{
			{"secrets", "/secrets", secretIDs(origin, "/secrets/", "Alpha", "beta", "delta", "Gamma", "multi"), true},
			{"versions", "/secrets/multi/versions", rebaseIDs(versionIDs, origin), false},
			{"deleted", "/deletedsecrets", secretIDs(origin, "/secrets/", "gone1", "Gone2", "gone3"), true},
		}
		for _, tt := range tests {
			t.Run(origin+tt.name, func(t *testing.T) {
				next := origin + tt.path + "?api-version=7.5&maxresults=1"
				var got []string
				for pages := 0; next != ""; pages++ {
					if pages > len(tt.want)+1 {
						t.Fatalf("more pages than items: %v", got)
					}
					r := rawDo(t, env, "GET", next, tok, nil, nil)
					if r.Status != 200 {
						t.Fatalf("GET %s: %d %s", next, r.Status, r.Body)
					}
					m := r.obj(t)
					nl, ok := m["nextLink"]
					if !ok {
						t.Fatalf("page has no nextLink member: %s", r.Body)
					}
					for _, it := range m["value"].([]any) {
						got = append(got, it.(map[string]any)["id"].(string))
					}
					if len(m["value"].([]any)) > 1 {
						t.Errorf("page has %d items, maxresults=1", len(m["value"].([]any)))
					}
					if nl == nil {
						next = ""
						continue
					}
					next = nl.(string)
					u, err := url.Parse(next)
					if err != nil || !u.IsAbs() {
						t.Fatalf("nextLink %q is not absolute", next)
					}
					if u.Scheme+"://"+u.Host != origin || u.Path != tt.path {
						t.Errorf("nextLink %q: want origin %s and path %s", next, origin, tt.path)
					}
					q := u.Query()
					if q.Get("api-version") != "7.5" || q.Get("maxresults") != "1" || q.Get("$skiptoken") == "" {
						t.Errorf("nextLink %q lacks api-version=7.5, maxresults=1 or $skiptoken", next)
					}
				}
				if !tt.ordered {
					slices.Sort(got)
					tt.want = slices.Clone(tt.want)
					slices.Sort(tt.want)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("paged ids = %v, want %v", got, tt.want)
				}
			})
		}
	}

	// Default page size is 25; the SDK-style listing agrees with paging.
	if got := listIDs(t, env, tok, kvURL(env, "/secrets?api-version=7.6")); len(got) != 5 {
		t.Errorf("unpaged list = %v", got)
	}
}

func secretIDs(origin, prefix string, names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, origin+prefix+n)
	}
	return out
}

// rebase swaps the origin of ids made against the default host.
func rebaseIDs(ids []string, origin string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, origin+strings.TrimPrefix(id, "https://default.vault.azure.net"))
	}
	return out
}

// TestPagingWhileWriting: items added between two page requests never make
// an item that existed at the start appear twice or go missing.
func TestPagingWhileWriting(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	var before []string
	for i := range 4 {
		b := putSecret(t, env, tok, "busy", map[string]any{"value": fmt.Sprint(i)})
		before = append(before, b["id"].(string))
		putSecret(t, env, tok, fmt.Sprintf("s%d", i*2), map[string]any{"value": "x"})
	}
	for _, path := range []string{"/secrets/busy/versions", "/secrets"} {
		t.Run(path, func(t *testing.T) {
			r := rawDo(t, env, "GET", kvURL(env, path+"?api-version=7.6&maxresults=2"), tok, nil, nil)
			var page struct {
				Value []struct {
					ID string `json:"id"`
				} `json:"value"`
				NextLink *string `json:"nextLink"`
			}
			if err := json.Unmarshal(r.Body, &page); err != nil || page.NextLink == nil {
				t.Fatalf("first page: %s", r.Body)
			}
			var got []string
			for _, it := range page.Value {
				got = append(got, it.ID)
			}
			// Writers add a version and a secret that sorts first.
			putSecret(t, env, tok, "busy", map[string]any{"value": "new"})
			putSecret(t, env, tok, "a-new-one", map[string]any{"value": "x"})
			got = append(got, listIDs(t, env, tok, *page.NextLink)...)
			seen := map[string]int{}
			for _, id := range got {
				seen[id]++
				if seen[id] > 1 {
					t.Errorf("%s listed twice: %v", id, got)
				}
			}
			want := before
			if path == "/secrets" {
				want = secretIDs("https://default.vault.azure.net", "/secrets/", "busy", "s0", "s2", "s4", "s6")
			}
			for _, id := range want {
				if seen[id] == 0 {
					t.Errorf("%s missing from %v", id, got)
				}
			}
		})
	}
}

// TestPagingBadParameters: maxresults outside 1..25 and malformed
// $skiptoken values are 400 BadParameter.
func TestPagingBadParameters(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	tok := adminToken(t, env)
	putSecret(t, env, tok, "p", map[string]any{"value": "x"})
	notJSON := base64.RawURLEncoding.EncodeToString([]byte("not json"))
	emptyAfter := base64.RawURLEncoding.EncodeToString([]byte(`{"after":""}`))
	for _, path := range []string{"/secrets", "/secrets/p/versions", "/deletedsecrets"} {
		for _, q := range []string{
			"maxresults=0", "maxresults=26", "maxresults=x", "maxresults=-1", "maxresults=1.5", "maxresults=99999999999999999999",
			"$skiptoken=%25%25%25", "$skiptoken=!!!", "$skiptoken=" + notJSON, "$skiptoken=" + emptyAfter,
			"maxresults=1&maxresults=2",
		} {
			t.Run(path+"?"+q, func(t *testing.T) {
				r := rawDo(t, env, "GET", kvURL(env, path+"?api-version=7.6&"+q), tok, nil, nil)
				r.wantKVError(t, q, 400, "BadParameter", "")
			})
		}
		for _, q := range []string{"maxresults=1", "maxresults=25", "maxresults=%32%35"} {
			if r := rawDo(t, env, "GET", kvURL(env, path+"?api-version=7.6&"+q), tok, nil, nil); r.Status != 200 {
				t.Errorf("%s?%s = %d %s", path, q, r.Status, r.Body)
			}
		}
	}
}

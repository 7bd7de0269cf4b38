package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/app"
)

// FuzzKeyVaultRequest drives the Key Vault data plane of a real server
// with arbitrary methods, paths (secret names, versions, ids), queries
// (api-version, maxresults, duplicates) and bodies, authenticated as the
// admin so parsing past authentication is reached. Bad input must be a
// 4xx in Key Vault's error shape, never a 5xx.
func FuzzKeyVaultRequest(f *testing.F) {
	env := opsEnv(f, app.Config{})
	admin, err := env.Store.GetPrincipal(f.Context(), env.Instance.AdminObjectID)
	if err != nil {
		f.Fatal(err)
	}
	tok, err := env.Minter.Mint(admin, "https://vault.azure.net", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	client := env.Client()
	host := env.Instance.DefaultVault + ".vault.azure.net"
	for _, s := range []struct {
		m       uint8
		p, q, b string
	}{
		{1, "/secrets/db", "api-version=7.5", `{"value":"v","contentType":"t","tags":{"a":"b"},"attributes":{"enabled":true,"exp":1}}`},
		{0, "/secrets/db", "api-version=7.5", ""},
		{0, "/secrets/db/", "api-version=7.4", ""},
		{0, "/secrets/db/0123456789abcdef0123456789abcdef", "api-version=2025-07-01", ""},
		{0, "/secrets", "api-version=7.5&maxresults=0", ""},
		{0, "/secrets", "api-version=7.5&maxresults=26", ""},
		{0, "/secrets", "api-version=7.5&api-version=7.4", ""},
		{0, "/secrets/db/versions", "api-version=6.0", ""},
		{0, "/secrets/db%2Fx", "api-version=7.5", ""},
		{1, "/secrets/" + string(bytes.Repeat([]byte("a"), 128)), "api-version=7.5", `{"value":"v"}`},
		{1, "/secrets/db", "api-version=7.5", `{"value":1}`},
		{1, "/secrets/db", "api-version=7.5", `{"value":"v","tags":{"a":1}}`},
		{2, "/secrets/db/", "api-version=7.5", `{"attributes":{"nbf":"x"}}`},
		{3, "/secrets/db", "api-version=7.5", ""},
		{4, "/secrets/restore", "api-version=7.5", `{"value":"!!"}`},
		{4, "/secrets/db/backup", "api-version=7.5", ""},
		{0, "/deletedsecrets", "api-version=7.5&$skiptoken=zz", ""},
		{4, "/deletedsecrets/db/recover", "api-version=7.5", ""},
		{0, "/secrets/db", "api%2Dversion=7.5", ""},
		{0, "/secrets/db", "api-version=%zz", ""},
	} {
		f.Add(s.m, s.p, s.q, []byte(s.b))
	}
	methods := []string{"GET", "PUT", "PATCH", "DELETE", "POST", "HEAD", "OPTIONS"}
	f.Fuzz(func(t *testing.T, m uint8, path, query string, body []byte) {
		method := methods[int(m)%len(methods)]
		req, err := http.NewRequest(method, "https://"+host+"/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.URL = &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: escapeRaw(query)}
		req.Header.Set("Authorization", "Bearer "+tok.Raw)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return // not a request a client can send
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s?%s %q = %d %s", method, path, query, body, res.StatusCode, b)
		}
		if res.StatusCode >= 400 && method != "HEAD" && res.StatusCode != 405 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
				t.Fatalf("%s %s?%s = %d with body %q, not Key Vault's error shape", method, path, query, res.StatusCode, b)
			}
		}
	})
}

// escapeRaw percent-encodes the bytes no client sends raw in a query
// (controls, non-ASCII, space, '#'), keeping everything else as given.
func escapeRaw(q string) string {
	var b bytes.Buffer
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

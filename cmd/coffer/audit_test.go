package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/audit"
	"github.com/coffer-dev/coffer/internal/cliout"
)

const auditVaultID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/"

func auditLine(t *testing.T, at time.Time, op, vault, objURL string, c audit.Claim, status int) string {
	t.Helper()
	e := audit.Event{Time: at, OperationName: op, ResultType: audit.ResultType(status), CallerIPAddress: "10.0.0.7",
		Properties: audit.Properties{ID: objURL, API: "keyvault", HTTPStatusCode: status, RequestID: "r"}}
	if vault != "" {
		e.ResourceID = auditVaultID + vault
	}
	if c != (audit.Claim{}) {
		e.Identity = &audit.Identity{Claim: c}
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAuditFilters: each filter alone and together, over a log with
// reads, writes, other vaults and kinds, token operations and a torn line.
func TestAuditFilters(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	app := audit.Claim{ObjectID: "oid-app", AppID: "appid-ci", TenantID: "t"}
	mi := audit.Claim{ObjectID: "oid-mi", AppID: "appid-mi", MIResID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"}
	user := audit.Claim{ObjectID: "oid-user", UPN: "ann@coffer.local"}
	lines := []string{
		auditLine(t, t0, "SecretSet", "prod", "https://prod.vault.azure.net/secrets/db-password", user, 200),
		auditLine(t, t0.Add(1*time.Hour), "SecretGet", "prod", "https://prod.vault.azure.net/secrets/db-password/0123abcd", app, 200),
		auditLine(t, t0.Add(2*time.Hour), "SecretGet", "prod", "https://prod.vault.azure.net:8443/secrets/db-password", mi, 200),
		auditLine(t, t0.Add(3*time.Hour), "SecretGet", "prod", "https://prod.vault.azure.net/secrets/db-password", app, 403),
		auditLine(t, t0.Add(4*time.Hour), "SecretGet", "dev", "https://dev.vault.azure.net/secrets/db-password", app, 200),
		auditLine(t, t0.Add(5*time.Hour), "KeyGet", "prod", "https://prod.vault.azure.net/keys/db-password", app, 200),
		auditLine(t, t0.Add(6*time.Hour), "SecretList", "prod", "https://prod.vault.azure.net/secrets", app, 200),
		auditLine(t, t0.Add(7*time.Hour), "TokenIssue", "", "", app, 200),
		`{"time":"2026-11-29T1`, // torn by a crash
		auditLine(t, t0.Add(8*time.Hour), "SecretGet", "", "https://prod.vault.azure.net/secrets/api%20key", user, 200),
	}
	log := strings.Join(lines, "\n") + "\n"
	tests := []struct {
		name string
		f    auditFilter
		want string // operationName@hour of the rows, in order
	}{
		{"everything", auditFilter{}, "SecretSet@10 SecretGet@11 SecretGet@12 SecretGet@13 SecretGet@14 KeyGet@15 SecretList@16 TokenIssue@17 SecretGet@18"},
		{"who read the secret", auditFilter{vault: "prod", kind: "secrets", name: "db-password", operations: []string{"SecretGet"}}, "SecretGet@11 SecretGet@12 SecretGet@13"},
		{"any kind by name", auditFilter{vault: "PROD", name: "DB-PASSWORD"}, "SecretSet@10 SecretGet@11 SecretGet@12 SecretGet@13 KeyGet@15"},
		{"several operations", auditFilter{vault: "prod", operations: []string{"secretset", "SecretList"}}, "SecretSet@10 SecretList@16"},
		{"caller by appId", auditFilter{caller: "APPID-CI", vault: "prod", kind: "secrets", name: "db-password"}, "SecretGet@11 SecretGet@13"},
		{"caller by managed identity", auditFilter{caller: mi.MIResID}, "SecretGet@12"},
		{"caller by upn", auditFilter{caller: "ann@coffer.local"}, "SecretSet@10 SecretGet@18"},
		{"caller by object id", auditFilter{caller: "oid-mi"}, "SecretGet@12"},
		{"since", auditFilter{since: t0.Add(6 * time.Hour), operations: []string{"SecretGet"}}, "SecretGet@18"},
		{"vault from the host, escaped name", auditFilter{vault: "prod", name: "api key"}, "SecretGet@18"},
		{"nothing", auditFilter{vault: "nope"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, bad, err := scanAudit(strings.NewReader(log), &tt.f, nil)
			if err != nil || bad != 1 {
				t.Fatalf("scan: %v, %d bad lines (want 1)", err, bad)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.OperationName+"@"+r.Time[11:13])
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("got %q, want %q", g, tt.want)
			}
		})
	}
	rows, _, _ := scanAudit(strings.NewReader(lines[1]), &auditFilter{}, nil)
	if r := rows[0]; r.Vault != "prod" || r.ObjectType != "secrets" || r.Name != "db-password" || r.Version != "0123abcd" || r.Caller.AppID != "appid-ci" {
		t.Errorf("row = %+v", r)
	}

	// Through the az-style output machinery: --query and -o tsv, and
	// the table's columns.
	q, err := cliout.CompileQuery("[].caller.appid")
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _ = scanAudit(strings.NewReader(log), &auditFilter{vault: "prod", kind: "secrets", name: "db-password", operations: []string{"SecretGet"}}, nil)
	b, err := cliout.Render(rows, cliout.Options{Format: cliout.TSV, Query: q})
	if err != nil || string(b) != "appid-ci\nappid-mi\nappid-ci\n" {
		t.Errorf("tsv = %q, %v", b, err)
	}
	b, err = cliout.Render(rows, cliout.Options{Format: cliout.Table, TableTransform: auditTable})
	if err != nil || !strings.Contains(string(b), "Caller") || !strings.Contains(string(b), mi.MIResID) {
		t.Errorf("table = %s, %v", b, err)
	}
}

// TestAuditFilesAndSince: rotated files are read oldest first; --since
// takes durations, days and times.
func TestAuditFilesAndSince(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "audit.log")
	for _, f := range []string{p, p + ".1", p + ".3"} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := auditFiles(p); strings.Join(got, ",") != strings.Join([]string{p + ".3", p + ".1", p}, ",") {
		t.Errorf("files = %v", got)
	}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h": now.Add(-24 * time.Hour), "7d": now.AddDate(0, 0, -7), "90m": now.Add(-90 * time.Minute),
		"2026-11-28": time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), "2026-11-28T10:00:00Z": time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("since %q = %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-5h", "-1d"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("since %q accepted", bad)
		}
	}
}

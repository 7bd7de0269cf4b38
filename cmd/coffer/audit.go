package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/audit"
)

// auditFilter selects audit events; empty fields match everything.
type auditFilter struct {
	vault      string
	kind, name string // kind: "secrets", "keys", "certificates" or "" (any)
	operations []string
	caller     string
	since      time.Time
}

// auditRow is one event as `coffer audit` shows it: flat enough for -o
// table and --query, with the caller's claims as Key Vault logs them.
type auditRow struct {
	Time            string       `json:"time"`
	OperationName   string       `json:"operationName"`
	Vault           string       `json:"vault"`
	ObjectType      string       `json:"objectType"`
	Name            string       `json:"name"`
	Version         string       `json:"version"`
	Caller          audit.Claim  `json:"caller"`
	CallerIPAddress string       `json:"callerIpAddress"`
	ResultType      string       `json:"resultType"`
	HTTPStatusCode  int          `json:"httpStatusCode"`
	ResourceID      string       `json:"resourceId"`
	RequestID       string       `json:"requestId"`
	event           *audit.Event // for the filter
}

// rowOf names the vault and object of a data-plane event from its
// properties.id (https://{vault}.{suffix}/{secrets|keys|certificates}/{name}[/{version}])
// and its resourceId (the vault's ARM id).
func rowOf(e *audit.Event) auditRow {
	r := auditRow{Time: e.Time.UTC().Format(time.RFC3339Nano), OperationName: e.OperationName, CallerIPAddress: e.CallerIPAddress,
		ResultType: e.ResultType, HTTPStatusCode: e.Properties.HTTPStatusCode, ResourceID: e.ResourceID, RequestID: e.Properties.RequestID, event: e}
	if e.Identity != nil {
		r.Caller = e.Identity.Claim
	}
	if i := strings.LastIndex(strings.ToLower(e.ResourceID), "/providers/microsoft.keyvault/vaults/"); i >= 0 {
		r.Vault = e.ResourceID[i+len("/providers/microsoft.keyvault/vaults/"):]
	}
	if u, err := url.Parse(e.Properties.ID); err == nil && u.Host != "" {
		if r.Vault == "" {
			r.Vault, _, _ = strings.Cut(u.Hostname(), ".")
		}
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		switch {
		case len(segs) >= 2 && (segs[0] == "secrets" || segs[0] == "keys" || segs[0] == "certificates" || segs[0] == "deletedsecrets" || segs[0] == "deletedkeys" || segs[0] == "deletedcertificates"):
			r.ObjectType, r.Name = strings.TrimPrefix(segs[0], "deleted"), segs[1]
			if len(segs) >= 3 {
				r.Version = segs[2]
			}
			if r.Name, err = url.PathUnescape(r.Name); err != nil {
				r.Name = segs[1]
			}
		}
	}
	return r
}

func (f *auditFilter) match(r *auditRow) bool {
	if f.vault != "" && !strings.EqualFold(r.Vault, f.vault) {
		return false
	}
	if f.name != "" && (!strings.EqualFold(r.Name, f.name) || f.kind != "" && r.ObjectType != f.kind) {
		return false
	}
	if len(f.operations) > 0 {
		ok := false
		for _, op := range f.operations {
			ok = ok || strings.EqualFold(op, r.OperationName)
		}
		if !ok {
			return false
		}
	}
	if f.caller != "" {
		c := r.Caller
		if !strings.EqualFold(f.caller, c.ObjectID) && !strings.EqualFold(f.caller, c.AppID) && !strings.EqualFold(f.caller, c.UPN) && !strings.EqualFold(f.caller, c.MIResID) {
			return false
		}
	}
	return f.since.IsZero() || !r.event.Time.Before(f.since)
}

// parseSince takes a duration back from now (24h, 90m, 7d) or a time
// (RFC 3339, or a date).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: use a duration back from now (24h, 7d) or a time (2026-11-29, 2026-11-29T10:00:00Z)", s)
}

// scanAudit reads audit lines from r and appends the matching rows. A
// line that is not an audit event is counted, not fatal: a log cut short
// by a crash still answers.
func scanAudit(r io.Reader, f *auditFilter, out []auditRow) ([]auditRow, int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bad := 0
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var e audit.Event
		if err := json.Unmarshal(line, &e); err != nil || e.OperationName == "" {
			bad++
			continue
		}
		if row := rowOf(&e); f.match(&row) {
			out = append(out, row)
		}
	}
	return out, bad, sc.Err()
}

// auditFiles are the log and its rotated predecessors, oldest first
// (FILE.5 … FILE.1, FILE), as --audit-log rotates them.
func auditFiles(path string) []string {
	var files []string
	for i := audit.DefaultKeep; i >= 1; i-- {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	return append(files, path)
}

func newAuditCmd() *cobra.Command {
	var file, vault, name, secret, caller, since string
	var ops []string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Search the audit log (serve --audit-log): who read which secret, when, from where",
		Long: `Reads the audit log written by 'coffer serve --audit-log FILE' (with its rotated
files FILE.1 ... FILE.5) and lists the operations that match every filter given, oldest
first, e.g. who read a secret:

  coffer audit --file audit.log --vault my-vault --secret db-password --operation SecretGet

--caller matches an object id, appId, user principal name or managed identity resource id.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := &auditFilter{vault: vault, caller: caller}
			switch {
			case secret != "" && name != "":
				return errors.New("use one of --secret and --name")
			case secret != "":
				f.kind, f.name = "secrets", secret
			default:
				f.name = name
			}
			for _, op := range ops {
				for _, o := range strings.Split(op, ",") {
					if o = strings.TrimSpace(o); o != "" {
						f.operations = append(f.operations, o)
					}
				}
			}
			var err error
			if f.since, err = parseSince(since, time.Now()); err != nil {
				return err
			}
			rows := []auditRow{}
			bad := 0
			if file == "-" {
				rows, bad, err = scanAudit(cmd.InOrStdin(), f, rows)
				if err != nil {
					return err
				}
			} else {
				for _, p := range auditFiles(file) {
					fh, err := os.Open(p)
					if err != nil {
						return err
					}
					var n int
					rows, n, err = scanAudit(fh, f, rows)
					fh.Close()
					if err != nil {
						return fmt.Errorf("%s: %w", p, err)
					}
					bad += n
				}
			}
			if bad > 0 {
				stderrf("WARNING: skipped %d line(s) that are not audit events\n", bad)
			}
			return printTable(cmd.OutOrStdout(), rows, auditTable)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the audit log (serve --audit-log FILE); - reads standard input")
	cmd.Flags().StringVar(&vault, "vault", "", "vault name")
	cmd.Flags().StringVar(&secret, "secret", "", "secret name")
	cmd.Flags().StringVarP(&name, "name", "n", "", "object name: a secret, key or certificate")
	cmd.Flags().StringArrayVar(&ops, "operation", nil, "operation name(s), e.g. SecretGet (comma-separated or repeated)")
	cmd.Flags().StringVar(&caller, "caller", "", "object id, appId, user principal name or managed identity resource id")
	cmd.Flags().StringVar(&since, "since", "", "only events from then on: a duration back from now (24h, 7d) or a time")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// auditTable is -o table's shape: one line per event, the caller by its
// most readable claim.
func auditTable(v any) (any, []string) {
	rows, _ := v.([]any)
	out := make([]any, 0, len(rows))
	for _, r := range rows {
		m, _ := r.(map[string]any)
		c, _ := m["caller"].(map[string]any)
		who := ""
		for _, k := range []string{"upn", "xms_mirid", "appid", "oid"} {
			if s, _ := c[k].(string); s != "" && who == "" {
				who = s
			}
		}
		out = append(out, map[string]any{"Time": m["time"], "Operation": m["operationName"], "Vault": m["vault"], "Name": m["name"],
			"Caller": who, "IP": m["callerIpAddress"], "Result": m["httpStatusCode"]})
	}
	return out, []string{"Time", "Operation", "Vault", "Name", "Caller", "IP", "Result"}
}

package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/coffer-dev/coffer/internal/app"
)

func newGroupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Manage resource groups"}
	var name, location string
	var tags []string
	create := &cobra.Command{Use: "create", Short: "Create a resource group", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		body := map[string]any{"location": location}
		if cmd.Flags().Changed("tags") {
			body["tags"] = parseTags(tags)
		}
		var out map[string]any
		if _, err := s.c.ARM(cmd.Context(), "PUT", s.rgPath(name), body, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	create.Flags().StringVarP(&name, "name", "n", "", "resource group name")
	create.Flags().StringVarP(&location, "location", "l", app.DefaultLocation, "location")
	tagsVar(create.Flags(), &tags)
	_ = create.MarkFlagRequired("name")

	show := &cobra.Command{Use: "show", Short: "Show a resource group", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		var out map[string]any
		if _, err := s.c.ARM(cmd.Context(), "GET", s.rgPath(name), nil, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	show.Flags().StringVarP(&name, "name", "n", "", "resource group name")
	_ = show.MarkFlagRequired("name")

	list := &cobra.Command{Use: "list", Short: "List resource groups", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if _, err := s.c.ARM(cmd.Context(), "GET", "/subscriptions/"+s.sub+"/resourcegroups", nil, &out); err != nil {
			return err
		}
		return printTable(cmd.OutOrStdout(), out.Value, groupListTable)
	}}

	var yes, noWait bool
	del := &cobra.Command{Use: "delete", Short: "Delete a resource group and everything in it", RunE: func(cmd *cobra.Command, _ []string) error {
		if err := confirm(cmd, yes); err != nil {
			return err
		}
		s, err := connect()
		if err != nil {
			return err
		}
		// Coffer's server finishes the delete before it answers 202, so
		// waiting and --no-wait return at the same point.
		_, err = s.c.ARM(cmd.Context(), "DELETE", s.rgPath(name), nil, nil)
		return err
	}}
	del.Flags().StringVarP(&name, "name", "n", "", "resource group name")
	del.Flags().BoolVarP(&yes, "yes", "y", false, "do not prompt for confirmation")
	del.Flags().BoolVar(&noWait, "no-wait", false, "do not wait for the long-running operation to finish")
	_ = del.MarkFlagRequired("name")
	cmd.AddCommand(create, show, list, del)
	return cmd
}

// groupListTable is az's table for group list: Name, Location, Status.
func groupListTable(v any) (any, []string) {
	list, _ := v.([]any)
	out := make([]any, 0, len(list))
	for _, x := range list {
		g, _ := x.(map[string]any)
		props, _ := g["properties"].(map[string]any)
		out = append(out, map[string]any{"Name": g["name"], "Location": g["location"], "Status": props["provisioningState"]})
	}
	return out, []string{"Name", "Location", "Status"}
}

// identityIDs turns --assign-identity values into (system, user ids).
func identityIDs(s *session, rg string, values []string) (bool, []string) {
	if len(values) == 0 {
		return true, nil
	}
	system := false
	var user []string
	for _, v := range values {
		for _, x := range strings.Split(v, " ") {
			switch {
			case x == "":
			case strings.EqualFold(x, "[system]") || strings.EqualFold(x, "system"):
				system = true
			case strings.HasPrefix(x, "/"):
				user = append(user, x)
			default: // a bare name: an identity in the same group
				user = append(user, s.rgPath(rg)+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+x)
			}
		}
	}
	return system, user
}

func vmPath(s *session, rg, name string) string {
	return s.rgPath(rg) + "/providers/Microsoft.Compute/virtualMachines/" + url.PathEscape(name)
}

func newVMCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "vm", Short: "Manage virtual machines (identity holders)"}
	var name, rg, location string
	var assign, tags []string
	create := &cobra.Command{Use: "create", Short: "Create a VM, optionally with managed identities", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if err := s.ensureGroup(ctx, rg, location); err != nil {
			return err
		}
		body := map[string]any{"location": location}
		if cmd.Flags().Changed("tags") {
			body["tags"] = parseTags(tags)
		}
		if cmd.Flags().Changed("assign-identity") {
			system, user := identityIDs(s, rg, assign)
			body["identity"] = identityBody(system, user)
		}
		var out map[string]any
		if _, err := s.c.ARM(ctx, "PUT", vmPath(s, rg, name), body, &out); err != nil {
			return err
		}
		out["resourceGroup"] = rg
		if id, ok := out["identity"].(map[string]any); ok && id["principalId"] != nil {
			id["systemAssignedIdentity"] = id["principalId"] // az vm create's name for it
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	create.Flags().StringVarP(&name, "name", "n", "", "VM name")
	create.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	create.Flags().StringVarP(&location, "location", "l", app.DefaultLocation, "location")
	listVar(create.Flags(), &assign, "assign-identity", zeroOrMore, "space-separated identities to assign: [system] and/or user-assigned identity names or ids (no value: system-assigned)")
	tagsVar(create.Flags(), &tags)
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("resource-group") // az: no default group

	var ids []string
	show := &cobra.Command{Use: "show", Short: "Show a VM", RunE: func(cmd *cobra.Command, _ []string) error {
		ts, err := idTargets(cmd, ids, rg, name, "Microsoft.Compute/virtualMachines")
		if err != nil {
			return err
		}
		s, err := connect()
		if err != nil {
			return err
		}
		var all []any
		for _, t := range ts {
			var out map[string]any
			if _, err := s.c.ARM(cmd.Context(), "GET", vmPath(s, t.rg, t.name), nil, &out); err != nil {
				return err
			}
			all = append(all, out)
		}
		return printResult(cmd.OutOrStdout(), oneOrList(all))
	}}
	list := &cobra.Command{Use: "list", Short: "List VMs", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		path := "/subscriptions/" + s.sub + "/providers/Microsoft.Compute/virtualMachines"
		if rg != "" {
			path = s.rgPath(rg) + "/providers/Microsoft.Compute/virtualMachines"
		}
		if _, err := s.c.ARM(cmd.Context(), "GET", path, nil, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out.Value)
	}}
	list.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	var yes bool
	del := &cobra.Command{Use: "delete", Short: "Delete a VM (and its system-assigned identity)", RunE: func(cmd *cobra.Command, _ []string) error {
		ts, err := idTargets(cmd, ids, rg, name, "Microsoft.Compute/virtualMachines")
		if err != nil {
			return err
		}
		if err := confirm(cmd, yes); err != nil {
			return err
		}
		s, err := connect()
		if err != nil {
			return err
		}
		for _, t := range ts {
			if _, err := s.c.ARM(cmd.Context(), "DELETE", vmPath(s, t.rg, t.name), nil, nil); err != nil {
				return err
			}
		}
		return nil
	}}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "do not prompt for confirmation")
	for _, c := range []*cobra.Command{show, del} {
		c.Flags().StringVarP(&name, "name", "n", "", "VM name")
		c.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
		idsVar(c.Flags(), &ids)
	}
	cmd.AddCommand(create, show, list, del, newVMIdentityCmd(), newVMCredentialCmd())
	return cmd
}

func identityBody(system bool, user []string) map[string]any {
	var types []string
	if system {
		types = append(types, "SystemAssigned")
	}
	if len(user) > 0 {
		types = append(types, "UserAssigned")
	}
	if len(types) == 0 {
		return map[string]any{"type": "None"}
	}
	id := map[string]any{"type": strings.Join(types, ", ")}
	if len(user) > 0 {
		m := map[string]any{}
		for _, u := range user {
			m[u] = map[string]any{}
		}
		id["userAssignedIdentities"] = m
	}
	return id
}

func newVMIdentityCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Assign or remove a VM's managed identities"}
	var name, rg string
	var identities, ids []string
	change := func(add bool) func(cmd *cobra.Command, _ []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			ts, err := idTargets(cmd, ids, rg, name, "Microsoft.Compute/virtualMachines")
			if err != nil {
				return err
			}
			s, err := connect()
			if err != nil {
				return err
			}
			var all []any
			for _, t := range ts {
				out, err := changeVMIdentities(cmd.Context(), s, t, identities, add)
				if err != nil {
					return err
				}
				all = append(all, out)
			}
			return printResult(cmd.OutOrStdout(), oneOrList(all))
		}
	}
	assign := &cobra.Command{Use: "assign", Short: "Assign identities to a VM", RunE: change(true)}
	remove := &cobra.Command{Use: "remove", Short: "Remove identities from a VM", RunE: change(false)}
	for _, c := range []*cobra.Command{assign, remove} {
		c.Flags().StringVarP(&name, "name", "n", "", "VM name")
		c.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
		identities = []string{"[system]"}
		listVar(c.Flags(), &identities, "identities", zeroOrMore, "space-separated identities: [system] and/or user-assigned identity names or ids")
		idsVar(c.Flags(), &ids)
	}
	cmd.AddCommand(assign, remove)
	return cmd
}

// changeVMIdentities adds or removes identities of one VM and returns its
// new identity block.
func changeVMIdentities(ctx context.Context, s *session, t target, identities []string, add bool) (any, error) {
	var vm struct {
		Identity *struct {
			Type                   string         `json:"type"`
			UserAssignedIdentities map[string]any `json:"userAssignedIdentities"`
		} `json:"identity"`
	}
	if _, err := s.c.ARM(ctx, "GET", vmPath(s, t.rg, t.name), nil, &vm); err != nil {
		return nil, err
	}
	system := vm.Identity != nil && strings.Contains(vm.Identity.Type, "SystemAssigned")
	var user []string
	if vm.Identity != nil {
		for id := range vm.Identity.UserAssignedIdentities {
			user = append(user, id)
		}
	}
	wantSystem, wantUser := identityIDs(s, t.rg, identities)
	if add {
		system = system || wantSystem
		user = append(user, wantUser...)
	} else {
		if wantSystem {
			system = false
		}
		var kept []string
		for _, u := range user {
			drop := false
			for _, w := range wantUser {
				drop = drop || strings.EqualFold(u, w)
			}
			if !drop {
				kept = append(kept, u)
			}
		}
		user = kept
	}
	var out map[string]any
	if _, err := s.c.ARM(ctx, "PUT", vmPath(s, t.rg, t.name), map[string]any{"identity": identityBody(system, user)}, &out); err != nil {
		return nil, err
	}
	return out["identity"], nil
}

func newVMCredentialCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "credential", Short: "Manage a VM's machine credentials (for coffer agent / IDENTITY_HEADER)"}
	var name, rg, keyID, file, expires string
	create := &cobra.Command{Use: "create", Short: "Issue a new machine credential (shown once)", RunE: func(cmd *cobra.Command, _ []string) error {
		var body any
		if expires != "" {
			at, err := parseExpiry(expires, time.Now())
			if err != nil {
				return err
			}
			body = map[string]string{"expiresOn": at.UTC().Format(time.RFC3339)}
		}
		s, err := connect()
		if err != nil {
			return err
		}
		var out map[string]any
		if _, err := s.c.ARM(cmd.Context(), "POST", vmPath(s, rg, name)+"/cofferCredentials", body, &out); err != nil {
			return err
		}
		if file != "" {
			// Written 0600 and never printed: the file is what the agent reads.
			cred, _ := out["credential"].(string)
			if err := writePrivateFile(file, cred+"\n"); err != nil {
				return err
			}
			delete(out, "credential")
			out["credentialFile"] = file
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	create.Flags().StringVar(&file, "credential-file", "", "write the credential to this file (mode 0600) instead of printing it")
	create.Flags().StringVar(&expires, "expires", "", "make the credential stop working after a duration (90m, 12h, 30d) or at a time (RFC 3339); default never")
	revoke := &cobra.Command{Use: "revoke", Short: "Revoke one (--key-id) or all machine credentials", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		path := vmPath(s, rg, name) + "/cofferCredentials"
		if keyID != "" {
			path += "/" + url.PathEscape(keyID)
		}
		var out map[string]any
		if _, err := s.c.ARM(cmd.Context(), "DELETE", path, nil, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	revoke.Flags().StringVar(&keyID, "key-id", "", "credential key id (default: all)")
	for _, c := range []*cobra.Command{create, revoke} {
		c.Flags().StringVarP(&name, "name", "n", "", "VM name")
		c.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
		_ = c.MarkFlagRequired("name")
		_ = c.MarkFlagRequired("resource-group")
	}
	cmd.AddCommand(create, revoke)
	return cmd
}

// parseExpiry reads --expires: a duration from now (Go's units, plus d for
// days) or an RFC 3339 time, which must be in the future.
func parseExpiry(v string, now time.Time) (time.Time, error) {
	var at time.Time
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return at, fmt.Errorf("--expires %q: want a duration (90m, 12h, 30d) or an RFC 3339 time", v)
		}
		at = now.Add(time.Duration(n) * 24 * time.Hour)
	} else if d, err := time.ParseDuration(v); err == nil {
		at = now.Add(d)
	} else if t, err := time.Parse(time.RFC3339, v); err == nil {
		at = t
	} else {
		return at, fmt.Errorf("--expires %q: want a duration (90m, 12h, 30d) or an RFC 3339 time", v)
	}
	if !at.After(now) {
		return at, fmt.Errorf("--expires %q is not in the future", v)
	}
	return at, nil
}

// newMachineCredential issues a credential for a VM (used by env/run) and
// returns it with its key id. A displayName replaces the VM's credentials
// of that name ("" issues an unnamed one that replaces nothing).
func newMachineCredential(ctx context.Context, s *session, rg, name, displayName string) (string, string, error) {
	var out struct {
		KeyID      string `json:"keyId"`
		Credential string `json:"credential"`
	}
	var body any
	if displayName != "" {
		body = map[string]string{"displayName": displayName}
	}
	if _, err := s.c.ARM(ctx, "POST", vmPath(s, rg, name)+"/cofferCredentials", body, &out); err != nil {
		return "", "", fmt.Errorf("issuing a credential for VM %s/%s: %w", rg, name, err)
	}
	return out.Credential, out.KeyID, nil
}

func uamiPath(s *session, rg, name string) string {
	return s.rgPath(rg) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + url.PathEscape(name)
}

// flatIdentity is az's flattened shape of a user-assigned identity.
func flatIdentity(in map[string]any, rg string) map[string]any {
	props, _ := in["properties"].(map[string]any)
	out := map[string]any{"id": in["id"], "name": in["name"], "location": in["location"], "type": in["type"], "tags": in["tags"], "resourceGroup": rg}
	for _, k := range []string{"clientId", "principalId", "tenantId"} {
		out[k] = props[k]
	}
	if out["tags"] == nil {
		out["tags"] = map[string]any{}
	}
	return out
}

func newIdentityCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Manage user-assigned managed identities"}
	var name, rg, location string
	var tags []string
	create := &cobra.Command{Use: "create", Short: "Create a user-assigned identity", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		if err := s.ensureGroup(cmd.Context(), rg, location); err != nil {
			return err
		}
		body := map[string]any{"location": location}
		if cmd.Flags().Changed("tags") {
			body["tags"] = parseTags(tags)
		}
		var out map[string]any
		if _, err := s.c.ARM(cmd.Context(), "PUT", uamiPath(s, rg, name), body, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), flatIdentity(out, rg))
	}}
	create.Flags().StringVarP(&location, "location", "l", app.DefaultLocation, "location")
	tagsVar(create.Flags(), &tags)
	var ids []string
	show := &cobra.Command{Use: "show", Short: "Show a user-assigned identity", RunE: func(cmd *cobra.Command, _ []string) error {
		ts, err := idTargets(cmd, ids, rg, name, "Microsoft.ManagedIdentity/userAssignedIdentities")
		if err != nil {
			return err
		}
		s, err := connect()
		if err != nil {
			return err
		}
		var all []any
		for _, t := range ts {
			var out map[string]any
			if _, err := s.c.ARM(cmd.Context(), "GET", uamiPath(s, t.rg, t.name), nil, &out); err != nil {
				return err
			}
			all = append(all, flatIdentity(out, t.rg))
		}
		return printResult(cmd.OutOrStdout(), oneOrList(all))
	}}
	del := &cobra.Command{Use: "delete", Short: "Delete a user-assigned identity", RunE: func(cmd *cobra.Command, _ []string) error {
		ts, err := idTargets(cmd, ids, rg, name, "Microsoft.ManagedIdentity/userAssignedIdentities")
		if err != nil {
			return err
		}
		s, err := connect()
		if err != nil {
			return err
		}
		for _, t := range ts {
			if _, err := s.c.ARM(cmd.Context(), "DELETE", uamiPath(s, t.rg, t.name), nil, nil); err != nil {
				return err
			}
		}
		return nil
	}}
	for _, c := range []*cobra.Command{create, show, del} {
		c.Flags().StringVarP(&name, "name", "n", "", "identity name")
		c.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	}
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("resource-group") // az: no default group
	for _, c := range []*cobra.Command{show, del} {
		idsVar(c.Flags(), &ids)
	}
	list := &cobra.Command{Use: "list", Short: "List user-assigned identities", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		path := "/subscriptions/" + s.sub + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
		if rg != "" {
			path = s.rgPath(rg) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if _, err := s.c.ARM(cmd.Context(), "GET", path, nil, &out); err != nil {
			return err
		}
		var flat []map[string]any
		for _, v := range out.Value {
			flat = append(flat, flatIdentity(v, rgOf(v)))
		}
		return printResult(cmd.OutOrStdout(), flat)
	}}
	list.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
	cmd.AddCommand(create, show, list, del)
	return cmd
}

// target is one resource a command acts on.
type target struct{ rg, name string }

// idsVar declares az's --ids: space-separated resource ids, instead of
// --name and --resource-group.
func idsVar(fs *pflag.FlagSet, p *[]string) {
	listVar(fs, p, "ids", oneOrMore, "one or more resource ids (space-delimited); if given, omit --name and --resource-group")
}

// idTargets resolves --ids (resources of resourceType) or -n/-g. Without
// --ids, both are required, in az's words (its parse_ids_arguments):
// there is no default group.
func idTargets(cmd *cobra.Command, ids []string, rg, name, resourceType string) ([]target, error) {
	if len(ids) == 0 {
		var missing []string
		if rg == "" {
			missing = append(missing, "--resource-group")
		}
		if name == "" {
			missing = append(missing, "--name")
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("(%s | --ids) are required", strings.Join(missing, " "))
		}
		return []target{{rg, name}}, nil
	}
	if cmd.Flags().Changed("name") || cmd.Flags().Changed("resource-group") {
		return nil, fmt.Errorf("usage error: --ids IDS | --name NAME [--resource-group GROUP]")
	}
	var ts []target
	for _, id := range ids {
		p := strings.Split(strings.Trim(id, "/"), "/")
		if len(p) != 8 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
			!strings.EqualFold(p[4], "providers") || !strings.EqualFold(p[5]+"/"+p[6], resourceType) {
			return nil, fmt.Errorf("argument --ids: '%s' is not a %s resource id", id, resourceType)
		}
		ts = append(ts, target{p[3], p[7]})
	}
	return ts, nil
}

// oneOrList is az's result for --ids: the object for one id, a list for
// several.
func oneOrList(all []any) any {
	if len(all) == 1 {
		return all[0]
	}
	return all
}

// rgOf extracts the resource group from an ARM resource's id.
func rgOf(v map[string]any) string {
	id, _ := v["id"].(string)
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) > 3 && strings.EqualFold(parts[2], "resourceGroups") {
		return parts[3]
	}
	return ""
}

// writePrivateFile creates path with mode 0600 (failing if it exists with
// other permissions is not needed: O_TRUNC keeps the mode, so chmod too).
func writePrivateFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

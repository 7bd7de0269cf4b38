package main

import (
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// newADUserCmd is `coffer ad user`, with az ad user's flags: directory
// users sign in to the portal and to interactive clients with a password.
func newADUserCmd() *cobra.Command {
	user := &cobra.Command{Use: "user", Short: "Manage directory users"}
	var displayName, password, upn, nickname, id, filter string
	var forceChange, enabled bool

	create := &cobra.Command{Use: "create", Short: "Create a user", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		nick := nickname
		if nick == "" {
			nick, _, _ = strings.Cut(upn, "@")
		}
		body := map[string]any{"accountEnabled": true, "displayName": displayName, "mailNickname": nick, "userPrincipalName": upn,
			"passwordProfile": map[string]any{"password": password, "forceChangePasswordNextSignIn": forceChange}}
		var out map[string]any
		if _, err := s.c.Graph(cmd.Context(), "POST", "/v1.0/users", body, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	create.Flags().StringVar(&displayName, "display-name", "", "object's display name")
	create.Flags().StringVar(&password, "password", "", "the password that the user must use to sign in")
	create.Flags().StringVar(&upn, "user-principal-name", "", "the user principal name (someuser@contoso.com); its domain must be the tenant's")
	create.Flags().StringVar(&nickname, "mail-nickname", "", "mail alias; defaults to the user principal name's local part")
	boolVar(create.Flags(), &forceChange, "force-change-password-next-sign-in", "accepted for az compatibility; Coffer has no password change flow yet")
	for _, f := range []string{"display-name", "password", "user-principal-name"} {
		_ = create.MarkFlagRequired(f)
	}

	list := &cobra.Command{Use: "list", Short: "List users", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		q := func(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }
		f := filter
		switch {
		case f != "":
		case upn != "":
			f = "userPrincipalName eq " + q(upn)
		case displayName != "":
			f = "startswith(displayName," + q(displayName) + ")"
		}
		path := "/v1.0/users"
		if f != "" {
			path += "?$filter=" + url.QueryEscape(f)
		}
		var out struct {
			Value []map[string]any `json:"value"`
		}
		if _, err := s.c.Graph(cmd.Context(), "GET", path, nil, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out.Value)
	}}
	list.Flags().StringVar(&displayName, "display-name", "", "object's display name or its prefix")
	list.Flags().StringVar(&upn, "upn", "", "user principal name")
	list.Flags().StringVar(&filter, "filter", "", "OData filter, e.g. --filter \"displayname eq 'test'\"")

	show := &cobra.Command{Use: "show", Short: "Show a user", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		var out map[string]any
		if _, err := s.c.Graph(cmd.Context(), "GET", "/v1.0/users/"+url.PathEscape(id), nil, &out); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), out)
	}}
	update := &cobra.Command{Use: "update", Short: "Update a user", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		body := map[string]any{}
		if cmd.Flags().Changed("account-enabled") {
			body["accountEnabled"] = enabled
		}
		if displayName != "" {
			body["displayName"] = displayName
		}
		if password != "" {
			body["passwordProfile"] = map[string]any{"password": password, "forceChangePasswordNextSignIn": forceChange}
		}
		_, err = s.c.Graph(cmd.Context(), "PATCH", "/v1.0/users/"+url.PathEscape(id), body, nil)
		return err
	}}
	boolVar(update.Flags(), &enabled, "account-enabled", "enable the account")
	update.Flags().StringVar(&displayName, "display-name", "", "object's display name")
	update.Flags().StringVar(&password, "password", "", "a new password")
	boolVar(update.Flags(), &forceChange, "force-change-password-next-sign-in", "accepted for az compatibility")
	del := &cobra.Command{Use: "delete", Short: "Delete a user", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		_, err = s.c.Graph(cmd.Context(), "DELETE", "/v1.0/users/"+url.PathEscape(id), nil, nil)
		return err
	}}
	for _, c := range []*cobra.Command{show, update, del} {
		c.Flags().StringVar(&id, "id", "", "the user's object id or principal name")
		_ = c.MarkFlagRequired("id")
	}
	user.AddCommand(create, list, show, update, del)
	return user
}

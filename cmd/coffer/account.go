package main

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func newAccountCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Show the subscription and get access tokens"}
	show := &cobra.Command{Use: "show", Short: "Show the current subscription", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		user := map[string]string{"name": s.c.ClientID, "type": "servicePrincipal"}
		if current != nil && current.user != "" {
			user = map[string]string{"name": current.user, "type": "user"}
		}
		if s.sub == "" {
			// A principal with no role in a subscription sees none; az
			// (login --allow-no-subscriptions) shows the tenant instead.
			return printResult(cmd.OutOrStdout(), map[string]any{
				"environmentName": s.info.Cloud, "id": s.c.TenantID, "isDefault": true, "name": "N/A(tenant level account)", "state": "Enabled",
				"tenantId": s.c.TenantID, "homeTenantId": s.c.TenantID, "user": user,
			})
		}
		var sub map[string]any
		if _, err := s.c.ARM(cmd.Context(), "GET", "/subscriptions/"+s.sub, nil, &sub); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), map[string]any{
			"environmentName": s.info.Cloud, "id": s.sub, "isDefault": true, "name": sub["displayName"], "state": sub["state"],
			"tenantId": s.c.TenantID, "homeTenantId": s.c.TenantID, "user": user,
		})
	}}
	var resource string
	token := &cobra.Command{Use: "get-access-token", Short: "Get an access token for a resource", RunE: func(cmd *cobra.Command, _ []string) error {
		s, err := connect()
		if err != nil {
			return err
		}
		if resource == "" {
			resource = s.c.ManagementResource()
		}
		tok, exp, err := s.c.Token(cmd.Context(), resource)
		if err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), map[string]any{
			"accessToken": tok, "expiresOn": exp.Local().Format("2006-01-02 15:04:05.000000"), "expires_on": strconv.FormatInt(exp.Unix(), 10),
			"subscription": s.sub, "tenant": s.c.TenantID, "tokenType": "Bearer", "resource": resource, "now": time.Now().Unix(),
		})
	}}
	token.Flags().StringVar(&resource, "resource", "", "resource (audience), e.g. https://vault.azure.net")
	cmd.AddCommand(show, token)
	return cmd
}

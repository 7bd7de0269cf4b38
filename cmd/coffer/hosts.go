package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/cloud"
)

// newHostsCmd prints hosts-file lines that pin the profile's names (login,
// management, Graph and every vault) to the server, the documented way to
// run unmodified programs with default settings.
func newHostsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hosts",
		Short: "Print /etc/hosts lines that pin the cloud profile's names to this server",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect()
			if err != nil {
				return err
			}
			p, err := cloud.Lookup(s.info.Cloud)
			if err != nil {
				return err
			}
			ip := "127.0.0.1"
			if h, _, err := net.SplitHostPort(s.info.Addr); err == nil {
				if a := net.ParseIP(h); a != nil && !a.IsUnspecified() {
					ip = h
				}
			}
			names := []string{}
			for _, h := range []string{p.LoginHost, p.ManagementHost, p.GraphHost} {
				if h != "" {
					names = append(names, h)
				}
			}
			var out struct {
				Value []struct {
					Name string `json:"name"`
				} `json:"value"`
			}
			if _, err := s.c.ARM(cmd.Context(), "GET", "/subscriptions/"+s.sub+"/providers/Microsoft.KeyVault/vaults", nil, &out); err != nil {
				return err
			}
			for _, v := range out.Value {
				names = append(names, strings.ToLower(v.Name)+"."+p.VaultSuffix)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# coffer (%s profile): append to /etc/hosts; add a line per vault you create later\n%s %s\n", p.Name, ip, strings.Join(names, " "))
			return nil
		},
	}
}

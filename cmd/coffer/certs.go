package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// defaultCertPolicy is what `az keyvault certificate get-default-policy`
// prints: a Self-issued RSA 2048 PKCS#12 certificate for a year.
const defaultCertPolicy = `{
  "issuerParameters": {"name": "Self"},
  "keyProperties": {"exportable": true, "keySize": 2048, "keyType": "RSA", "reuseKey": true},
  "lifetimeActions": [{"action": {"actionType": "AutoRenew"}, "trigger": {"daysBeforeExpiry": 90}}],
  "secretProperties": {"contentType": "application/x-pkcs12"},
  "x509CertificateProperties": {
    "keyUsage": ["cRLSign", "dataEncipherment", "digitalSignature", "keyEncipherment", "keyAgreement", "keyCertSign"],
    "subject": "CN=CLIGetDefaultPolicy",
    "validityInMonths": 12
  }
}`

// newCertificateCmd is `coffer keyvault certificate`, az's verbs and flags
// for the common certificate operations. download writes the public
// certificate only, as az does; the private key is read through the
// certificate's secret (`coffer keyvault secret show`), which needs secret
// permissions.
func newCertificateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "certificate", Short: "Manage certificates in a key vault"}
	var vault, name, version, id, policy, file, password, encoding string
	var tags []string
	var disabled bool
	obj := objectTarget{kind: "certificates", vault: &vault, name: &name, version: &version, id: &id}
	run, kv := obj.run, obj.kv
	certPath := func() string { return "/certificates/" + url.PathEscape(name) + "/" + url.PathEscape(version) }
	// common adds the policy, attributes and tags of create and import.
	common := func(cmd *cobra.Command, body map[string]any) error {
		if policy != "" {
			p, err := readPolicy(policy)
			if err != nil {
				return err
			}
			body["policy"] = p
		}
		if disabled {
			body["attributes"] = map[string]any{"enabled": false}
		}
		if cmd.Flags().Changed("tags") {
			body["tags"] = parseTags(tags)
		}
		return nil
	}

	create := &cobra.Command{Use: "create", Short: "Create a certificate (or a new version) and wait for it", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		body := map[string]any{}
		if err := common(cmd, body); err != nil {
			return nil, err
		}
		if _, err := kv(cmd, s, "POST", "/certificates/"+url.PathEscape(name)+"/create", body); err != nil {
			return nil, err
		}
		// Poll the operation as az's long-running create does.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var op struct {
				Status        string `json:"status"`
				StatusDetails string `json:"status_details"`
				Error         *struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if _, err := s.c.KeyVault(cmd.Context(), vault, "GET", "/certificates/"+url.PathEscape(name)+"/pending", nil, &op); err != nil {
				return nil, err
			}
			switch strings.ToLower(op.Status) {
			case "completed":
				return kv(cmd, s, "GET", "/certificates/"+url.PathEscape(name)+"/", nil)
			case "failed", "cancelled":
				msg := op.StatusDetails
				if op.Error != nil {
					msg = op.Error.Message
				}
				return nil, fmt.Errorf("certificate operation %s: %s", op.Status, msg)
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("certificate operation still %s after 2 minutes", op.Status)
			}
			time.Sleep(time.Second)
		}
	})}
	create.Flags().StringVarP(&policy, "policy", "p", "", "JSON policy, or @FILE (see get-default-policy)")
	_ = create.MarkFlagRequired("policy")

	importCmd := &cobra.Command{Use: "import", Short: "Import a certificate with its private key (PFX or PEM file)", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		body := map[string]any{}
		if err := common(cmd, body); err != nil {
			return nil, err
		}
		if bytes.Contains(b, []byte("-----BEGIN")) {
			// PEM travels as text and needs the PEM content type in the policy.
			body["value"] = string(b)
			p, _ := body["policy"].(map[string]any)
			if p == nil {
				p = map[string]any{}
				body["policy"] = p
			}
			sp, _ := p["secret_props"].(map[string]any)
			if sp == nil {
				sp = map[string]any{}
				p["secret_props"] = sp
			}
			sp["contentType"] = "application/x-pem-file"
		} else {
			body["value"] = base64.StdEncoding.EncodeToString(b)
		}
		if password != "" {
			body["pwd"] = password
		}
		return kv(cmd, s, "POST", "/certificates/"+url.PathEscape(name)+"/import", body)
	})}
	importCmd.Flags().StringVarP(&file, "file", "f", "", "PKCS#12 (.pfx) or PEM file with the certificate and its private key")
	importCmd.Flags().StringVar(&password, "password", "", "password of the PKCS#12 file")
	importCmd.Flags().StringVarP(&policy, "policy", "p", "", "JSON policy, or @FILE")
	_ = importCmd.MarkFlagRequired("file")
	for _, c := range []*cobra.Command{create, importCmd} {
		tagsVar(c.Flags(), &tags)
		boolVar(c.Flags(), &disabled, "disabled", "create the certificate disabled")
	}

	show := &cobra.Command{Use: "show", Short: "Show a certificate (latest or --version)", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "GET", certPath(), nil)
	})}
	download := &cobra.Command{Use: "download", Short: "Download a certificate's public part to a file", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		if _, err := os.Stat(file); err == nil {
			return nil, fmt.Errorf("File or directory named '%s' already exists.", file)
		}
		var cb struct {
			Cer string `json:"cer"`
		}
		if _, err := s.c.KeyVault(cmd.Context(), vault, "GET", certPath(), nil, &cb); err != nil {
			return nil, err
		}
		der, err := base64.StdEncoding.DecodeString(cb.Cer)
		if err != nil {
			return nil, fmt.Errorf("the certificate's cer is malformed: %v", err)
		}
		out := der
		switch strings.ToUpper(encoding) {
		case "PEM":
			out = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		case "DER":
		default:
			return nil, fmt.Errorf("argument --encoding/-e: invalid choice: '%s' (choose from 'DER', 'PEM')", encoding)
		}
		return nil, os.WriteFile(file, out, 0o644)
	})}
	download.Flags().StringVarP(&file, "file", "f", "", "file to receive the certificate")
	download.Flags().StringVarP(&encoding, "encoding", "e", "PEM", "encoding of the certificate: PEM or DER")
	_ = download.MarkFlagRequired("file")
	list := &cobra.Command{Use: "list", Short: "List certificates", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/certificates")
	})}
	listVersions := &cobra.Command{Use: "list-versions", Short: "List a certificate's versions", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/certificates/"+url.PathEscape(name)+"/versions")
	})}
	listDeleted := &cobra.Command{Use: "list-deleted", Short: "List deleted certificates", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/deletedcertificates")
	})}
	del := &cobra.Command{Use: "delete", Short: "Delete a certificate with its key and secret", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "DELETE", "/certificates/"+url.PathEscape(name), nil)
	})}
	recoverCmd := &cobra.Command{Use: "recover", Short: "Recover a deleted certificate", RunE: run(true, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "POST", "/deletedcertificates/"+url.PathEscape(name)+"/recover", nil)
	})}
	purge := &cobra.Command{Use: "purge", Short: "Permanently delete a deleted certificate", RunE: run(true, func(cmd *cobra.Command, s *session) (any, error) {
		_, err := s.c.KeyVault(cmd.Context(), vault, "DELETE", "/deletedcertificates/"+url.PathEscape(name), nil, nil)
		return nil, err
	})}
	defaultPolicy := &cobra.Command{Use: "get-default-policy", Short: "Print a default policy for create", RunE: func(cmd *cobra.Command, _ []string) error {
		var v any
		if err := json.Unmarshal([]byte(defaultCertPolicy), &v); err != nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), v)
	}}
	withID := map[*cobra.Command]string{
		show: "certificate id (https://VAULT.vault.azure.net/certificates/NAME[/VERSION])", download: "certificate id", listVersions: "certificate id",
		del: "certificate id", recoverCmd: "recovery id of the deleted certificate", purge: "recovery id of the deleted certificate",
	}
	all := []*cobra.Command{create, importCmd, show, download, list, listVersions, listDeleted, del, recoverCmd, purge}
	for _, c := range all {
		c.Flags().StringVar(&vault, "vault-name", "", "vault name")
		if help, ok := withID[c]; ok {
			c.Flags().StringVar(&id, "id", "", help+"; if given, omit --vault-name and --name")
			c.Flags().StringVarP(&name, "name", "n", "", "certificate name")
			continue
		}
		_ = c.MarkFlagRequired("vault-name")
		if c != list && c != listDeleted {
			c.Flags().StringVarP(&name, "name", "n", "", "certificate name")
			_ = c.MarkFlagRequired("name")
		}
	}
	for _, c := range []*cobra.Command{show, download} {
		c.Flags().StringVarP(&version, "version", "v", "", "certificate version (default: the latest)")
	}
	cmd.AddCommand(append(all, defaultPolicy)...)
	return cmd
}

// readPolicy reads --policy: inline JSON or @FILE, in either the REST
// spelling (key_props, x509_props …) or az's (keyProperties,
// x509CertificateProperties …), which it converts.
func readPolicy(arg string) (map[string]any, error) {
	b := []byte(arg)
	if strings.HasPrefix(arg, "@") {
		var err error
		if b, err = os.ReadFile(arg[1:]); err != nil {
			return nil, err
		}
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("argument --policy: not a JSON object: %v", err)
	}
	return restPolicy(p).(map[string]any), nil
}

// azPolicyNames maps az's camelCase policy members to the REST names.
var azPolicyNames = map[string]string{
	"issuerParameters": "issuer", "keyProperties": "key_props", "secretProperties": "secret_props",
	"x509CertificateProperties": "x509_props", "lifetimeActions": "lifetime_actions", "keySize": "key_size",
	"keyType": "kty", "reuseKey": "reuse_key", "curve": "crv", "subjectAlternativeNames": "sans",
	"dnsNames": "dns_names", "upns": "upns", "keyUsage": "key_usage", "validityInMonths": "validity_months",
	"actionType": "action_type", "daysBeforeExpiry": "days_before_expiry", "lifetimePercentage": "lifetime_percentage",
	"certificateType": "cty", "certificateTransparency": "cert_transparency",
}

func restPolicy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if r, ok := azPolicyNames[k]; ok {
				k = r
			}
			out[k] = restPolicy(x)
		}
		return out
	case []any:
		for i := range t {
			t[i] = restPolicy(t[i])
		}
	}
	return v
}

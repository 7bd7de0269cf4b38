package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newKeyCmd is `coffer keyvault key`, az's verbs and flags for the common
// key operations. Private keys only ever travel to the vault (import);
// download writes the public key, as az does.
func newKeyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage keys in a key vault"}
	var vault, name, version, id, kty, curve, protection, file, pemFile, pemPassword, encoding string
	var size int
	var ops, tags []string
	var disabled bool
	var expires, notBefore string
	attrs := func() (map[string]any, error) {
		a := map[string]any{}
		if disabled {
			a["enabled"] = false
		}
		for flag, key := range map[*string]string{&expires: "exp", &notBefore: "nbf"} {
			if *flag != "" {
				t, err := time.Parse(time.RFC3339, *flag)
				if err != nil {
					return nil, fmt.Errorf("bad time %q: want RFC 3339 (2026-01-02T15:04:05Z)", *flag)
				}
				a[key] = t.Unix()
			}
		}
		return a, nil
	}
	obj := objectTarget{kind: "keys", vault: &vault, name: &name, version: &version, id: &id}
	run, kv := obj.run, obj.kv
	keyPath := func() string { return "/keys/" + url.PathEscape(name) + "/" + url.PathEscape(version) }
	// common adds the attributes, tags and operations of create and import.
	common := func(cmd *cobra.Command, body map[string]any) error {
		a, err := attrs()
		if err != nil {
			return err
		}
		if len(a) > 0 {
			body["attributes"] = a
		}
		if cmd.Flags().Changed("tags") {
			body["tags"] = parseTags(tags)
		}
		return nil
	}
	hsm := func() (bool, error) {
		switch protection {
		case "", "software":
			return false, nil
		case "hsm":
			return true, nil
		}
		return false, fmt.Errorf("argument --protection/-p: invalid choice: '%s' (choose from 'hsm', 'software')", protection)
	}
	create := &cobra.Command{Use: "create", Short: "Create a key (or a new version of it)", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		isHSM, err := hsm()
		if err != nil {
			return nil, err
		}
		k := kty
		if k == "" {
			k = "RSA"
		}
		if isHSM && !strings.HasSuffix(k, "-HSM") {
			k += "-HSM"
		}
		body := map[string]any{"kty": k}
		if size != 0 {
			body["key_size"] = size
		}
		if curve != "" {
			body["crv"] = curve
		}
		if cmd.Flags().Changed("ops") {
			body["key_ops"] = ops
		}
		if err := common(cmd, body); err != nil {
			return nil, err
		}
		return kv(cmd, s, "POST", "/keys/"+url.PathEscape(name)+"/create", body)
	})}
	create.Flags().StringVar(&kty, "kty", "", "key type: RSA, RSA-HSM, EC, EC-HSM (default RSA)")
	create.Flags().IntVar(&size, "size", 0, "RSA key size in bits: 2048, 3072 or 4096")
	create.Flags().StringVar(&curve, "curve", "", "elliptic curve: P-256, P-384, P-521, P-256K")
	importCmd := &cobra.Command{Use: "import", Short: "Import a private key from a PEM file", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		if pemPassword != "" {
			return nil, fmt.Errorf("--pem-password: encrypted PEM files are not supported; decrypt the key first (openssl pkey)")
		}
		isHSM, err := hsm()
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(pemFile)
		if err != nil {
			return nil, err
		}
		jwk, err := privateJWK(b)
		if err != nil {
			return nil, err
		}
		if cmd.Flags().Changed("ops") {
			jwk["key_ops"] = ops
		}
		body := map[string]any{"key": jwk}
		if isHSM {
			body["Hsm"] = true
		}
		if err := common(cmd, body); err != nil {
			return nil, err
		}
		return kv(cmd, s, "PUT", "/keys/"+url.PathEscape(name), body)
	})}
	importCmd.Flags().StringVar(&pemFile, "pem-file", "", "PEM file with the private key (PKCS#8, PKCS#1 or SEC 1)")
	importCmd.Flags().StringVar(&pemPassword, "pem-password", "", "password of an encrypted PEM file (not supported)")
	_ = importCmd.MarkFlagRequired("pem-file")
	for _, c := range []*cobra.Command{create, importCmd} {
		listVar(c.Flags(), &ops, "ops", zeroOrMore, "space-separated permitted operations: encrypt decrypt sign verify wrapKey unwrapKey import export")
		c.Flags().StringVarP(&protection, "protection", "p", "", "where the key is protected: software or hsm (records the -HSM key type)")
		tagsVar(c.Flags(), &tags)
		boolVar(c.Flags(), &disabled, "disabled", "create the key disabled")
		c.Flags().StringVar(&expires, "expires", "", "expiry (RFC 3339)")
		c.Flags().StringVar(&notBefore, "not-before", "", "not-before (RFC 3339)")
	}
	show := &cobra.Command{Use: "show", Short: "Show a key's public part (latest or --version)", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "GET", keyPath(), nil)
	})}
	download := &cobra.Command{Use: "download", Short: "Download a key's public key to a file", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		if _, err := os.Stat(file); err == nil {
			return nil, fmt.Errorf("File or directory named '%s' already exists.", file)
		}
		var kb struct {
			Key map[string]any `json:"key"`
		}
		if _, err := s.c.KeyVault(cmd.Context(), vault, "GET", keyPath(), nil, &kb); err != nil {
			return nil, err
		}
		var der []byte
		if crv, _ := kb.Key["crv"].(string); crv == "P-256K" {
			// x509 knows no secp256k1; the SubjectPublicKeyInfo is built here.
			var err error
			if der, err = k256PublicKeyInfo(kb.Key); err != nil {
				return nil, err
			}
		} else {
			pub, err := publicFromJWK(kb.Key)
			if err != nil {
				return nil, err
			}
			if der, err = x509.MarshalPKIXPublicKey(pub); err != nil {
				return nil, err
			}
		}
		out := der
		switch strings.ToUpper(encoding) {
		case "PEM":
			out = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		case "DER":
		default:
			return nil, fmt.Errorf("argument --encoding/-e: invalid choice: '%s' (choose from 'DER', 'PEM')", encoding)
		}
		return nil, os.WriteFile(file, out, 0o644)
	})}
	download.Flags().StringVarP(&file, "file", "f", "", "file to receive the public key")
	download.Flags().StringVarP(&encoding, "encoding", "e", "PEM", "encoding of the public key: PEM or DER")
	_ = download.MarkFlagRequired("file")
	list := &cobra.Command{Use: "list", Short: "List keys", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/keys")
	})}
	listVersions := &cobra.Command{Use: "list-versions", Short: "List a key's versions", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/keys/"+url.PathEscape(name)+"/versions")
	})}
	listDeleted := &cobra.Command{Use: "list-deleted", Short: "List deleted keys", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return listAll(cmd.Context(), s, vault, "/deletedkeys")
	})}
	del := &cobra.Command{Use: "delete", Short: "Delete a key (all versions)", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "DELETE", "/keys/"+url.PathEscape(name), nil)
	})}
	recoverCmd := &cobra.Command{Use: "recover", Short: "Recover a deleted key", RunE: run(true, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "POST", "/deletedkeys/"+url.PathEscape(name)+"/recover", nil)
	})}
	purge := &cobra.Command{Use: "purge", Short: "Permanently delete a deleted key", RunE: run(true, func(cmd *cobra.Command, s *session) (any, error) {
		_, err := s.c.KeyVault(cmd.Context(), vault, "DELETE", "/deletedkeys/"+url.PathEscape(name), nil, nil)
		return nil, err
	})}
	rotate := &cobra.Command{Use: "rotate", Short: "Rotate a key (new version)", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "POST", "/keys/"+url.PathEscape(name)+"/rotate", nil)
	})}
	backup := &cobra.Command{Use: "backup", Short: "Back up a key to a file", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		var out struct {
			Value string `json:"value"`
		}
		if _, err := s.c.KeyVault(cmd.Context(), vault, "POST", "/keys/"+url.PathEscape(name)+"/backup", nil, &out); err != nil {
			return nil, err
		}
		return nil, os.WriteFile(file, []byte(out.Value), 0o600)
	})}
	restore := &cobra.Command{Use: "restore", Short: "Restore a key from a backup file", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return kv(cmd, s, "POST", "/keys/restore", map[string]string{"value": strings.TrimSpace(string(b))})
	})}
	for _, c := range []*cobra.Command{backup, restore} {
		c.Flags().StringVarP(&file, "file", "f", "", "backup file")
		_ = c.MarkFlagRequired("file")
	}
	// az keyvault key rotation-policy show/update: --value is the policy as
	// JSON (the REST shape, lifetimeActions and attributes.expiryTime), or
	// the path of a file holding it.
	rotationPolicy := &cobra.Command{Use: "rotation-policy", Short: "Manage a key's rotation policy"}
	rpShow := &cobra.Command{Use: "show", Short: "Show a key's rotation policy", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		return kv(cmd, s, "GET", "/keys/"+url.PathEscape(name)+"/rotationpolicy", nil)
	})}
	var policyValue string
	rpUpdate := &cobra.Command{Use: "update", Short: "Set a key's rotation policy", RunE: run(false, func(cmd *cobra.Command, s *session) (any, error) {
		raw := []byte(strings.TrimSpace(policyValue))
		if !strings.HasPrefix(string(raw), "{") {
			b, err := os.ReadFile(strings.TrimPrefix(policyValue, "@"))
			if err != nil {
				return nil, err
			}
			raw = b
		}
		var body any
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, fmt.Errorf("--value: not a JSON rotation policy: %v", err)
		}
		return kv(cmd, s, "PUT", "/keys/"+url.PathEscape(name)+"/rotationpolicy", body)
	})}
	rpUpdate.Flags().StringVar(&policyValue, "value", "", "the rotation policy: JSON, or the path of a JSON file")
	_ = rpUpdate.MarkFlagRequired("value")
	rotationPolicy.AddCommand(rpShow, rpUpdate)
	withID := map[*cobra.Command]string{
		show: "key id (https://VAULT.vault.azure.net/keys/NAME[/VERSION])", download: "key id", listVersions: "key id",
		del: "key id", backup: "key id", rotate: "key id", recoverCmd: "recovery id of the deleted key", purge: "recovery id of the deleted key",
	}
	all := []*cobra.Command{create, importCmd, show, download, list, listVersions, listDeleted, del, recoverCmd, purge, rotate, backup, restore}
	for _, c := range append(slices.Clone(all), rpShow, rpUpdate) {
		c.Flags().StringVar(&vault, "vault-name", "", "vault name")
		if help, ok := withID[c]; ok {
			c.Flags().StringVar(&id, "id", "", help+"; if given, omit --vault-name and --name")
			c.Flags().StringVarP(&name, "name", "n", "", "key name")
			continue
		}
		_ = c.MarkFlagRequired("vault-name")
		if c != list && c != listDeleted && c != restore {
			c.Flags().StringVarP(&name, "name", "n", "", "key name")
			_ = c.MarkFlagRequired("name")
		}
	}
	for _, c := range []*cobra.Command{show, download} {
		c.Flags().StringVarP(&version, "version", "v", "", "key version (default: the latest)")
	}
	cmd.AddCommand(all...)
	cmd.AddCommand(rotationPolicy)
	return cmd
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// privateJWK turns a PEM private key into Key Vault's import JWK.
func privateJWK(pemBytes []byte) (map[string]any, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("--pem-file: no PEM block found")
	}
	if strings.Contains(block.Type, "ENCRYPTED") {
		return nil, fmt.Errorf("--pem-file: the key is encrypted; decrypt it first (openssl pkey)")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("--pem-file: %v", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		k.Precompute()
		return map[string]any{"kty": "RSA", "n": b64url(k.N.Bytes()), "e": b64url(big.NewInt(int64(k.E)).Bytes()),
			"d": b64url(k.D.Bytes()), "p": b64url(k.Primes[0].Bytes()), "q": b64url(k.Primes[1].Bytes()),
			"dp": b64url(k.Precomputed.Dp.Bytes()), "dq": b64url(k.Precomputed.Dq.Bytes()), "qi": b64url(k.Precomputed.Qinv.Bytes())}, nil
	case *ecdsa.PrivateKey:
		point, err := k.PublicKey.Bytes() // 0x04 || X || Y, fixed lengths
		if err != nil {
			return nil, fmt.Errorf("--pem-file: %v", err)
		}
		d, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("--pem-file: %v", err)
		}
		n := len(d)
		return map[string]any{"kty": "EC", "crv": k.Curve.Params().Name,
			"x": b64url(point[1 : 1+n]), "y": b64url(point[1+n:]), "d": b64url(d)}, nil
	}
	return nil, fmt.Errorf("--pem-file: unsupported key type %T (RSA and EC only)", key)
}

// publicFromJWK rebuilds the public key of a served JWK.
func publicFromJWK(j map[string]any) (crypto.PublicKey, error) {
	get := func(f string) (*big.Int, error) {
		s, _ := j[f].(string)
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("the key's %q is missing or malformed", f)
		}
		return new(big.Int).SetBytes(b), nil
	}
	kty, _ := j["kty"].(string)
	switch strings.TrimSuffix(kty, "-HSM") {
	case "RSA":
		n, err := get("n")
		if err != nil {
			return nil, err
		}
		e, err := get("e")
		if err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		x, err := get("x")
		if err != nil {
			return nil, err
		}
		y, err := get("y")
		if err != nil {
			return nil, err
		}
		crv, _ := j["crv"].(string)
		c, ok := curves[crv]
		if !ok {
			return nil, fmt.Errorf("unsupported curve %q", crv)
		}
		n := (c.Params().BitSize + 7) / 8
		if x.BitLen() > 8*n || y.BitLen() > 8*n {
			return nil, fmt.Errorf("the key's point is not on %s", crv)
		}
		point := make([]byte, 1+2*n) // 0x04 || X || Y
		point[0] = 4
		x.FillBytes(point[1 : 1+n])
		y.FillBytes(point[1+n:])
		return ecdsa.ParseUncompressedPublicKey(c, point)
	}
	return nil, fmt.Errorf("unsupported key type %q", kty)
}

var curves = map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}

// k256PublicKeyInfo is the DER SubjectPublicKeyInfo (RFC 5480) of a
// P-256K JWK: id-ecPublicKey, the secp256k1 named curve (SEC 2), and the
// uncompressed point. The point is not checked against the curve: it is
// the vault's own served key, written out as served.
func k256PublicKeyInfo(j map[string]any) ([]byte, error) {
	point := []byte{4}
	for _, f := range []string{"x", "y"} {
		s, _ := j[f].(string)
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil || len(b) == 0 || len(b) > 32 {
			return nil, fmt.Errorf("the key's %q is missing or malformed", f)
		}
		point = append(point, make([]byte, 32-len(b))...)
		point = append(point, b...)
	}
	curve, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 132, 0, 10})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		Algo pkix.AlgorithmIdentifier
		Key  asn1.BitString
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, Parameters: asn1.RawValue{FullBytes: curve}},
		asn1.BitString{Bytes: point, BitLength: 8 * len(point)}})
}

package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestJSCertificates: @azure/keyvault-certificates with no client options:
// the begin-create poller to completion, policy, versions, PKCS#12 and PEM
// import, delete poller and purge; the certificate's secret read with
// @azure/keyvault-secrets and parsed (PEM by node:crypto, PKCS#12 here).
func TestJSCertificates(t *testing.T) {
	requireJS(t)
	for _, profile := range jsProfiles {
		t.Run(profile.Name, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{Cloud: profile})
			h := newJSHarness(t, env)
			appID, secret := createServicePrincipal(t, env, "js-certs")
			sp, err := env.Store.GetPrincipalByAppID(context.Background(), appID)
			if err != nil {
				t.Fatal(err)
			}
			const vaultName, name = "js-certs-vault", "JsCert"
			v := jsCreateVault(t, env, vaultName, sp.ObjectID, []string{"get"})
			if err := env.Store.UpdateVault(context.Background(), v.Name, func(v *model.Vault) error {
				v.AccessPolicies[0].Permissions.Certificates = []string{"all"}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// Material to import: a PKCS#12 with a password and a PEM bundle.
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "imported"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(0, 1, 0)}
			der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
			leaf, _ := x509.ParseCertificate(der)
			pfx, err := pkcs12.Modern.Encode(k, leaf, nil, "js-pw")
			if err != nil {
				t.Fatal(err)
			}
			kd, _ := x509.MarshalPKCS8PrivateKey(k)
			bundle := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
			vars := map[string]string{
				"AZURE_TENANT_ID": env.Instance.TenantID, "AZURE_CLIENT_ID": appID, "AZURE_CLIENT_SECRET": secret,
				"VAULT_URL": env.VaultURL(vaultName), "CERT_NAME": name,
				"PFX_B64": base64.StdEncoding.EncodeToString(pfx), "PFX_PWD": "js-pw", "PEM_BUNDLE": bundle,
			}
			if env.Profile.LoginHost == "" {
				vars["AZURE_AUTHORITY_HOST"] = env.AuthorityHost()
				vars["AZURE_DISABLE_INSTANCE_DISCOVERY"] = "true"
			}
			var got struct {
				OK  bool `json:"ok"`
				PEM struct {
					ID, Subject, KeyType, ContentType, Kid, CertKid string
					SameAsCer                                       bool `json:"sameAsCer"`
					KeyMatches                                      bool `json:"keyMatches"`
					Managed                                         bool `json:"managed"`
				} `json:"pem"`
				PFX struct {
					Cer, Secret, ContentType string
				} `json:"pfx"`
				Policy struct {
					Subject  string   `json:"subject"`
					DNSNames []string `json:"dnsNames"`
					Months   int      `json:"months"`
					Issuer   string   `json:"issuer"`
				} `json:"policy"`
				UpdatedMonths int      `json:"updatedMonths"`
				SecondVersion string   `json:"secondVersion"`
				Versions      []string `json:"versions"`
				ImportedPFX   struct {
					Cer, Issuer string
				} `json:"importedPfx"`
				ImportedPEM struct {
					Cer, ContentType string
				} `json:"importedPem"`
				Listed     []string `json:"listed"`
				GetDeleted jsError  `json:"getDeleted"`
				RecoveryID string   `json:"recoveryId"`
				Contacts   jsError  `json:"contacts"`
				Missing    jsError  `json:"missing"`
				jsError
			}
			if !h.run(t, "certs.mjs", vars, &got) || !got.OK {
				t.Fatalf("certs.mjs failed: %v", got.jsError)
			}
			p := got.PEM
			if !strings.HasSuffix(p.ID, "/certificates/"+name+"-pem/"+path.Base(p.CertKid)) || p.Subject != "CN=js.example.com" || !p.SameAsCer || !p.KeyMatches || p.KeyType != "ec" || p.ContentType != "application/x-pem-file" || !p.Managed || p.Kid == "" || p.Kid != p.CertKid {
				t.Errorf("PEM certificate and secret = %+v", p)
			}
			raw, err := base64.StdEncoding.DecodeString(got.PFX.Secret)
			if err != nil {
				t.Fatalf("PKCS#12 secret is not base64: %v", err)
			}
			key, cert, err := pkcs12.Decode(raw, "")
			cer, _ := base64.StdEncoding.DecodeString(got.PFX.Cer)
			if err != nil || !bytes.Equal(cert.Raw, cer) || got.PFX.ContentType != "application/x-pkcs12" {
				t.Fatalf("PKCS#12 secret: %v", err)
			}
			signer, ok := key.(crypto.Signer)
			if !ok || !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
				t.Errorf("PKCS#12 key does not match its certificate")
			}
			if got.Policy.Subject != "CN=js.example.com" || !slices.Equal(got.Policy.DNSNames, []string{"js.example.com"}) || got.Policy.Months != 6 || got.Policy.Issuer != "Self" || got.UpdatedMonths != 24 {
				t.Errorf("policy = %+v, updated months %d", got.Policy, got.UpdatedMonths)
			}
			if len(got.Versions) != 2 || !slices.Contains(got.Versions, got.SecondVersion) {
				t.Errorf("versions %v, second %s", got.Versions, got.SecondVersion)
			}
			wantCer := base64.StdEncoding.EncodeToString(der)
			if got.ImportedPFX.Cer != wantCer || got.ImportedPFX.Issuer != "Unknown" || got.ImportedPEM.Cer != wantCer || got.ImportedPEM.ContentType != "application/x-pem-file" {
				t.Errorf("imports: pfx %+v pem %+v", got.ImportedPFX, got.ImportedPEM)
			}
			for _, n := range []string{name + "-pem", name + "-pfx", name + "-imported", name + "-imported-pem"} {
				if !slices.Contains(got.Listed, n) {
					t.Errorf("list %v lacks %s", got.Listed, n)
				}
			}
			if !got.GetDeleted.is(404, "CertificateNotFound") || got.RecoveryID == "" || !got.Contacts.is(404, "ContactsNotFound") || !got.Missing.is(404, "CertificateNotFound") {
				t.Errorf("deleted %v (recovery %q), contacts %v, missing %v", got.GetDeleted, got.RecoveryID, got.Contacts, got.Missing)
			}
		})
	}
}

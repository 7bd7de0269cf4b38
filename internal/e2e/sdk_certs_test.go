package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// certsClient builds an unmodified azcertificates client; only the
// transport is set (host pinning and Coffer's CA), as for azsecrets.
func certsClient(t *testing.T, env *testenv.Env, vault, clientID, secret string) *azcertificates.Client {
	t.Helper()
	opts := azcore.ClientOptions{Transport: env.Client()}
	credOpts := &azidentity.ClientSecretCredentialOptions{ClientOptions: opts}
	if env.Profile.LoginHost == "" {
		credOpts.Cloud.ActiveDirectoryAuthorityHost = env.AuthorityHost()
		credOpts.DisableInstanceDiscovery = true
	}
	cred, err := azidentity.NewClientSecretCredential(env.Instance.TenantID, clientID, secret, credOpts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azcertificates.NewClient(env.VaultURL(vault), cred, &azcertificates.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createAndWait creates a certificate and polls its operation to
// completion, as a program using azcertificates does.
func createAndWait(t *testing.T, c *azcertificates.Client, name string, pol azcertificates.CertificatePolicy, tags map[string]*string) azcertificates.Certificate {
	t.Helper()
	ctx := context.Background()
	resp, err := c.CreateCertificate(ctx, name, azcertificates.CreateCertificateParameters{CertificatePolicy: &pol, Tags: tags}, nil)
	if err != nil {
		t.Fatalf("CreateCertificate %s: %v", name, err)
	}
	if resp.Status == nil || *resp.Status != "inProgress" || len(resp.CSR) == 0 {
		t.Fatalf("create %s answered status %v, csr %d bytes", name, resp.Status, len(resp.CSR))
	}
	csr, err := x509.ParseCertificateRequest(resp.CSR)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("CSR of %s: %v", name, err)
	}
	for i := 0; ; i++ {
		op, err := c.GetCertificateOperation(ctx, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *op.Status == "completed" {
			if op.Target == nil || !strings.HasSuffix(*op.Target, "/certificates/"+name) {
				t.Fatalf("completed operation target %v", op.Target)
			}
			break
		}
		if i > 20 {
			t.Fatalf("operation of %s never completed: %s", name, *op.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := c.GetCertificate(ctx, name, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return got.Certificate
}

func parseSecretValue(t *testing.T, contentType, value string) (crypto.PrivateKey, []*x509.Certificate) {
	t.Helper()
	switch contentType {
	case "application/x-pkcs12":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			t.Fatalf("PKCS#12 secret is not base64: %v", err)
		}
		key, leaf, cas, err := pkcs12.DecodeChain(raw, "")
		if err != nil {
			t.Fatalf("PKCS#12 secret: %v", err)
		}
		return key, append([]*x509.Certificate{leaf}, cas...)
	case "application/x-pem-file":
		var key crypto.PrivateKey
		var chain []*x509.Certificate
		rest := []byte(value)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			switch b.Type {
			case "PRIVATE KEY":
				k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				key = k
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				chain = append(chain, c)
			}
		}
		if key == nil || len(chain) == 0 {
			t.Fatalf("PEM secret without key or certificate: %q", value[:min(len(value), 60)])
		}
		return key, chain
	}
	t.Fatalf("content type %q", contentType)
	return nil, nil
}

// checkBacking reads the certificate's secret with azsecrets and its key
// with azkeys, and checks that key, secret and certificate agree.
func checkBacking(t *testing.T, env *testenv.Env, cert azcertificates.Certificate, wantCT string) *x509.Certificate {
	t.Helper()
	ctx := context.Background()
	leaf, err := x509.ParseCertificate(cert.CER)
	if err != nil {
		t.Fatalf("cer: %v", err)
	}
	sum := sha1.Sum(cert.CER)
	if !bytes.Equal(cert.X509Thumbprint, sum[:]) {
		t.Fatalf("x5t is not the SHA-1 of cer")
	}
	name := cert.ID.Name()
	if cert.KID.Name() != name || cert.SID.Name() != name || cert.KID.Version() != cert.ID.Version() || cert.SID.Version() != cert.ID.Version() {
		t.Fatalf("kid %s / sid %s do not match id %s", *cert.KID, *cert.SID, *cert.ID)
	}
	sc := sdkClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
	sec, err := sc.GetSecret(ctx, name, cert.SID.Version(), nil)
	if err != nil {
		t.Fatalf("GetSecret backing %s: %v", name, err)
	}
	if sec.ContentType == nil || *sec.ContentType != wantCT || sec.Managed == nil || !*sec.Managed || sec.KID == nil || string(*sec.KID) != string(*cert.KID) {
		t.Fatalf("backing secret: contentType %v managed %v kid %v", sec.ContentType, sec.Managed, sec.KID)
	}
	key, chain := parseSecretValue(t, wantCT, *sec.Value)
	if !chain[0].Equal(leaf) {
		t.Fatalf("secret's leaf is not the certificate")
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
		t.Fatalf("secret's private key does not match the certificate")
	}
	kc := keysClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
	k, err := kc.GetKey(ctx, name, cert.KID.Version(), nil)
	if err != nil {
		t.Fatalf("GetKey backing %s: %v", name, err)
	}
	if k.Managed == nil || !*k.Managed {
		t.Fatalf("backing key not managed")
	}
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(localPublic(t, k.Key)) {
		t.Fatalf("backing key is not the certificate's key")
	}
	return leaf
}

func TestSDKCertificatesLifecycle(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	c := certsClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
	ctx := context.Background()

	t.Run("create Self", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			kty  azcertificates.KeyType
			size int32
			crv  azcertificates.CurveName
			ct   string
		}{
			{"rsa-pfx", azcertificates.KeyTypeRSA, 2048, "", "application/x-pkcs12"},
			{"rsa-pem", azcertificates.KeyTypeRSA, 3072, "", "application/x-pem-file"},
			{"ec-pfx", azcertificates.KeyTypeEC, 0, azcertificates.CurveNameP384, "application/x-pkcs12"},
			{"ec-pem", azcertificates.KeyTypeEC, 0, azcertificates.CurveNameP256, "application/x-pem-file"},
		} {
			kp := &azcertificates.KeyProperties{KeyType: to.Ptr(tc.kty), Exportable: to.Ptr(true)}
			if tc.size != 0 {
				kp.KeySize = to.Ptr(tc.size)
			}
			if tc.crv != "" {
				kp.Curve = to.Ptr(tc.crv)
			}
			pol := azcertificates.CertificatePolicy{
				IssuerParameters: &azcertificates.IssuerParameters{Name: to.Ptr("Self")},
				KeyProperties:    kp,
				SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr(tc.ct)},
				X509CertificateProperties: &azcertificates.X509CertificateProperties{
					Subject: to.Ptr("CN=" + tc.name + ".example.com, O=Coffer"),
					SubjectAlternativeNames: &azcertificates.SubjectAlternativeNames{
						DNSNames:           []*string{to.Ptr(tc.name + ".example.com"), to.Ptr("www.example.com")},
						Emails:             []*string{to.Ptr("ops@example.com")},
						UserPrincipalNames: []*string{to.Ptr("svc@example.com")},
					},
					ValidityInMonths: to.Ptr[int32](6),
					KeyUsage:         []*azcertificates.KeyUsageType{to.Ptr(azcertificates.KeyUsageTypeDigitalSignature), to.Ptr(azcertificates.KeyUsageTypeKeyCertSign)},
					EnhancedKeyUsage: []*string{to.Ptr("1.3.6.1.5.5.7.3.1")},
				},
			}
			cert := createAndWait(t, c, tc.name, pol, map[string]*string{"env": to.Ptr("test")})
			leaf := checkBacking(t, env, cert, tc.ct)
			if leaf.Subject.CommonName != tc.name+".example.com" || !slices.Equal(leaf.Subject.Organization, []string{"Coffer"}) {
				t.Fatalf("%s subject %s", tc.name, leaf.Subject)
			}
			if !slices.Equal(leaf.DNSNames, []string{tc.name + ".example.com", "www.example.com"}) || !slices.Equal(leaf.EmailAddresses, []string{"ops@example.com"}) {
				t.Fatalf("%s SANs %v %v", tc.name, leaf.DNSNames, leaf.EmailAddresses)
			}
			if !hasUPN(t, leaf, "svc@example.com") {
				t.Fatalf("%s lacks the UPN SAN", tc.name)
			}
			if leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign || !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Fatalf("%s key usage %v eku %v", tc.name, leaf.KeyUsage, leaf.ExtKeyUsage)
			}
			months := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24 / 30
			if months < 5.9 || months > 6.2 {
				t.Fatalf("%s validity %.1f months", tc.name, months)
			}
			if !cert.Attributes.Expires.Equal(leaf.NotAfter) || !cert.Attributes.NotBefore.Equal(leaf.NotBefore) {
				t.Fatalf("%s attributes nbf/exp %v %v, cert %v %v", tc.name, cert.Attributes.NotBefore, cert.Attributes.Expires, leaf.NotBefore, leaf.NotAfter)
			}
			switch pub := leaf.PublicKey.(type) {
			case *rsa.PublicKey:
				if tc.kty != azcertificates.KeyTypeRSA || pub.N.BitLen() != int(tc.size) {
					t.Fatalf("%s RSA %d bits", tc.name, pub.N.BitLen())
				}
			case *ecdsa.PublicKey:
				want := map[azcertificates.CurveName]elliptic.Curve{azcertificates.CurveNameP256: elliptic.P256(), azcertificates.CurveNameP384: elliptic.P384()}[tc.crv]
				if tc.kty != azcertificates.KeyTypeEC || pub.Curve != want {
					t.Fatalf("%s curve %s", tc.name, pub.Curve.Params().Name)
				}
			}
			if *cert.Tags["env"] != "test" || *cert.Policy.SecretProperties.ContentType != tc.ct || *cert.Policy.IssuerParameters.Name != "Self" {
				t.Fatalf("%s bundle tags/policy %+v", tc.name, cert.Policy)
			}
		}
	})

	t.Run("versions follow", func(t *testing.T) {
		pol := azcertificates.CertificatePolicy{X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=versioned")},
			IssuerParameters: &azcertificates.IssuerParameters{Name: to.Ptr("Self")}}
		first := createAndWait(t, c, "versioned", pol, nil)
		second := createAndWait(t, c, "versioned", pol, nil)
		if first.ID.Version() == second.ID.Version() {
			t.Fatal("second create did not make a new version")
		}
		var ids []string
		for pg := c.NewListCertificatePropertiesVersionsPager("versioned", nil); pg.More(); {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Value {
				ids = append(ids, it.ID.Version())
				if len(it.X509Thumbprint) != 20 {
					t.Fatalf("version item without x5t")
				}
			}
		}
		if len(ids) != 2 || !slices.Contains(ids, first.ID.Version()) || !slices.Contains(ids, second.ID.Version()) {
			t.Fatalf("versions %v", ids)
		}
		// The older version stays readable, with its own key and secret.
		old, err := c.GetCertificate(ctx, "versioned", first.ID.Version(), nil)
		if err != nil || !bytes.Equal(old.CER, first.CER) {
			t.Fatalf("old version: %v", err)
		}
		checkBacking(t, env, old.Certificate, "application/x-pkcs12")
		checkBacking(t, env, second, "application/x-pkcs12")
		kc := keysClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
		n := 0
		for pg := kc.NewListKeyPropertiesVersionsPager("versioned", nil); pg.More(); {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page.Value)
		}
		if n != 2 {
			t.Fatalf("backing key has %d versions, want 2", n)
		}
		// Lists mark the backing objects as managed, as Azure does.
		sc := sdkClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
		for pg := sc.NewListSecretPropertiesVersionsPager("versioned", nil); pg.More(); {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Value {
				if it.Managed == nil || !*it.Managed {
					t.Fatalf("secret version %s not marked managed", *it.ID)
				}
			}
		}
		for pg := kc.NewListKeyPropertiesVersionsPager("versioned", nil); pg.More(); {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Value {
				if it.Managed == nil || !*it.Managed {
					t.Fatalf("key version %s not marked managed", *it.KID)
				}
			}
		}

		// Update: enabled=false and tags reach the key and secret of that version.
		upd, err := c.UpdateCertificate(ctx, "versioned", second.ID.Version(), azcertificates.UpdateCertificateParameters{
			CertificateAttributes: &azcertificates.CertificateAttributes{Enabled: to.Ptr(false)}, Tags: map[string]*string{"a": to.Ptr("b")}}, nil)
		if err != nil || *upd.Attributes.Enabled || *upd.Tags["a"] != "b" {
			t.Fatalf("update: %v", err)
		}
		_, err = sc.GetSecret(ctx, "versioned", second.ID.Version(), nil)
		wantStatus(t, "secret of a disabled certificate", err, http.StatusForbidden, "Forbidden")
		k, err := kc.GetKey(ctx, "versioned", second.ID.Version(), nil)
		if err != nil || *k.Attributes.Enabled {
			t.Fatalf("key of a disabled certificate: %v enabled=%v", err, k.Attributes.Enabled)
		}
	})

	t.Run("import PKCS#12 and PEM", func(t *testing.T) {
		caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
		ca, _ := x509.ParseCertificate(caDER)
		leafKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "imported.example.com"}, DNSNames: []string{"imported.example.com"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(0, 3, 0), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		leafDER, _ := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
		leaf, _ := x509.ParseCertificate(leafDER)

		for _, pwd := range []string{"", "s3cret"} {
			pfx, err := pkcs12.Modern.Encode(leafKey, leaf, []*x509.Certificate{ca}, pwd)
			if err != nil {
				t.Fatal(err)
			}
			name := "imported-pfx"
			params := azcertificates.ImportCertificateParameters{Base64EncodedCertificate: to.Ptr(base64.StdEncoding.EncodeToString(pfx))}
			if pwd != "" {
				name, params.Password = "imported-pfx-pwd", to.Ptr(pwd)
			}
			imp, err := c.ImportCertificate(ctx, name, params, nil)
			if err != nil {
				t.Fatalf("import PKCS#12 (pwd %q): %v", pwd, err)
			}
			if !bytes.Equal(imp.CER, leafDER) || *imp.Policy.IssuerParameters.Name != "Unknown" || *imp.Policy.KeyProperties.KeyType != azcertificates.KeyTypeRSA {
				t.Fatalf("imported bundle: issuer %v", imp.Policy.IssuerParameters.Name)
			}
			checkBacking(t, env, imp.Certificate, "application/x-pkcs12")
		}
		if _, err := c.ImportCertificate(ctx, "bad-pwd", azcertificates.ImportCertificateParameters{
			Base64EncodedCertificate: to.Ptr(base64.StdEncoding.EncodeToString(mustPFX(t, leafKey, leaf, "right"))), Password: to.Ptr("wrong")}, nil); err == nil {
			t.Fatal("import with a wrong password succeeded")
		} else {
			wantStatus(t, "import with a wrong password", err, http.StatusBadRequest, "BadParameter")
		}

		keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
		pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})) +
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})) +
			string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
		imp, err := c.ImportCertificate(ctx, "imported-pem", azcertificates.ImportCertificateParameters{
			Base64EncodedCertificate: to.Ptr(pemText),
			CertificatePolicy:        &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")}},
		}, nil)
		if err != nil {
			t.Fatalf("import PEM: %v", err)
		}
		checkBacking(t, env, imp.Certificate, "application/x-pem-file")
		sc := sdkClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
		sec, err := sc.GetSecret(ctx, "imported-pem", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, chain := parseSecretValue(t, "application/x-pem-file", *sec.Value); len(chain) != 2 || !chain[1].Equal(ca) {
			t.Fatalf("PEM secret lost the chain: %d certificates", len(chain))
		}
	})

	t.Run("Unknown issuer and merge", func(t *testing.T) {
		pol := azcertificates.CertificatePolicy{
			IssuerParameters:          &azcertificates.IssuerParameters{Name: to.Ptr("Unknown")},
			KeyProperties:             &azcertificates.KeyProperties{KeyType: to.Ptr(azcertificates.KeyTypeRSA), KeySize: to.Ptr[int32](2048)},
			X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=merged.example.com")},
		}
		resp, err := c.CreateCertificate(ctx, "merged", azcertificates.CreateCertificateParameters{CertificatePolicy: &pol}, nil)
		if err != nil {
			t.Fatal(err)
		}
		op, err := c.GetCertificateOperation(ctx, "merged", nil)
		if err != nil || *op.Status != "inProgress" || !bytes.Equal(op.CSR, resp.CSR) {
			t.Fatalf("operation of an Unknown issuer: %v %v", err, op.Status)
		}
		_, err = c.GetCertificate(ctx, "merged", "", nil)
		wantStatus(t, "certificate still pending", err, http.StatusNotFound, "CertificateNotFound")
		csr, err := x509.ParseCertificateRequest(op.CSR)
		if err != nil || csr.CheckSignature() != nil || csr.Subject.CommonName != "merged.example.com" {
			t.Fatalf("CSR: %v", err)
		}
		// A CA signs the CSR; the chain comes back with the CA first, as CAs often send it.
		caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		caTmpl := &x509.Certificate{SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "Merge CA"}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
		ca, _ := x509.ParseCertificate(caDER)
		leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(11), Subject: csr.Subject,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(0, 6, 0)}, ca, csr.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.MergeCertificate(ctx, "merged", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{caDER}}, nil)
		wantStatus(t, "merge a certificate of another key", err, http.StatusBadRequest, "BadParameter")
		merged, err := c.MergeCertificate(ctx, "merged", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{caDER, leafDER}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(merged.CER, leafDER) {
			t.Fatal("merged certificate is not the signed leaf")
		}
		checkBacking(t, env, merged.Certificate, "application/x-pkcs12")
		sc := sdkClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
		sec, err := sc.GetSecret(ctx, "merged", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, chain := parseSecretValue(t, "application/x-pkcs12", *sec.Value); len(chain) != 2 || !chain[1].Equal(ca) {
			t.Fatalf("merged secret chain has %d certificates", len(chain))
		}
		if op, err := c.GetCertificateOperation(ctx, "merged", nil); err != nil || *op.Status != "completed" {
			t.Fatalf("operation after merge: %v", err)
		}
		_, err = c.MergeCertificate(ctx, "merged", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{leafDER}}, nil)
		wantStatus(t, "merge twice", err, http.StatusNotFound, "PendingCertificateNotFound")

		// Cancel and delete an operation in progress.
		if _, err := c.CreateCertificate(ctx, "abandoned", azcertificates.CreateCertificateParameters{CertificatePolicy: &pol}, nil); err != nil {
			t.Fatal(err)
		}
		cancelled, err := c.UpdateCertificateOperation(ctx, "abandoned", azcertificates.UpdateCertificateOperationParameter{CancellationRequested: to.Ptr(true)}, nil)
		if err != nil || !*cancelled.CancellationRequested || *cancelled.Status != "cancelled" {
			t.Fatalf("cancel: %v", err)
		}
		if _, err := c.DeleteCertificateOperation(ctx, "abandoned", nil); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetCertificateOperation(ctx, "abandoned", nil)
		wantStatus(t, "deleted operation", err, http.StatusNotFound, "PendingCertificateNotFound")
	})

	t.Run("policy", func(t *testing.T) {
		pol, err := c.GetCertificatePolicy(ctx, "rsa-pfx", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(*pol.ID), "/certificates/rsa-pfx/policy") || *pol.KeyProperties.KeySize != 2048 || *pol.X509CertificateProperties.ValidityInMonths != 6 {
			t.Fatalf("policy %+v", pol)
		}
		upd, err := c.UpdateCertificatePolicy(ctx, "rsa-pfx", azcertificates.CertificatePolicy{
			X509CertificateProperties: &azcertificates.X509CertificateProperties{ValidityInMonths: to.Ptr[int32](24)},
			SecretProperties:          &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *upd.X509CertificateProperties.ValidityInMonths != 24 || *upd.SecretProperties.ContentType != "application/x-pem-file" || *upd.X509CertificateProperties.Subject != "CN=rsa-pfx.example.com, O=Coffer" {
			t.Fatalf("updated policy %+v", upd.X509CertificateProperties)
		}
		// The next version follows the new policy.
		cert := createAndWait(t, c, "rsa-pfx", azcertificates.CertificatePolicy{}, nil)
		checkBacking(t, env, cert, "application/x-pem-file")

		_, err = c.UpdateCertificatePolicy(ctx, "rsa-pfx", azcertificates.CertificatePolicy{
			KeyProperties: &azcertificates.KeyProperties{KeyType: to.Ptr(azcertificates.KeyTypeRSA), KeySize: to.Ptr[int32](1000)}}, nil)
		wantStatus(t, "bad key size", err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("list", func(t *testing.T) {
		var names []string
		for pg := c.NewListCertificatePropertiesPager(nil); pg.More(); {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Value {
				names = append(names, it.ID.Name())
			}
		}
		for _, want := range []string{"rsa-pfx", "ec-pem", "versioned", "imported-pfx", "imported-pem"} {
			if !slices.Contains(names, want) {
				t.Fatalf("list %v lacks %s", names, want)
			}
		}
	})

	t.Run("delete recover purge", func(t *testing.T) {
		del, err := c.DeleteCertificate(ctx, "ec-pem", nil)
		if err != nil || del.RecoveryID == nil || del.DeletedDate == nil {
			t.Fatalf("delete: %v", err)
		}
		_, err = c.GetCertificate(ctx, "ec-pem", "", nil)
		wantStatus(t, "get deleted", err, http.StatusNotFound, "CertificateNotFound")
		sc := sdkClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
		_, err = sc.GetSecret(ctx, "ec-pem", "", nil)
		wantStatus(t, "secret of a deleted certificate", err, http.StatusNotFound, "SecretNotFound")
		kc := keysClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
		_, err = kc.GetKey(ctx, "ec-pem", "", nil)
		wantStatus(t, "key of a deleted certificate", err, http.StatusNotFound, "KeyNotFound")
		if _, err := c.GetDeletedCertificate(ctx, "ec-pem", nil); err != nil {
			t.Fatal(err)
		}
		found := false
		for pg := c.NewListDeletedCertificatePropertiesPager(nil); pg.More(); {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Value {
				found = found || it.ID.Name() == "ec-pem"
			}
		}
		if !found {
			t.Fatal("deleted list lacks ec-pem")
		}
		_, err = c.CreateCertificate(ctx, "ec-pem", azcertificates.CreateCertificateParameters{CertificatePolicy: &azcertificates.CertificatePolicy{
			X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=x")}}}, nil)
		wantStatus(t, "create over a deleted certificate", err, http.StatusConflict, "Conflict")

		rec, err := c.RecoverDeletedCertificate(ctx, "ec-pem", nil)
		if err != nil {
			t.Fatal(err)
		}
		checkBacking(t, env, rec.Certificate, "application/x-pem-file")

		if _, err := c.DeleteCertificate(ctx, "ec-pem", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PurgeDeletedCertificate(ctx, "ec-pem", nil); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetDeletedCertificate(ctx, "ec-pem", nil)
		wantStatus(t, "get purged", err, http.StatusNotFound, "CertificateNotFound")
		_, err = sc.GetDeletedSecret(ctx, "ec-pem", nil)
		wantStatus(t, "purged certificate's secret", err, http.StatusNotFound, "SecretNotFound")
		_, err = kc.GetDeletedKey(ctx, "ec-pem", nil)
		wantStatus(t, "purged certificate's key", err, http.StatusNotFound, "KeyNotFound")
		// The name is free again.
		createAndWait(t, c, "ec-pem", azcertificates.CertificatePolicy{X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=again")}}, nil)
	})

	t.Run("backup restore", func(t *testing.T) {
		orig, err := c.GetCertificate(ctx, "imported-pem", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.BackupCertificate(ctx, "imported-pem", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.RestoreCertificate(ctx, azcertificates.RestoreCertificateParameters{CertificateBackup: b.Value}, nil)
		wantStatus(t, "restore over a live certificate", err, http.StatusConflict, "Conflict")
		if _, err := c.DeleteCertificate(ctx, "imported-pem", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PurgeDeletedCertificate(ctx, "imported-pem", nil); err != nil {
			t.Fatal(err)
		}
		r, err := c.RestoreCertificate(ctx, azcertificates.RestoreCertificateParameters{CertificateBackup: b.Value}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *r.ID != *orig.ID || !bytes.Equal(r.CER, orig.CER) {
			t.Fatalf("restored %s, want %s", *r.ID, *orig.ID)
		}
		checkBacking(t, env, r.Certificate, "application/x-pem-file")
	})

	t.Run("contacts and issuers", func(t *testing.T) {
		_, err := c.GetContacts(ctx, nil)
		wantStatus(t, "contacts of a vault with none", err, http.StatusNotFound, "ContactsNotFound")
		pager := c.NewListIssuerPropertiesPager(nil)
		page, err := pager.NextPage(ctx)
		if err != nil || len(page.Value) != 0 {
			t.Fatalf("issuers of a new vault: %v %d", err, len(page.Value))
		}
		set, err := c.SetContacts(ctx, azcertificates.Contacts{ContactList: []*azcertificates.Contact{{Email: to.Ptr("a@example.com"), Name: to.Ptr("A")}}}, nil)
		if err != nil || len(set.ContactList) != 1 {
			t.Fatalf("set contacts: %v", err)
		}
		got, err := c.GetContacts(ctx, nil)
		if err != nil || *got.ContactList[0].Email != "a@example.com" {
			t.Fatalf("get contacts: %v", err)
		}
		if _, err := c.DeleteContacts(ctx, nil); err != nil {
			t.Fatal(err)
		}
		is, err := c.SetIssuer(ctx, "mine", azcertificates.SetIssuerParameters{Provider: to.Ptr("Self")}, nil)
		if err != nil || *is.Provider != "Self" || !strings.HasSuffix(string(*is.ID), "/certificates/issuers/mine") {
			t.Fatalf("set issuer: %v", err)
		}
		if _, err := c.GetIssuer(ctx, "mine", nil); err != nil {
			t.Fatal(err)
		}
		_, err = c.SetIssuer(ctx, "ca", azcertificates.SetIssuerParameters{Provider: to.Ptr("NoSuchCA")}, nil)
		wantStatus(t, "unsupported issuer provider", err, http.StatusBadRequest, "BadParameter")
		if _, err := c.DeleteIssuer(ctx, "mine", nil); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetIssuer(ctx, "mine", nil)
		wantStatus(t, "deleted issuer", err, http.StatusNotFound, "CertificateIssuerNotFound")
	})
	_ = azkeys.KeyTypeRSA
}

func mustPFX(t *testing.T, key crypto.PrivateKey, leaf *x509.Certificate, pwd string) []byte {
	t.Helper()
	b, err := pkcs12.Modern.Encode(key, leaf, nil, pwd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hasUPN finds a UPN otherName in the certificate's SAN extension, which
// crypto/x509 does not parse.
func hasUPN(t *testing.T, c *x509.Certificate, upn string) bool {
	t.Helper()
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			continue
		}
		var names []asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &names); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if n.Tag != 0 || n.Class != asn1.ClassContextSpecific {
				continue
			}
			// otherName: type-id OID, then [0] EXPLICIT value.
			var id asn1.ObjectIdentifier
			rest, err := asn1.Unmarshal(n.Bytes, &id)
			if err != nil {
				t.Fatal(err)
			}
			var val asn1.RawValue
			if _, err := asn1.Unmarshal(rest, &val); err != nil || val.Tag != 0 {
				t.Fatalf("otherName value: %v", err)
			}
			var s string
			if _, err := asn1.UnmarshalWithParams(val.Bytes, &s, "utf8"); err == nil && s == upn && id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}) {
				return true
			}
		}
	}
	return false
}

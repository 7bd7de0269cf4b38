package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestRawCertificateUpstreamFixes pins, on the wire, what the Azure SDK's
// own azcertificates tests found Coffer answering differently from Azure
// (see upstream_sdk_test.go): preserveCertOrder is echoed on the
// operation and the bundle (7.6), issuer configurations for Azure's
// providers are stored, and a policy may name curve P-256K.
func TestRawCertificateUpstreamFixes(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	tok := adminToken(t, env)
	const api = "?api-version=7.6"
	do := func(method, path string, body any) *rawResp {
		t.Helper()
		var b []byte
		if body != nil {
			b = jsonBody(t, body)
		}
		return rawDo(t, env, method, kvURL(env, path+api), tok, b, nil)
	}

	t.Run("preserveCertOrder", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			set  any // the request's preserveCertOrder; nil = absent
			want any // the echo; nil = absent, as in Azure's examples
		}{
			{"set", true, true},
			{"false", false, nil},
			{"absent", nil, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				name := "order-" + tt.name
				body := selfPolicy(name)
				if tt.set != nil {
					body["preserveCertOrder"] = tt.set
				}
				r := do("POST", "/certificates/"+name+"/create", body)
				if r.Status != http.StatusAccepted {
					t.Fatalf("create: %d %s", r.Status, r.Body)
				}
				for what, obj := range map[string]map[string]any{
					"create operation": r.obj(t),
					"pending":          do("GET", "/certificates/"+name+"/pending", nil).obj(t),
					"bundle":           do("GET", "/certificates/"+name, nil).obj(t),
					"deleted bundle":   do("DELETE", "/certificates/"+name, nil).obj(t),
				} {
					if got := obj["preserveCertOrder"]; got != tt.want {
						t.Errorf("%s: preserveCertOrder = %v, want %v", what, got, tt.want)
					}
				}
			})
		}
	})

	t.Run("preserveCertOrder on import", func(t *testing.T) {
		ca, leaf, keyPEM := caAndLeaf(t)
		// The value lists the CA before the leaf.
		value := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca})) +
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf})) + keyPEM
		for _, tt := range []struct {
			name     string
			preserve bool
			want     [][]byte
		}{
			{"leaf first by default", false, [][]byte{leaf, ca}},
			{"as given when preserved", true, [][]byte{ca, leaf}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				name := fmt.Sprintf("import-order-%t", tt.preserve)
				r := do("POST", "/certificates/"+name+"/import", map[string]any{"value": value, "preserveCertOrder": tt.preserve,
					"policy": map[string]any{"secret_props": map[string]any{"contentType": "application/x-pem-file"}}})
				if r.Status != 200 {
					t.Fatalf("import: %d %s", r.Status, r.Body)
				}
				if got := r.obj(t)["cer"]; got != base64.StdEncoding.EncodeToString(leaf) {
					t.Fatalf("cer is not the leaf")
				}
				sec := do("GET", "/secrets/"+name, nil).obj(t)
				var got [][]byte
				for rest := []byte(sec["value"].(string)); ; {
					var b *pem.Block
					if b, rest = pem.Decode(rest); b == nil {
						break
					}
					if b.Type == "CERTIFICATE" {
						got = append(got, b.Bytes)
					}
				}
				if !slices.EqualFunc(got, tt.want, bytes.Equal) {
					t.Fatalf("secret lists %d certificates in the wrong order", len(got))
				}
			})
		}
	})

	t.Run("issuer providers", func(t *testing.T) {
		for _, tt := range []struct {
			given, stored string
			status        int
		}{
			{"Test", "Test", 200},
			{"digicert", "DigiCert", 200},
			{"GlobalSign", "GlobalSign", 200},
			{"Self", "Self", 200},
			{"NoSuchCA", "", 400},
		} {
			r := do("PUT", "/certificates/issuers/i-"+tt.given, map[string]any{"provider": tt.given,
				"credentials": map[string]any{"account_id": "keyvaultuser"}})
			if r.Status != tt.status {
				t.Fatalf("provider %s: %d %s", tt.given, r.Status, r.Body)
			}
			if tt.status != 200 {
				r.wantKVError(t, "provider "+tt.given, tt.status, "BadParameter", "")
				continue
			}
			got := do("GET", "/certificates/issuers/i-"+tt.given, nil).obj(t)
			if got["provider"] != tt.stored || got["credentials"].(map[string]any)["account_id"] != "keyvaultuser" {
				t.Errorf("provider %s stored as %v", tt.given, got)
			}
		}
		// An issuer whose provider is a CA Coffer does not talk to is
		// configuration only: issuing through it is refused.
		body := selfPolicy("via-test")
		body["policy"].(map[string]any)["issuer"] = map[string]any{"name": "i-Test"}
		do("POST", "/certificates/via-test/create", body).wantKVError(t, "create via provider Test", 400, "BadParameter", "")
	})

	t.Run("P-256K policy", func(t *testing.T) {
		if r := do("POST", "/certificates/k256/create", selfPolicy("k256")); r.Status != http.StatusAccepted {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		r := do("PATCH", "/certificates/k256/policy", map[string]any{"key_props": map[string]any{"kty": "EC", "crv": "P-256K", "key_size": 256}})
		if r.Status != 200 {
			t.Fatalf("policy update to P-256K: %d %s", r.Status, r.Body)
		}
		if kp := r.obj(t)["key_props"].(map[string]any); kp["crv"] != "P-256K" {
			t.Fatalf("key_props %v", kp)
		}
		do("PATCH", "/certificates/k256/policy", map[string]any{"key_props": map[string]any{"kty": "EC", "crv": "P-256K", "key_size": 384}}).
			wantKVError(t, "P-256K with size 384", 400, "BadParameter", "")
		do("POST", "/certificates/k256new/create", map[string]any{"policy": map[string]any{
			"key_props": map[string]any{"kty": "EC", "crv": "P-256K"}, "x509_props": map[string]any{"subject": "CN=k"}, "issuer": map[string]any{"name": "Self"},
		}}).wantKVError(t, "issue on P-256K", 400, "BadParameter", "")
	})
}

// caAndLeaf makes a CA certificate and a leaf it signed (DER), with the
// leaf's key as PEM.
func caAndLeaf(t *testing.T) (ca, leaf []byte, keyPEM string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "order CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	if ca, err = x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey); err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(ca)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "order leaf"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if leaf, err = x509.CreateCertificate(rand.Reader, leafTmpl, caCert, leafKey.Public(), caKey); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	return ca, leaf, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

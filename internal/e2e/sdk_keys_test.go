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
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/coffer-dev/coffer/internal/cloud"
	"github.com/coffer-dev/coffer/internal/keys"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// keysClient builds an unmodified azkeys client; only the transport is set
// (host pinning and Coffer's CA), as for azsecrets.
func keysClient(t *testing.T, env *testenv.Env, vault, clientID, secret string) *azkeys.Client {
	t.Helper()
	opts := azcore.ClientOptions{Transport: env.Client()}
	credOpts := &azidentity.ClientSecretCredentialOptions{ClientOptions: opts}
	if env.Profile.LoginHost == "" {
		// Local profile, as sdkClient does (README).
		credOpts.Cloud.ActiveDirectoryAuthorityHost = env.AuthorityHost()
		credOpts.DisableInstanceDiscovery = true
	}
	cred, err := azidentity.NewClientSecretCredential(env.Instance.TenantID, clientID, secret, credOpts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azkeys.NewClient(env.VaultURL(vault), cred, &azkeys.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// localPublic rebuilds the public key from the JWK the SDK parsed.
func localPublic(t *testing.T, k *azkeys.JSONWebKey) crypto.PublicKey {
	t.Helper()
	if k.D != nil || k.P != nil || k.Q != nil || k.DP != nil || k.DQ != nil || k.QI != nil {
		t.Fatalf("served JWK carries private parts")
	}
	switch *k.Kty {
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		return &rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(new(big.Int).SetBytes(k.E).Int64())}
	case azkeys.KeyTypeEC, azkeys.KeyTypeECHSM:
		c := map[azkeys.CurveName]elliptic.Curve{azkeys.CurveNameP256: elliptic.P256(), azkeys.CurveNameP384: elliptic.P384(), azkeys.CurveNameP521: elliptic.P521()}[*k.Crv]
		pub, err := keys.ECPublicKey(c, k.X, k.Y)
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
	t.Fatalf("kty %s", *k.Kty)
	return nil
}

func hashFor(alg azkeys.SignatureAlgorithm) (crypto.Hash, []byte) {
	msg := []byte("coffer signs this")
	switch alg {
	case azkeys.SignatureAlgorithmRS384, azkeys.SignatureAlgorithmPS384, azkeys.SignatureAlgorithmES384:
		d := sha512.Sum384(msg)
		return crypto.SHA384, d[:]
	case azkeys.SignatureAlgorithmRS512, azkeys.SignatureAlgorithmPS512, azkeys.SignatureAlgorithmES512:
		d := sha512.Sum512(msg)
		return crypto.SHA512, d[:]
	}
	d := sha256.Sum256(msg)
	return crypto.SHA256, d[:]
}

// verifyLocally checks a Key Vault signature with Go's crypto only.
func verifyLocally(t *testing.T, pub crypto.PublicKey, alg azkeys.SignatureAlgorithm, digest, sig []byte) {
	t.Helper()
	h, _ := hashFor(alg)
	var err error
	switch a := string(alg); {
	case strings.HasPrefix(a, "RS"):
		err = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), h, digest, sig)
	case strings.HasPrefix(a, "PS"):
		err = rsa.VerifyPSS(pub.(*rsa.PublicKey), h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	default:
		k := pub.(*ecdsa.PublicKey)
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n || !ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
			err = rsa.ErrVerification
		}
	}
	if err != nil {
		t.Fatalf("%s: local verification failed: %v", alg, err)
	}
}

func localEncrypt(t *testing.T, pub *rsa.PublicKey, alg azkeys.EncryptionAlgorithm, pt []byte) []byte {
	t.Helper()
	var ct []byte
	var err error
	switch alg {
	case azkeys.EncryptionAlgorithmRSAOAEP:
		ct, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, pt, nil)
	case azkeys.EncryptionAlgorithmRSAOAEP256:
		ct, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, pt, nil)
	default:
		//lint:ignore SA1019 RSA1_5 is one of Key Vault's algorithms; clients that choose it must keep working
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, pub, pt)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

var (
	encAlgs  = []azkeys.EncryptionAlgorithm{azkeys.EncryptionAlgorithmRSAOAEP, azkeys.EncryptionAlgorithmRSAOAEP256, azkeys.EncryptionAlgorithmRSA15}
	rsaSigns = []azkeys.SignatureAlgorithm{azkeys.SignatureAlgorithmRS256, azkeys.SignatureAlgorithmRS384, azkeys.SignatureAlgorithmRS512,
		azkeys.SignatureAlgorithmPS256, azkeys.SignatureAlgorithmPS384, azkeys.SignatureAlgorithmPS512}
)

// exerciseRSA runs every RSA operation and algorithm against one key
// version, crossing Coffer and local crypto in both directions where the
// algorithm allows (only Coffer holds the private key).
func exerciseRSA(t *testing.T, c *azkeys.Client, name, version string, pub *rsa.PublicKey) {
	t.Helper()
	ctx := context.Background()
	dek := []byte("0123456789abcdef0123456789abcdef")
	for _, alg := range encAlgs {
		enc, err := c.Encrypt(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: dek}, nil)
		if err != nil {
			t.Fatalf("Encrypt %s: %v", alg, err)
		}
		if len(enc.Result) != pub.Size() || !strings.Contains(string(*enc.KID), "/keys/"+name+"/") {
			t.Fatalf("Encrypt %s: %d bytes, kid %s", alg, len(enc.Result), *enc.KID)
		}
		dec, err := c.Decrypt(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: enc.Result}, nil)
		if err != nil || !bytes.Equal(dec.Result, dek) {
			t.Fatalf("Decrypt %s = %q, %v", alg, dec.Result, err)
		}
		dec, err = c.Decrypt(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: localEncrypt(t, pub, alg, dek)}, nil)
		if err != nil || !bytes.Equal(dec.Result, dek) {
			t.Fatalf("Decrypt(local %s) = %q, %v", alg, dec.Result, err)
		}
		wr, err := c.WrapKey(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: dek}, nil)
		if err != nil {
			t.Fatalf("WrapKey %s: %v", alg, err)
		}
		un, err := c.UnwrapKey(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: wr.Result}, nil)
		if err != nil || !bytes.Equal(un.Result, dek) {
			t.Fatalf("UnwrapKey %s = %q, %v", alg, un.Result, err)
		}
		un, err = c.UnwrapKey(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: localEncrypt(t, pub, alg, dek)}, nil)
		if err != nil || !bytes.Equal(un.Result, dek) {
			t.Fatalf("UnwrapKey(local %s) = %q, %v", alg, un.Result, err)
		}
	}
	for _, alg := range rsaSigns {
		exerciseSign(t, c, name, version, pub, alg)
	}
}

func exerciseSign(t *testing.T, c *azkeys.Client, name, version string, pub crypto.PublicKey, alg azkeys.SignatureAlgorithm) {
	t.Helper()
	ctx := context.Background()
	_, digest := hashFor(alg)
	s, err := c.Sign(ctx, name, version, azkeys.SignParameters{Algorithm: to.Ptr(alg), Value: digest}, nil)
	if err != nil {
		t.Fatalf("Sign %s: %v", alg, err)
	}
	verifyLocally(t, pub, alg, digest, s.Result)
	v, err := c.Verify(ctx, name, version, azkeys.VerifyParameters{Algorithm: to.Ptr(alg), Digest: digest, Signature: s.Result}, nil)
	if err != nil || v.Value == nil || !*v.Value {
		t.Fatalf("Verify %s = %v, %v", alg, v.Value, err)
	}
	bad := slices.Clone(s.Result)
	bad[0] ^= 0x80
	v, err = c.Verify(ctx, name, version, azkeys.VerifyParameters{Algorithm: to.Ptr(alg), Digest: digest, Signature: bad}, nil)
	if err != nil || v.Value == nil || *v.Value {
		t.Fatalf("Verify(tampered %s) = %v, %v, want false", alg, v.Value, err)
	}
}

func TestSDKKeysLifecycle(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.AzureCloud})
	c := keysClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
	ctx := context.Background()

	t.Run("create RSA", func(t *testing.T) {
		for _, tc := range []struct {
			kty  azkeys.KeyType
			size int32
		}{{azkeys.KeyTypeRSA, 2048}, {azkeys.KeyTypeRSAHSM, 3072}, {azkeys.KeyTypeRSA, 4096}} {
			name := "rsa-" + strings.ToLower(string(tc.kty)) + "-" + string(rune('0'+tc.size/1024))
			k, err := c.CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: to.Ptr(tc.kty), KeySize: to.Ptr(tc.size),
				Tags: map[string]*string{"purpose": to.Ptr("test")}}, nil)
			if err != nil {
				t.Fatalf("CreateKey %s %d: %v", tc.kty, tc.size, err)
			}
			if *k.Key.Kty != tc.kty || len(k.Key.N)*8 != int(tc.size) || *k.Tags["purpose"] != "test" || !*k.Attributes.Enabled {
				t.Fatalf("created %s: kty %s, %d bits", name, *k.Key.Kty, len(k.Key.N)*8)
			}
			var ops []string
			for _, o := range k.Key.KeyOps {
				ops = append(ops, string(*o))
			}
			if strings.Join(ops, ",") != "encrypt,decrypt,sign,verify,wrapKey,unwrapKey" {
				t.Fatalf("default key_ops = %v", ops)
			}
			exerciseRSA(t, c, name, k.Key.KID.Version(), localPublic(t, k.Key).(*rsa.PublicKey))
			// The latest version, addressed without a version.
			exerciseSign(t, c, name, "", localPublic(t, k.Key), azkeys.SignatureAlgorithmPS256)
		}
	})

	t.Run("create EC", func(t *testing.T) {
		for _, tc := range []struct {
			kty azkeys.KeyType
			crv azkeys.CurveName
			alg azkeys.SignatureAlgorithm
		}{
			{azkeys.KeyTypeEC, azkeys.CurveNameP256, azkeys.SignatureAlgorithmES256},
			{azkeys.KeyTypeECHSM, azkeys.CurveNameP384, azkeys.SignatureAlgorithmES384},
			{azkeys.KeyTypeEC, azkeys.CurveNameP521, azkeys.SignatureAlgorithmES512},
		} {
			name := "ec-" + strings.ToLower(strings.ReplaceAll(string(tc.crv), "-", ""))
			k, err := c.CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: to.Ptr(tc.kty), Curve: to.Ptr(tc.crv)}, nil)
			if err != nil {
				t.Fatalf("CreateKey %s %s: %v", tc.kty, tc.crv, err)
			}
			if *k.Key.Kty != tc.kty || *k.Key.Crv != tc.crv || len(k.Key.KeyOps) != 2 {
				t.Fatalf("created %s: %s %s ops %d", name, *k.Key.Kty, *k.Key.Crv, len(k.Key.KeyOps))
			}
			exerciseSign(t, c, name, k.Key.KID.Version(), localPublic(t, k.Key), tc.alg)
		}
		exerciseES256K(t, c)
	})

	t.Run("import", func(t *testing.T) {
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		imp, err := c.ImportKey(ctx, "imported-rsa", azkeys.ImportKeyParameters{HSM: to.Ptr(true), Key: &azkeys.JSONWebKey{
			Kty: to.Ptr(azkeys.KeyTypeRSA), N: rk.N.Bytes(), E: big.NewInt(int64(rk.E)).Bytes(), D: rk.D.Bytes(),
			P: rk.Primes[0].Bytes(), Q: rk.Primes[1].Bytes(), DP: rk.Precomputed.Dp.Bytes(), DQ: rk.Precomputed.Dq.Bytes(), QI: rk.Precomputed.Qinv.Bytes(),
			KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationSign), to.Ptr(azkeys.KeyOperationVerify), to.Ptr(azkeys.KeyOperationDecrypt)},
		}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *imp.Key.Kty != azkeys.KeyTypeRSAHSM || !bytes.Equal(imp.Key.N, rk.N.Bytes()) || len(imp.Key.KeyOps) != 3 {
			t.Fatalf("imported: kty %s ops %d", *imp.Key.Kty, len(imp.Key.KeyOps))
		}
		// Coffer decrypts what was encrypted with the original key pair's
		// public half; its signatures verify with the original public key.
		dek := []byte("wrapped locally")
		dec, err := c.Decrypt(ctx, "imported-rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256),
			Value: localEncrypt(t, &rk.PublicKey, azkeys.EncryptionAlgorithmRSAOAEP256, dek)}, nil)
		if err != nil || !bytes.Equal(dec.Result, dek) {
			t.Fatalf("Decrypt = %q, %v", dec.Result, err)
		}
		exerciseSign(t, c, "imported-rsa", "", &rk.PublicKey, azkeys.SignatureAlgorithmRS256)
		// encrypt is not in key_ops.
		_, err = c.Encrypt(ctx, "imported-rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: dek}, nil)
		wantStatus(t, "encrypt without key_op", err, http.StatusForbidden, "Forbidden")

		ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ei, err := c.ImportKey(ctx, "imported-ec", azkeys.ImportKeyParameters{Key: &azkeys.JSONWebKey{
			Kty: to.Ptr(azkeys.KeyTypeEC), Crv: to.Ptr(azkeys.CurveNameP256), X: ecPoint(t, ek)[1:33], Y: ecPoint(t, ek)[33:], D: ecScalar(t, ek),
		}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !ek.PublicKey.Equal(localPublic(t, ei.Key)) {
			t.Fatal("imported EC public key differs")
		}
		exerciseSign(t, c, "imported-ec", "", &ek.PublicKey, azkeys.SignatureAlgorithmES256)
	})

	t.Run("versions, update, rotate, list", func(t *testing.T) {
		first, err := c.CreateKey(ctx, "rotating", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		pol, err := c.GetKeyRotationPolicy(ctx, "rotating", nil)
		if err != nil || len(pol.LifetimeActions) != 1 || *pol.LifetimeActions[0].Action.Type != azkeys.KeyRotationPolicyActionNotify {
			t.Fatalf("default rotation policy = %+v, %v", pol.KeyRotationPolicy, err)
		}
		_, err = c.UpdateKeyRotationPolicy(ctx, "rotating", azkeys.KeyRotationPolicy{
			Attributes: &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P90D")},
			LifetimeActions: []*azkeys.LifetimeAction{{Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionRotate)},
				Trigger: &azkeys.LifetimeActionTrigger{TimeAfterCreate: to.Ptr("P30D")}}},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		pol, err = c.GetKeyRotationPolicy(ctx, "rotating", nil)
		if err != nil || *pol.Attributes.ExpiryTime != "P90D" || *pol.LifetimeActions[0].Trigger.TimeAfterCreate != "P30D" || pol.Attributes.Created == nil {
			t.Fatalf("rotation policy = %+v, %v", pol.KeyRotationPolicy, err)
		}
		_, err = c.UpdateKeyRotationPolicy(ctx, "rotating", azkeys.KeyRotationPolicy{Attributes: &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P1D")}}, nil)
		wantStatus(t, "expiry below 28 days", err, http.StatusBadRequest, "BadParameter")

		rot, err := c.RotateKey(ctx, "rotating", nil)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Key.KID.Version() == first.Key.KID.Version() || len(rot.Key.N) != 256 || rot.Attributes.Expires == nil {
			t.Fatalf("rotated: version %s, %d-byte modulus, expires %v", rot.Key.KID.Version(), len(rot.Key.N), rot.Attributes.Expires)
		}
		old, err := c.GetKey(ctx, "rotating", first.Key.KID.Version(), nil)
		if err != nil || !bytes.Equal(old.Key.N, first.Key.N) {
			t.Fatalf("old version: %v", err)
		}
		latest, err := c.GetKey(ctx, "rotating", "", nil)
		if err != nil || latest.Key.KID.Version() != rot.Key.KID.Version() {
			t.Fatalf("latest = %v, %v", latest.Key.KID, err)
		}
		// Disable the old version and narrow its operations.
		up, err := c.UpdateKey(ctx, "rotating", first.Key.KID.Version(), azkeys.UpdateKeyParameters{
			KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)},
			KeyOps:        []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationVerify)},
			Tags:          map[string]*string{"state": to.Ptr("retired")},
		}, nil)
		if err != nil || *up.Attributes.Enabled || len(up.Key.KeyOps) != 1 || *up.Tags["state"] != "retired" {
			t.Fatalf("UpdateKey = %+v, %v", up, err)
		}
		_, err = c.Sign(ctx, "rotating", first.Key.KID.Version(), azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Value: make([]byte, 32)}, nil)
		wantStatus(t, "sign with retired version", err, http.StatusForbidden, "Forbidden")

		var versions []string
		for p := c.NewListKeyPropertiesVersionsPager("rotating", &azkeys.ListKeyPropertiesVersionsOptions{}); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, kp := range page.Value {
				versions = append(versions, kp.KID.Version())
			}
		}
		if len(versions) != 2 || !slices.Contains(versions, first.Key.KID.Version()) || !slices.Contains(versions, rot.Key.KID.Version()) {
			t.Fatalf("versions = %v", versions)
		}
		var names []string
		for p := c.NewListKeyPropertiesPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, kp := range page.Value {
				names = append(names, kp.KID.Name())
			}
		}
		for _, want := range []string{"rotating", "imported-rsa", "ec-p256", "rsa-rsa-hsm-3"} {
			if !slices.Contains(names, want) {
				t.Errorf("list misses %s: %v", want, names)
			}
		}
	})

	t.Run("delete, recover, backup, purge, restore", func(t *testing.T) {
		k, err := c.CreateKey(ctx, "cycled", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		pub := localPublic(t, k.Key)
		bk, err := c.BackupKey(ctx, "cycled", nil)
		if err != nil || len(bk.Value) < 64 {
			t.Fatalf("BackupKey: %v", err)
		}
		del, err := c.DeleteKey(ctx, "cycled", nil)
		if err != nil || del.RecoveryID == nil || del.ScheduledPurgeDate == nil {
			t.Fatalf("DeleteKey = %+v, %v", del, err)
		}
		_, err = c.GetKey(ctx, "cycled", "", nil)
		wantStatus(t, "get deleted key", err, http.StatusNotFound, "KeyNotFound")
		_, err = c.CreateKey(ctx, "cycled", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil)
		wantStatus(t, "create over deleted", err, http.StatusConflict, "Conflict")
		if _, err := c.GetDeletedKey(ctx, "cycled", nil); err != nil {
			t.Fatal(err)
		}
		found := false
		for p := c.NewListDeletedKeyPropertiesPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Value {
				found = found || d.KID.Name() == "cycled"
			}
		}
		if !found {
			t.Fatal("deleted key not listed")
		}
		if _, err := c.RecoverDeletedKey(ctx, "cycled", nil); err != nil {
			t.Fatal(err)
		}
		exerciseSign(t, c, "cycled", "", pub, azkeys.SignatureAlgorithmES256)

		if _, err := c.DeleteKey(ctx, "cycled", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PurgeDeletedKey(ctx, "cycled", nil); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetDeletedKey(ctx, "cycled", nil)
		wantStatus(t, "get purged", err, http.StatusNotFound, "KeyNotFound")
		rs, err := c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: bk.Value}, nil)
		if err != nil || rs.Key.KID.Version() != k.Key.KID.Version() {
			t.Fatalf("RestoreKey = %v, %v", rs.Key, err)
		}
		exerciseSign(t, c, "cycled", k.Key.KID.Version(), pub, azkeys.SignatureAlgorithmES256)
		_, err = c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: bk.Value}, nil)
		wantStatus(t, "restore over live key", err, http.StatusConflict, "Conflict")
		tampered := slices.Clone(bk.Value)
		tampered[len(tampered)-1] ^= 1
		_, err = c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: tampered}, nil)
		wantStatus(t, "restore tampered", err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("wire encoding", func(t *testing.T) {
		tok := adminToken(t, env)
		r := rawDo(t, env, "GET", kvURL(env, "/keys/rsa-rsa-2?api-version=7.5"), tok, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET key: %d %s", r.Status, r.Body)
		}
		var b struct {
			Key        map[string]any `json:"key"`
			Attributes map[string]any `json:"attributes"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := b.Key[f]; ok {
				t.Errorf("served key has private member %q", f)
			}
		}
		for _, f := range []string{"n", "e"} {
			s, _ := b.Key[f].(string)
			if s == "" || strings.ContainsAny(s, "=+/") {
				t.Errorf("member %s = %q, want unpadded base64url", f, s)
			}
		}
		if b.Key["e"] != "AQAB" || b.Attributes["recoveryLevel"] != "Recoverable+Purgeable" || b.Attributes["exportable"] != false {
			t.Errorf("key %v attributes %v", b.Key, b.Attributes)
		}
	})
}

// TestSDKKeysLocalProfile: keys under the Local profile's vault names, and
// on the bare host (localhost serves the default vault), where /keys must
// be routed to the data plane by its path.
func TestSDKKeysLocalProfile(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Cloud: cloud.Local})
	c := keysClient(t, env, env.Instance.DefaultVault, env.Admin.ClientID, env.Admin.ClientSecret)
	ctx := context.Background()
	k, err := c.CreateKey(ctx, "local", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC), Curve: to.Ptr(azkeys.CurveNameP384)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	exerciseSign(t, c, "local", "", localPublic(t, k.Key), azkeys.SignatureAlgorithmES384)
	bare := "https://localhost:" + env.Port() + "/keys/local?api-version=7.5"
	if r := rawDo(t, env, "GET", bare, adminToken(t, env), nil, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "/keys/local/"+k.Key.KID.Version()) {
		t.Fatalf("GET %s = %d %s", bare, r.Status, r.Body)
	}
	if _, err := c.DeleteKey(ctx, "local", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeDeletedKey(ctx, "local", nil); err != nil {
		t.Fatal(err)
	}
}

// ecPoint is k's public point, uncompressed (0x04 || X || Y).
func ecPoint(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ecScalar is k's private scalar, fixed length.
func ecScalar(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package e2e

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/testenv"
)

// TestJSKeys: @azure/keyvault-keys (KeyClient and CryptographyClient) with
// no client options: key lifecycle, and every RSA algorithm crossing the
// SDK's local cryptography and Coffer's in both directions.
func TestJSKeys(t *testing.T) {
	requireJS(t)
	for _, profile := range jsProfiles {
		t.Run(profile.Name, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{Cloud: profile})
			h := newJSHarness(t, env)
			appID, secret := createServicePrincipal(t, env, "js-keys")
			sp, err := env.Store.GetPrincipalByAppID(context.Background(), appID)
			if err != nil {
				t.Fatal(err)
			}
			const vaultName, name = "js-keys-vault", "JsKey"
			v := jsCreateVault(t, env, vaultName, sp.ObjectID, nil)
			if err := env.Store.UpdateVault(context.Background(), v.Name, func(v *model.Vault) error {
				v.AccessPolicies[0].Permissions.Keys = []string{"all"}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{
				"AZURE_TENANT_ID": env.Instance.TenantID, "AZURE_CLIENT_ID": appID, "AZURE_CLIENT_SECRET": secret,
				"VAULT_URL": env.VaultURL(vaultName), "KEY_NAME": name,
			}
			if env.Profile.LoginHost == "" {
				vars["AZURE_AUTHORITY_HOST"] = env.AuthorityHost()
				vars["AZURE_DISABLE_INSTANCE_DISCOVERY"] = "true"
			}
			var got struct {
				OK  bool `json:"ok"`
				RSA struct {
					ID   string            `json:"id"`
					Kty  string            `json:"kty"`
					N    int               `json:"n"`
					Ops  []string          `json:"ops"`
					Tags map[string]string `json:"tags"`
				} `json:"rsa"`
				FetchedID string `json:"fetchedId"`
				EC        struct {
					ID, Kty, Crv string
				} `json:"ec"`
				Encryption map[string]struct {
					RoundTrip       bool   `json:"roundTrip"`
					WrapRoundTrip   bool   `json:"wrapRoundTrip"`
					RemoteRoundTrip bool   `json:"remoteRoundTrip"`
					KeyID           string `json:"keyID"`
				} `json:"encryption"`
				Signatures map[string]struct {
					Verified      bool `json:"verified"`
					Rejected      bool `json:"rejected"`
					LocalVerified bool `json:"localVerified"`
					LocalRejected bool `json:"localRejected"`
				} `json:"signatures"`
				ECVerified bool    `json:"ecVerified"`
				WrongAlg   jsError `json:"wrongAlg"`
				Policy     struct {
					ExpiresIn string `json:"expiresIn"`
					Actions   []struct {
						Action          string `json:"action"`
						TimeAfterCreate string `json:"timeAfterCreate"`
					} `json:"actions"`
				} `json:"policy"`
				RotatedVersion string   `json:"rotatedVersion"`
				Versions       []string `json:"versions"`
				GetDeleted     jsError  `json:"getDeleted"`
				RestoredID     string   `json:"restoredId"`
				Missing        jsError  `json:"missing"`
				jsError
			}
			if !h.run(t, "keys.mjs", vars, &got) || !got.OK {
				t.Fatalf("keys.mjs failed: %v", got.jsError)
			}
			idRE := regexp.MustCompile(`^https://` + regexp.QuoteMeta(vaultHost(env, vaultName)) + `/keys/` + name + `/[0-9a-f]{32}$`)
			if !idRE.MatchString(got.RSA.ID) || got.FetchedID != got.RSA.ID || got.RSA.Kty != "RSA" || got.RSA.N != 256 || got.RSA.Tags["env"] != "test" || len(got.RSA.Ops) != 6 {
				t.Errorf("rsa = %+v, fetched %s", got.RSA, got.FetchedID)
			}
			if got.EC.Kty != "EC" || got.EC.Crv != "P-256" {
				t.Errorf("ec = %+v", got.EC)
			}
			for _, alg := range []string{"RSA-OAEP", "RSA-OAEP-256", "RSA1_5"} {
				e, ok := got.Encryption[alg]
				if !ok || !e.RoundTrip || !e.WrapRoundTrip || !e.RemoteRoundTrip || e.KeyID != got.RSA.ID {
					t.Errorf("%s: %+v", alg, e)
				}
			}
			for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
				s, ok := got.Signatures[alg]
				local := alg[0] == 'P' || (s.LocalVerified && s.LocalRejected)
				if !ok || !s.Verified || !s.Rejected || !local {
					t.Errorf("%s: %+v", alg, s)
				}
			}
			if !got.ECVerified || !got.WrongAlg.is(400, "BadParameter") {
				t.Errorf("EC: verified %v, RS256 on EC = %v", got.ECVerified, got.WrongAlg)
			}
			if got.Policy.ExpiresIn != "P90D" || len(got.Policy.Actions) != 1 || got.Policy.Actions[0].Action != "Rotate" || got.Policy.Actions[0].TimeAfterCreate != "P30D" {
				t.Errorf("rotation policy = %+v", got.Policy)
			}
			if len(got.Versions) != 2 || !slices.Contains(got.Versions, got.RotatedVersion) {
				t.Errorf("versions %v, rotated %s", got.Versions, got.RotatedVersion)
			}
			if !got.GetDeleted.is(404, "KeyNotFound") || !got.Missing.is(404, "KeyNotFound") || got.RestoredID != got.EC.ID {
				t.Errorf("deleted %v, missing %v, restored %s (want %s)", got.GetDeleted, got.Missing, got.RestoredID, got.EC.ID)
			}
		})
	}
}

// appservice.mjs: an App Service app reading one secret with its managed
// identity.
//
//   IDENTITY_ENDPOINT, IDENTITY_HEADER  the App Service managed-identity
//                                       protocol, read by ManagedIdentityCredential itself
//   VAULT_URL                           e.g. https://myvault.vault.azure.net/
//   SECRET_NAME                         the secret to read
//   TOKEN_SCOPE (optional)              also get a token for this scope and
//                                       report its expiry
//
// Prints {"ok":true,"value":...,"id":...,"name":...,"version":...,
// "vaultUrl":...,"tokenExpiresOn":<ms since epoch, with TOKEN_SCOPE>}. A caller without
// permission gets {"ok":false,"statusCode":403,"code":"Forbidden",...}.
import { ManagedIdentityCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { env, run } from "./lib.mjs";

await run(async () => {
  const credential = new ManagedIdentityCredential();
  const client = new SecretClient(env("VAULT_URL"), credential);
  const secret = await client.getSecret(env("SECRET_NAME"));
  // msal-node derives a managed-identity token's expiry from expires_on
  // only; report it so the test can check the token is not born stale.
  let tokenExpiresOn = null;
  if (process.env.TOKEN_SCOPE) {
    tokenExpiresOn = (await credential.getToken(process.env.TOKEN_SCOPE)).expiresOnTimestamp;
  }
  return {
    value: secret.value,
    id: secret.properties.id,
    name: secret.name,
    version: secret.properties.version,
    vaultUrl: secret.properties.vaultUrl,
    tokenExpiresOn,
  };
});

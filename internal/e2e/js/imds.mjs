// imds.mjs: a program on a VM reading one secret with its managed identity
// through the default source, the instance metadata service: with none of
// IDENTITY_ENDPOINT, MSI_ENDPOINT, ... set, @azure/identity asks
// http://169.254.169.254 (through HTTPS_PROXY/HTTP_PROXY when set, or
// AZURE_POD_IDENTITY_AUTHORITY_HOST when that is set).
//
//   CREDENTIAL    "managed" (the default): new ManagedIdentityCredential();
//                 "default": new DefaultAzureCredential(), which first
//                 probes IMDS (1 s timeout) and uses managed identity only
//                 if it answers
//   VAULT_URL     e.g. https://myvault.vault.azure.net/
//   SECRET_NAME   the secret to read
//   TOKEN_SCOPE   (optional) also get a token for this scope and report
//                 its expiry
//
// Prints {"ok":true,"value","id","name","version","vaultUrl",
// "tokenExpiresOn" (ms since epoch, with TOKEN_SCOPE),"imdsLog" (the
// identity library's log lines about IMDS),"requestUrls" (every request the
// SDKs sent, as logged by core-rest-pipeline),"connections" (see
// netlog.mjs)}; on failure lib.mjs's error line, with the others on stderr.
import { connections, sdkLog } from "./netlog.mjs";
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { env, run } from "./lib.mjs";

// The identity library's log lines about IMDS (the probe's outcome), and
// the URLs of the requests the SDKs sent (from the pipeline's log).
const imdsLog = () => sdkLog(/^azure:identity:.*IMDS/i);
const requestUrls = () =>
  sdkLog(/^azure:[\w-]+:info Request: /).map((l) => /"url": "([^"]*)"/.exec(l)?.[1] ?? l);

process.on("exit", (code) => {
  if (code !== 0) {
    process.stderr.write(JSON.stringify({ imdsLog: imdsLog(), requestUrls: requestUrls(), connections }) + "\n");
  }
});

await run(async () => {
  const kind = process.env.CREDENTIAL || "managed";
  let credential;
  if (kind === "managed") {
    credential = new ManagedIdentityCredential();
  } else if (kind === "default") {
    credential = new DefaultAzureCredential();
  } else {
    throw new Error(`CREDENTIAL=${kind}: want managed or default`);
  }
  const client = new SecretClient(env("VAULT_URL"), credential);
  const secret = await client.getSecret(env("SECRET_NAME"));
  let tokenExpiresOn = null;
  if (process.env.TOKEN_SCOPE) {
    tokenExpiresOn = (await credential.getToken(process.env.TOKEN_SCOPE)).expiresOnTimestamp;
  }
  return {
    credential: kind,
    value: secret.value,
    id: secret.properties.id,
    name: secret.name,
    version: secret.properties.version,
    vaultUrl: secret.properties.vaultUrl,
    tokenExpiresOn,
    imdsLog: imdsLog(),
    requestUrls: requestUrls(),
    connections,
  };
});

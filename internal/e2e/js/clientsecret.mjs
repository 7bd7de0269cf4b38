// clientsecret.mjs: a service principal managing secrets with
// ClientSecretCredential: set (two versions), get (latest, by version,
// missing), list versions, list with paging (nextLink), delete (poller),
// recover (poller), purge.
//
//   AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET   the principal
//   AZURE_AUTHORITY_HOST (optional)   e.g. https://localhost:8443/ for the local
//                                     profile; default login.microsoftonline.com
//   AZURE_DISABLE_INSTANCE_DISCOVERY  "true" for a non-Microsoft authority host
//                                     (MSAL would validate it against the public cloud)
//   VAULT_URL                         e.g. https://myvault.vault.azure.net/
//   SECRET_NAME                       the secret the lifecycle runs on
//   PAGE_SECRETS                      how many extra secrets to create for paging
//
// Prints {"ok":true, ...summary} (see the return value below).
import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { env, expectError, run } from "./lib.mjs";

await run(async () => {
  const credential = new ClientSecretCredential(
    env("AZURE_TENANT_ID"),
    env("AZURE_CLIENT_ID"),
    env("AZURE_CLIENT_SECRET"),
    {
      authorityHost: process.env.AZURE_AUTHORITY_HOST || undefined,
      disableInstanceDiscovery: process.env.AZURE_DISABLE_INSTANCE_DISCOVERY === "true",
    },
  );
  const client = new SecretClient(env("VAULT_URL"), credential);
  const name = env("SECRET_NAME");
  const pageSecrets = Number(env("PAGE_SECRETS"));
  // Pollers wait 2 s between polls by default; the test server answers at once.
  const pollOptions = { intervalInMs: 50 };

  // Set: the first request carries no token (the challenge dance).
  const v1 = await client.setSecret(name, "value-1", { contentType: "text/plain", tags: { env: "test" } });
  const v2 = await client.setSecret(name, "value-2");

  const latest = await client.getSecret(name);
  const first = await client.getSecret(name, { version: v1.properties.version });
  const missing = await expectError(() => client.getSecret(name + "-missing"));

  const versions = [];
  for await (const p of client.listPropertiesOfSecretVersions(name)) {
    versions.push(p.version);
  }

  // Paging: enough secrets for more than one page; byPage follows nextLink.
  const pageNames = Array.from({ length: pageSecrets }, (_, i) => `${name}-page-${String(i).padStart(2, "0")}`);
  for (const n of pageNames) {
    await client.setSecret(n, "x");
  }
  const pageSizes = [];
  const listed = [];
  for await (const page of client.listPropertiesOfSecrets().byPage()) {
    pageSizes.push(page.length);
    for (const p of page) {
      listed.push({ name: p.name, id: p.id, hasValue: "value" in p });
    }
  }

  // Delete one page secret and recover it, both with pollers.
  const recName = pageNames[0];
  await (await client.beginDeleteSecret(recName, pollOptions)).pollUntilDone();
  const recovered = await (await client.beginRecoverDeletedSecret(recName, pollOptions)).pollUntilDone();
  const afterRecover = await client.getSecret(recName);

  // Delete the main secret (poller until GET /deletedsecrets/{name} is 200), then purge.
  const deleted = await (await client.beginDeleteSecret(name, pollOptions)).pollUntilDone();
  const getDeleted = await expectError(() => client.getSecret(name));
  const setDeleted = await expectError(() => client.setSecret(name, "again"));
  const deletedNames = [];
  for await (const d of client.listDeletedSecrets()) {
    deletedNames.push(d.name);
  }
  const gotDeleted = await client.getDeletedSecret(name);
  await client.purgeDeletedSecret(name);
  const getPurged = await expectError(() => client.getDeletedSecret(name));
  const reSet = await client.setSecret(name, "value-3");

  return {
    set: [v1.properties.id, v2.properties.id],
    setValue: v1.value,
    setVersion: v1.properties.version,
    latest: { id: latest.properties.id, value: latest.value },
    first: { id: first.properties.id, value: first.value, contentType: first.properties.contentType, tags: first.properties.tags },
    missing,
    versions,
    pageSizes,
    listed,
    recovered: { name: recovered.name, id: recovered.id ?? recovered.properties?.id ?? null, value: afterRecover.value },
    deleted: {
      name: deleted.name,
      recoveryId: deleted.properties.recoveryId ?? null,
      deletedOn: deleted.properties.deletedOn?.toISOString() ?? null,
      scheduledPurgeDate: deleted.properties.scheduledPurgeDate?.toISOString() ?? null,
      hasValue: deleted.value !== undefined,
    },
    getDeleted,
    setDeleted,
    deletedNames,
    gotDeletedRecoveryId: gotDeleted.properties.recoveryId ?? null,
    getPurged,
    reSet: { id: reSet.properties.id, value: reSet.value },
  };
});

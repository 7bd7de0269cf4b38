// certs.mjs: a service principal using certificates with
// @azure/keyvault-certificates: the begin-create poller to completion (PEM
// and PKCS#12 content types), get, policy get/update, versions, import of
// a PKCS#12 file (with a password) and of a PEM bundle, delete (poller),
// purge, contacts; and @azure/keyvault-secrets to read each certificate's
// secret, whose PEM form is parsed here with node:crypto (the PKCS#12 form
// is returned for the Go test to parse).
//
//   AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET   the principal
//   AZURE_AUTHORITY_HOST, AZURE_DISABLE_INSTANCE_DISCOVERY  as clientsecret.mjs
//   VAULT_URL          e.g. https://myvault.vault.azure.net/
//   CERT_NAME          prefix of the certificate names
//   PFX_B64, PFX_PWD   a PKCS#12 file to import, and its password
//   PEM_BUNDLE         a PEM certificate with its private key to import
//
// Prints {"ok":true, ...summary} (see the return value below).
import { X509Certificate, createPrivateKey } from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import { CertificateClient } from "@azure/keyvault-certificates";
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
  const client = new CertificateClient(env("VAULT_URL"), credential);
  const secrets = new SecretClient(env("VAULT_URL"), credential);
  const name = env("CERT_NAME");
  const pollOptions = { intervalInMs: 50 };

  // PEM: the secret parses with node's own crypto, and its key matches.
  const pemPoller = await client.beginCreateCertificate(
    name + "-pem",
    {
      issuerName: "Self",
      subject: "CN=js.example.com",
      subjectAlternativeNames: { dnsNames: ["js.example.com"] },
      contentType: "application/x-pem-file",
      keyType: "EC",
      keyCurveName: "P-256",
      validityInMonths: 6,
    },
    pollOptions,
  );
  const pem = await pemPoller.pollUntilDone();
  const pemSecret = await secrets.getSecret(name + "-pem");
  const x509 = new X509Certificate(pemSecret.value);
  const key = createPrivateKey(pemSecret.value);
  const fromCer = new X509Certificate(Buffer.from(pem.cer));

  // PKCS#12 with the SDK's default policy.
  const pfxPoller = await client.beginCreateCertificate(name + "-pfx", { issuerName: "Self", subject: "cn=MyCert" }, pollOptions);
  const pfx = await pfxPoller.pollUntilDone();
  const pfxSecret = await secrets.getSecret(name + "-pfx");

  const policy = await client.getCertificatePolicy(name + "-pem");
  // updateCertificatePolicy's own result is empty in this SDK version
  // (it returns toPublicPolicy(undefined)), so read the policy back.
  await client.updateCertificatePolicy(name + "-pem", { issuerName: "Self", validityInMonths: 24 });
  const updated = await client.getCertificatePolicy(name + "-pem");
  const second = await (await client.beginCreateCertificate(name + "-pem", updated, pollOptions)).pollUntilDone();
  const versions = [];
  for await (const p of client.listPropertiesOfCertificateVersions(name + "-pem")) {
    versions.push(p.version);
  }

  const importedPfx = await client.importCertificate(name + "-imported", Buffer.from(env("PFX_B64"), "base64"), {
    password: env("PFX_PWD"),
  });
  const importedPem = await client.importCertificate(name + "-imported-pem", Buffer.from(env("PEM_BUNDLE")), {
    policy: { contentType: "application/x-pem-file", issuerName: "Unknown", subject: "CN=ignored" },
  });
  const listed = [];
  for await (const p of client.listPropertiesOfCertificates()) {
    listed.push(p.name);
  }

  await (await client.beginDeleteCertificate(name + "-pfx", pollOptions)).pollUntilDone();
  const getDeleted = await expectError(() => client.getCertificate(name + "-pfx"));
  const deleted = await client.getDeletedCertificate(name + "-pfx");
  await client.purgeDeletedCertificate(name + "-pfx");
  const contacts = await expectError(() => client.getContacts());
  const missing = await expectError(() => client.getCertificate(name + "-missing"));

  return {
    pem: {
      id: pem.properties.id,
      subject: x509.subject,
      sameAsCer: x509.fingerprint256 === fromCer.fingerprint256,
      keyMatches: x509.checkPrivateKey(key),
      keyType: key.asymmetricKeyType,
      contentType: pemSecret.properties.contentType,
      managed: pemSecret.properties.managed,
      kid: pemSecret.properties.certificateKeyId,
      certKid: pem.keyId,
    },
    pfx: { cer: Buffer.from(pfx.cer).toString("base64"), secret: pfxSecret.value, contentType: pfxSecret.properties.contentType },
    policy: { subject: policy.subject, dnsNames: policy.subjectAlternativeNames?.dnsNames, months: policy.validityInMonths, issuer: policy.issuerName },
    updatedMonths: updated.validityInMonths,
    secondVersion: second.properties.version,
    versions,
    importedPfx: { cer: Buffer.from(importedPfx.cer).toString("base64"), issuer: importedPfx.policy?.issuerName },
    importedPem: { cer: Buffer.from(importedPem.cer).toString("base64"), contentType: importedPem.policy?.contentType },
    listed,
    getDeleted,
    recoveryId: deleted.recoveryId,
    contacts,
    missing,
  };
});

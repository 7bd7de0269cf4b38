// keys.mjs: a service principal using keys with @azure/keyvault-keys:
// KeyClient create (RSA, EC), get, rotation policy, rotate, versions,
// backup, delete (poller), purge, restore; CryptographyClient with every
// RSA algorithm, crossing the SDK's local cryptography (encrypt, wrapKey,
// verify with the public key) and Coffer's (decrypt, unwrapKey, sign).
//
//   AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET   the principal
//   AZURE_AUTHORITY_HOST, AZURE_DISABLE_INSTANCE_DISCOVERY  as clientsecret.mjs
//   VAULT_URL                         e.g. https://myvault.vault.azure.net/
//   KEY_NAME                          the RSA key (NAME-ec is the EC key)
//
// Prints {"ok":true, ...summary} (see the return value below).
import { createHash } from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
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
  const client = new KeyClient(env("VAULT_URL"), credential);
  const name = env("KEY_NAME");
  const pollOptions = { intervalInMs: 50 };

  const rsa = await client.createRsaKey(name, { keySize: 2048, tags: { env: "test" } });
  const ec = await client.createEcKey(name + "-ec", { curve: "P-256" });
  const fetched = await client.getKey(name);

  // With the key material the client encrypts, wraps and verifies locally
  // (RSA1_5, RSA-OAEP, RS*) and calls Coffer for the rest.
  const crypto = new CryptographyClient(rsa, credential);
  const remote = new CryptographyClient(rsa.id, credential);
  const plaintext = Buffer.from("a data encryption key, 32 bytes!");
  const encryption = {};
  for (const algorithm of ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"]) {
    const enc = await crypto.encrypt({ algorithm, plaintext });
    const dec = await crypto.decrypt({ algorithm, ciphertext: enc.result });
    const wrapped = await crypto.wrapKey(algorithm, plaintext);
    const unwrapped = await remote.unwrapKey(algorithm, wrapped.result);
    const remoteEnc = await remote.encrypt({ algorithm, plaintext });
    const remoteDec = await crypto.decrypt({ algorithm, ciphertext: remoteEnc.result });
    encryption[algorithm] = {
      roundTrip: Buffer.compare(Buffer.from(dec.result), plaintext) === 0,
      wrapRoundTrip: Buffer.compare(Buffer.from(unwrapped.result), plaintext) === 0,
      remoteRoundTrip: Buffer.compare(Buffer.from(remoteDec.result), plaintext) === 0,
      keyID: dec.keyID,
    };
  }
  const data = Buffer.from("sign me");
  const signatures = {};
  for (const algorithm of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]) {
    const sig = await crypto.signData(algorithm, data);
    const tampered = Buffer.from(sig.result);
    tampered[0] ^= 0x80;
    const hash = { 2: "sha256", 3: "sha384", 5: "sha512" }[algorithm[2]];
    const digest = createHash(hash).update(data).digest();
    // verify (a digest) always runs in the vault; verifyData runs locally.
    // The SDK's local verifyData checks PS* with PKCS#1 v1.5 padding
    // (node's default), so it cannot accept any PSS signature, Azure's
    // included: only RS* is checked locally.
    const remoteOK = await crypto.verify(algorithm, digest, sig.result);
    const remoteBad = await crypto.verify(algorithm, digest, tampered);
    const entry = { verified: remoteOK.result, rejected: !remoteBad.result };
    if (algorithm.startsWith("RS")) {
      entry.localVerified = (await crypto.verifyData(algorithm, data, sig.result)).result;
      entry.localRejected = !(await crypto.verifyData(algorithm, data, tampered)).result;
    }
    signatures[algorithm] = entry;
  }
  const ecCrypto = new CryptographyClient(ec, credential);
  const digest = createHash("sha256").update(data).digest();
  const ecSig = await ecCrypto.sign("ES256", digest);
  const ecVerified = await ecCrypto.verify("ES256", digest, ecSig.result);
  const wrongAlg = await expectError(() => ecCrypto.sign("RS256", digest));

  await client.updateKeyRotationPolicy(name, {
    expiresIn: "P90D",
    lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P30D" }],
  });
  const policy = await client.getKeyRotationPolicy(name);
  const rotated = await client.rotateKey(name);
  const versions = [];
  for await (const p of client.listPropertiesOfKeyVersions(name)) {
    versions.push(p.version);
  }

  const backup = await client.backupKey(name + "-ec");
  await (await client.beginDeleteKey(name + "-ec", pollOptions)).pollUntilDone();
  const getDeleted = await expectError(() => client.getKey(name + "-ec"));
  await client.purgeDeletedKey(name + "-ec");
  const restored = await client.restoreKeyBackup(backup);
  const missing = await expectError(() => client.getKey(name + "-missing"));

  return {
    rsa: { id: rsa.id, kty: rsa.keyType, n: rsa.key.n.length, ops: rsa.keyOperations, tags: rsa.properties.tags },
    fetchedId: fetched.id,
    ec: { id: ec.id, kty: ec.keyType, crv: ec.key.crv },
    encryption,
    signatures,
    ecVerified: ecVerified.result,
    wrongAlg,
    policy: { expiresIn: policy.expiresIn, actions: policy.lifetimeActions },
    rotatedVersion: rotated.properties.version,
    versions,
    getDeleted,
    restoredId: restored.id,
    missing,
  };
});

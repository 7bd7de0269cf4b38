// Helpers shared by the e2e scripts. Each script reads its configuration
// from environment variables only and prints exactly one JSON line on
// stdout: {"ok":true,...} on success, or {"ok":false,"statusCode":...,
// "code":...,"name":...,"message":...} (exit status 1) on failure.
//
// The scripts use @azure/identity and @azure/keyvault-secrets unmodified and
// with default client options. How they reach the test server is decided by
// the environment the Go test sets (see js_test.go): HTTPS_PROXY points at a
// CONNECT proxy that takes every name to Coffer, NODE_EXTRA_CA_CERTS trusts
// Coffer's CA.

/** env returns a required environment variable or throws. */
export function env(name) {
  const v = process.env[name];
  if (v === undefined || v === "") {
    throw new Error(`environment variable ${name} is required`);
  }
  return v;
}

/** errorInfo reduces an SDK error to the fields the Go tests assert. */
export function errorInfo(err) {
  return {
    statusCode: err?.statusCode ?? null,
    code: err?.code ?? null,
    name: err?.name ?? null,
    message: String(err?.message ?? err).slice(0, 2000),
  };
}

/** expectError runs fn and returns errorInfo of what it throws; if fn
 * succeeds it returns {statusCode: null, code: "NoError"}. */
export async function expectError(fn) {
  try {
    await fn();
  } catch (err) {
    return errorInfo(err);
  }
  return { statusCode: null, code: "NoError", name: null, message: "the call succeeded" };
}

/** run prints main's result (or the error) as one JSON line and exits. */
export async function run(main) {
  try {
    const result = await main();
    process.stdout.write(JSON.stringify({ ok: true, ...result }) + "\n");
    process.exit(0);
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, ...errorInfo(err) }) + "\n");
    if (err?.stack) process.stderr.write(err.stack + "\n");
    process.exit(1);
  }
}

// Package pki is Coffer's local certificate authority and the TLS certificate
// source of its HTTPS listener.
//
// Coffer speaks HTTPS only, because the clients it imitates Azure for (the
// Azure SDKs, az, browsers) refuse anything else. It therefore owns a CA: a
// self-signed ECDSA P-256 root that operators make clients trust once, through
// SSL_CERT_FILE, NODE_EXTRA_CA_CERTS or the system or browser trust store.
// Every server certificate is a leaf signed by that root.
//
// # One listener, many names
//
// A single TLS listener answers for every host name Coffer serves: localhost,
// 127.0.0.1 and ::1, per-vault names such as myvault.vault.localhost and, in
// cloud profiles, the real Azure names (login.microsoftonline.com,
// management.azure.com, myvault.vault.azure.net) pinned to Coffer by a hosts
// file or proxy. The set of vault names changes at run time, so no certificate
// fixed at start-up can cover it. Instead an [Issuer], plugged into
// tls.Config.GetCertificate, issues a leaf on demand for the name the client
// sent in SNI, after asking an allow function whether Coffer serves that name.
// Connections without SNI (clients never send it for IP literals) and names
// that are not allowed get a default certificate for a fixed set of names. A
// disallowed name therefore fails verification on the client instead of
// receiving a certificate that vouches for it.
//
// # Wildcards for vault names
//
// A name of three or more labels is covered by a wildcard for its parent:
// the first request for a.vault.azure.net issues a certificate for
// *.vault.azure.net (plus a.vault.azure.net itself, for clients that refuse a
// particular wildcard), and every other vault under vault.azure.net reuses it.
// This keeps issuance, and the cache, proportional to the number of DNS
// suffixes rather than the number of vaults. Two-label names (localhost-like
// names, example.com) get exact certificates, so no wildcard ever sits
// directly on a top-level domain, which browsers reject.
//
// # Nothing but the CA is persisted
//
// Clients trust the root, not any leaf, so leaves are disposable: they live
// in memory, are re-issued after every start, and are renewed when they come
// within 30 days of expiry. Only the CA certificate and key need to be stored
// (see [CA.MarshalPEM] and [ParseCA]); losing them means clients must be told
// to trust a new root. Leaf validity never exceeds [MaxLeafValidity], the
// limit browsers enforce, and the served chain holds the leaf alone, since
// clients already hold the root.
//
// The root carries no name constraints because cloud profiles must issue for
// real Azure host names. Its key is as sensitive as any secret in the vault:
// whoever holds it can impersonate any site to clients that trust the root.
package pki

// Package e2e holds end-to-end tests that drive a real Coffer server with
// unmodified Azure SDK clients and raw HTTP. It has no production code.
package e2e

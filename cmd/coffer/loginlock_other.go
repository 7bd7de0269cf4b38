//go:build !unix

package main

// lockLogins does not lock where flock(2) is missing: commands signed in
// as a user that run at the same moment may then spend each other's
// refresh token, and one of them fails.
func lockLogins() (func(), error) { return func() {}, nil }

package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/model"
)

// NewClientSecret returns a fresh random client secret (40 characters, like
// Entra's) and the credential record that stores only its hash.
func NewClientSecret(now time.Time) (string, model.Credential) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	s = s[:3] + "8Q~" + s[6:]
	// A leading '-' makes command lines read the secret as a flag
	// (`az login -p -xyz…` fails in az's argument parser), so the first
	// character is always alphanumeric, as Entra's secrets are.
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	s = string(alnum[int(b[0])%len(alnum)]) + s[1:]
	sum := sha256.Sum256([]byte(s))
	return s, model.Credential{KeyID: uuid.NewString(), Hash: sum[:], Hint: s[:3], Created: now}
}

// CheckClientSecret reports whether secret matches one of the credentials
// that has not expired. Every credential is compared, in constant time, so
// timing reveals neither the match nor its position.
func CheckClientSecret(creds []model.Credential, secret string, now time.Time) bool {
	sum := sha256.Sum256([]byte(secret))
	ok := 0
	for _, c := range creds {
		match := subtle.ConstantTimeCompare(c.Hash, sum[:])
		if !c.Expires.IsZero() && now.After(c.Expires) {
			match = 0
		}
		ok |= match
	}
	return ok == 1
}

// NewObjectID returns a fresh GUID for an object or app id.
func NewObjectID() string { return uuid.NewString() }

// IsGUID reports whether s is a canonical GUID.
func IsGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36 && strings.Count(s, "-") == 4
}

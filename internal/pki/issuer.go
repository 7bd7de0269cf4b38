package pki

import (
	"context"
	"crypto/tls"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// leafValidity is the validity of the certificates an Issuer serves.
	// Leaves are cheap to re-issue, so it is well below MaxLeafValidity.
	leafValidity = 90 * 24 * time.Hour
	// renewBefore is how close to expiry a cached certificate is replaced.
	renewBefore = 30 * 24 * time.Hour
	// maxEntries bounds the cache, so that clients sending many allowed
	// names cannot grow it without limit.
	maxEntries = 1024
	// defaultKey is the cache key of the default certificate. It contains a
	// space, which no valid host name does.
	defaultKey = " default"
)

// Issuer is a certificate source for tls.Config.GetCertificate: it issues
// leaf certificates from a CA on demand, by the host name a client sends in
// SNI, and caches them in memory. It is safe for concurrent use.
type Issuer struct {
	ca           *CA
	allow        func(host string) bool
	defaultNames []string
	validity     time.Duration
	renewBefore  time.Duration
	maxEntries   int
	now          func() time.Time

	mu      sync.Mutex
	entries map[string]*entry // by cache key; see group

	issued atomic.Int64 // certificates issued, for tests
}

// entry is a cached certificate, or one being issued. The goroutine that
// creates an entry issues the certificate; others wait for done, so that
// concurrent handshakes for one name issue one certificate.
type entry struct {
	done chan struct{} // closed once cert or err is set
	cert *tls.Certificate
	err  error
}

// NewIssuer returns an Issuer that signs with ca.
//
// allow reports whether Coffer serves host, a lower-case host name without a
// trailing dot taken from SNI; it must be safe for concurrent use. A nil
// allow admits no names. Handshakes without SNI, or whose name is not
// allowed, get a default certificate covering defaultNames (DNS names,
// wildcards or IP literals); with no defaultNames it covers localhost,
// 127.0.0.1 and ::1. Names the default certificate covers are always served
// it, without consulting allow.
func NewIssuer(ca *CA, allow func(host string) bool, defaultNames []string) *Issuer {
	if len(defaultNames) == 0 {
		defaultNames = defaultNamesFallback()
	}
	return &Issuer{
		ca:           ca,
		allow:        allow,
		defaultNames: slices.Clone(defaultNames),
		validity:     leafValidity,
		renewBefore:  renewBefore,
		maxEntries:   maxEntries,
		now:          time.Now,
		entries:      make(map[string]*entry),
	}
}

// defaultNamesFallback is what an Issuer covers by default when given no
// names: the loopback names every local client can use.
func defaultNamesFallback() []string { return []string{"localhost", "127.0.0.1", "::1"} }

// GetCertificate returns the certificate for a handshake; it has the
// signature of tls.Config.GetCertificate. For a name allowed but not covered
// by the default certificate it issues (once, then from cache) a certificate
// for the name, or for a wildcard of its parent when the name has three or
// more labels. Otherwise it returns the default certificate, so a client
// that asked for a disallowed name fails verification. Certificates are
// renewed when they come within 30 days of expiry.
func (i *Issuer) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	ctx := hello.Context()
	if ctx == nil { // a ClientHelloInfo not made by crypto/tls
		ctx = context.Background()
	}
	def, err := i.get(ctx, defaultKey, i.defaultNames)
	if err != nil {
		return nil, err
	}
	name := canonical(hello.ServerName)
	if name == "" || def.Leaf.VerifyHostname(name) == nil || i.allow == nil {
		return def, nil
	}
	// Validate before asking allow, so that allow sees only host names.
	key, names, err := group(name)
	if err != nil || !i.allow(name) {
		return def, nil
	}
	return i.get(ctx, key, names)
}

// get returns the fresh cached certificate for key, issuing one for names if
// there is none, it is about to expire, or its issuance failed.
func (i *Issuer) get(ctx context.Context, key string, names []string) (*tls.Certificate, error) {
	for {
		i.mu.Lock()
		e, ok := i.entries[key]
		if !ok {
			e = &entry{done: make(chan struct{})}
			i.evictLocked()
			i.entries[key] = e
			i.mu.Unlock()

			i.issued.Add(1)
			e.cert, e.err = i.ca.issue(names, i.validity, i.now())
			if e.err != nil {
				i.remove(key, e) // let the next handshake retry
			}
			close(e.done)
			return e.cert, e.err
		}
		i.mu.Unlock()

		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil {
			return nil, e.err
		}
		if i.now().Before(e.cert.Leaf.NotAfter.Add(-i.renewBefore)) {
			return e.cert, nil
		}
		i.remove(key, e) // stale: the next iteration renews it
	}
}

// remove deletes e from the cache unless another entry has replaced it.
func (i *Issuer) remove(key string, e *entry) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.entries[key] == e {
		delete(i.entries, key)
	}
}

// evictLocked makes room for one entry, dropping arbitrary ones other than
// the default certificate. Evicting an entry still being issued is safe: its
// waiters hold the entry itself. The caller holds i.mu.
func (i *Issuer) evictLocked() {
	for k := range i.entries {
		if len(i.entries) < i.maxEntries {
			return
		}
		if k != defaultKey {
			delete(i.entries, k)
		}
	}
}

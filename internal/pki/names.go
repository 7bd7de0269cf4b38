package pki

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/coffer-dev/coffer/internal/errs"
)

// sanSet is a validated, de-duplicated list of subject alternative names.
type sanSet struct {
	all []string // canonical names in the caller's order
	dns []string
	ips []net.IP
}

// parseNames canonicalizes and validates names, split into DNS and IP SANs.
func parseNames(names []string) (sanSet, error) {
	var s sanSet
	if len(names) == 0 {
		return s, errs.E(errs.Invalid, "no names")
	}
	seen := make(map[string]bool, len(names))
	for _, raw := range names {
		name, addr, err := parseName(raw)
		if err != nil {
			return sanSet{}, err
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		s.all = append(s.all, name)
		if addr.IsValid() {
			s.ips = append(s.ips, net.IP(addr.AsSlice()))
		} else {
			s.dns = append(s.dns, name)
		}
	}
	return s, nil
}

// canonical returns name lower-cased, without a trailing dot or the brackets
// of an IPv6 literal. It does not validate.
func canonical(name string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if len(name) > 2 && name[0] == '[' && name[len(name)-1] == ']' {
		name = name[1 : len(name)-1]
	}
	return name
}

// parseName returns the canonical form of a DNS name or IP literal, and the
// address when it is an IP literal. DNS names are limited to letters,
// digits, '-' and '_' in labels of 1 to 63 bytes, with an optional leading
// "*" label; IP literals must not carry a zone.
func parseName(raw string) (string, netip.Addr, error) {
	name := canonical(raw)
	if name == "" {
		return "", netip.Addr{}, errs.E(errs.Invalid, "empty name")
	}
	if addr, err := netip.ParseAddr(name); err == nil {
		if addr.Zone() != "" {
			return "", netip.Addr{}, errs.E(errs.Invalid, fmt.Sprintf("IP address %q has a zone", raw))
		}
		return addr.String(), addr, nil
	}
	if !validDNSName(name) {
		return "", netip.Addr{}, errs.E(errs.Invalid, fmt.Sprintf("invalid host name %q", raw))
	}
	return name, netip.Addr{}, nil
}

func validDNSName(name string) bool {
	if len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if len(l) == 0 || len(l) > 63 {
			return false
		}
		for _, r := range l {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
				return false
			}
		}
	}
	return true
}

// group returns the cache key and SANs of the certificate that covers the
// host name a client sent in SNI. A DNS name of three or more labels is
// covered by a wildcard for its parent, so that all vaults under one suffix
// share a certificate; the name itself rides along as an exact SAN for
// clients that refuse that wildcard. Wildcards are never valid SNI.
func group(serverName string) (key string, names []string, err error) {
	name, addr, err := parseName(serverName)
	if err != nil {
		return "", nil, err
	}
	if strings.HasPrefix(name, "*") {
		return "", nil, errs.E(errs.Invalid, fmt.Sprintf("wildcard server name %q", serverName))
	}
	if addr.IsValid() || strings.Count(name, ".") < 2 {
		return name, []string{name}, nil
	}
	wild := "*" + name[strings.IndexByte(name, '.'):]
	return wild, []string{wild, name}, nil
}

package vaults

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/certs"
	"github.com/coffer-dev/coffer/internal/model"
)

// Scheduled lifetime actions, as Key Vault runs them without a request:
//
//   - a key's rotation policy: "Rotate" when the latest version is
//     timeAfterCreate old, or timeBeforeExpiry before its expiry, adds a
//     version (as POST /keys/{name}/rotate does, expiry from the policy's
//     expiryTime); "Notify" is where Azure publishes an Event Grid
//     KeyNearExpiry event — Coffer has no Event Grid, so it is recorded
//     (returned, and logged by the caller) once per version.
//   - a certificate's policy: "AutoRenew" when the latest version reaches
//     lifetime_percentage of its validity, or days_before_expiry before
//     its expiry, issues a new version for the Self issuer (a new key
//     unless reuse_key, and with it new versions of the backing key and
//     secret, as a create does); "EmailContacts" is recorded only (Coffer
//     sends no mail), once per version.
//
// Lifecycle runs in the elected background-job runner; the due checks
// read the vault's clock (Service.Now), so tests move time instead of
// waiting.

// LifecycleEvent is one scheduled action taken (Rotate, AutoRenew) or
// recorded (Notify, EmailContacts).
type LifecycleEvent struct {
	Vault, Kind, Name string // Kind: "key" or "certificate"
	Action            string
	Version           string // the version whose lifetime triggered it
	NewVersion        string // for Rotate and AutoRenew
}

// Lifecycle runs the scheduled actions. It remembers the notifications it
// recorded, so each is recorded once per version while this replica leads
// (a new leader may record one again).
type Lifecycle struct {
	Service *Service

	mu       sync.Mutex
	recorded map[string]bool
}

// Run checks every live key and certificate of every live vault once and
// returns what it did. An error on one object does not stop the others;
// the errors are joined.
func (l *Lifecycle) Run(ctx context.Context) ([]LifecycleEvent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.recorded == nil {
		l.recorded = map[string]bool{}
	}
	s := l.Service
	vs, err := s.Store.ListVaults(ctx)
	if err != nil {
		return nil, err
	}
	var events []LifecycleEvent
	var errList []error
	for i := range vs {
		v := &vs[i]
		if v.Deleted != nil {
			continue
		}
		ev, err := l.keys(ctx, v)
		events = append(events, ev...)
		errList = append(errList, err)
		ev, err = l.certificates(ctx, v)
		events = append(events, ev...)
		errList = append(errList, err)
		if ctx.Err() != nil {
			break
		}
	}
	return events, errors.Join(errList...)
}

// record reports whether e is new, remembering it.
func (l *Lifecycle) record(e LifecycleEvent) bool {
	k := strings.ToLower(e.Vault + "\x00" + e.Kind + "\x00" + e.Name + "\x00" + e.Version + "\x00" + e.Action)
	if l.recorded[k] {
		return false
	}
	l.recorded[k] = true
	return true
}

func (l *Lifecycle) keys(ctx context.Context, v *model.Vault) ([]LifecycleEvent, error) {
	s := l.Service
	all, err := s.ListKeys(ctx, v, false)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var events []LifecycleEvent
	var errList []error
	for _, head := range all {
		// The whole record (policy and latest version) through the
		// service, whatever the listing carries.
		k, latest, err := s.GetKey(ctx, v, head.Name, "")
		if err != nil || k.RotationPolicy == nil || latest.Managed {
			continue // gone meanwhile, no policy, or rotated with its certificate
		}
		rotate := false
		for _, a := range k.RotationPolicy.LifetimeActions {
			if !keyActionDue(a, latest, now) {
				continue
			}
			switch a.Action {
			case "Rotate":
				rotate = true
			case "Notify":
				e := LifecycleEvent{Vault: v.Name, Kind: "key", Name: k.Name, Action: "Notify", Version: latest.Version}
				if l.record(e) {
					events = append(events, e)
				}
			}
		}
		if !rotate {
			continue
		}
		_, ver, err := s.RotateKey(ctx, v, k.Name)
		if err != nil {
			errList = append(errList, err)
			continue
		}
		events = append(events, LifecycleEvent{Vault: v.Name, Kind: "key", Name: k.Name, Action: "Rotate", Version: latest.Version, NewVersion: ver.Version})
	}
	return events, errors.Join(errList...)
}

// keyActionDue reports whether a rotation-policy action's trigger has
// passed for the latest version: timeAfterCreate after its creation, or
// timeBeforeExpiry before its expiry (never for a version without one).
func keyActionDue(a model.KeyLifetimeAction, latest *model.KeyVersion, now time.Time) bool {
	if a.TimeAfterCreate != "" {
		d, ok := parseISODuration(a.TimeAfterCreate)
		return ok && !now.Before(d.addTo(time.Unix(latest.Created, 0)))
	}
	if a.TimeBeforeExpiry != "" && latest.Expires != nil {
		d, ok := parseISODuration(a.TimeBeforeExpiry)
		return ok && !now.Before(d.subtractFrom(time.Unix(*latest.Expires, 0)))
	}
	return false
}

// subtractFrom is t minus the duration, calendar parts first.
func (d isoDuration) subtractFrom(t time.Time) time.Time {
	return t.AddDate(-d.years, -d.months, -d.days).Add(-d.clock)
}

func (l *Lifecycle) certificates(ctx context.Context, v *model.Vault) ([]LifecycleEvent, error) {
	s := l.Service
	all, err := s.ListCertificates(ctx, v, false)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var events []LifecycleEvent
	var errList []error
	for _, head := range all {
		c, latest, err := s.GetCertificate(ctx, v, head.Name, "")
		if err != nil || latest == nil || latest.Expires == nil {
			continue
		}
		if c.Pending != nil && c.Pending.Status == "inProgress" {
			continue // a CA's answer is awaited; a renewal would cancel it
		}
		pol := DecodePolicy(c.Policy)
		renew := false
		for _, a := range pol.LifetimeActions {
			if a.Trigger == nil || a.Action == nil || !certActionDue(a.Trigger.LifetimePercentage, a.Trigger.DaysBeforeExpiry, latest, now) {
				continue
			}
			switch {
			case strings.EqualFold(a.Action.ActionType, "AutoRenew"):
				renew = true
			case strings.EqualFold(a.Action.ActionType, "EmailContacts"):
				e := LifecycleEvent{Vault: v.Name, Kind: "certificate", Name: c.Name, Action: "EmailContacts", Version: latest.Version}
				if l.record(e) {
					events = append(events, e)
				}
			}
		}
		// Only a Self-issued certificate can be renewed without a CA.
		if !renew || pol.Issuer == nil || !strings.EqualFold(pol.Issuer.Name, certs.IssuerSelf) {
			continue
		}
		nc, err := s.CreateCertificate(ctx, v, c.Name, nil, CertParams{Tags: latest.Tags})
		if err != nil {
			errList = append(errList, err)
			continue
		}
		e := LifecycleEvent{Vault: v.Name, Kind: "certificate", Name: c.Name, Action: "AutoRenew", Version: latest.Version}
		if nl := nc.Latest(); nl != nil {
			e.NewVersion = nl.Version
		}
		events = append(events, e)
	}
	return events, errors.Join(errList...)
}

// certActionDue reports whether a certificate lifetime trigger has passed
// for the latest version: pct percent of its validity (nbf to exp; its
// creation when it has no nbf) elapsed, or days before its expiry.
func certActionDue(pct, days *int, latest *model.CertificateVersion, now time.Time) bool {
	exp := time.Unix(*latest.Expires, 0)
	switch {
	case pct != nil:
		start := time.Unix(latest.Created, 0)
		if latest.NotBefore != nil {
			start = time.Unix(*latest.NotBefore, 0)
		}
		at := start.Add(exp.Sub(start) * time.Duration(*pct) / 100)
		return !now.Before(at)
	case days != nil:
		return !now.Before(exp.AddDate(0, 0, -*days))
	}
	return false
}

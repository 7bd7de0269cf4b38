// Package metrics holds Coffer's Prometheus metrics, served on the
// operator's address (serve --metrics-addr), never on the public listener.
//
// Labels are bounded by construction: the API family and operation come
// from opname's fixed tables, status codes from the server, failure
// reasons from the error codes the server itself writes (sanitized and
// capped). No secret, key or vault name is ever a label: vault names come
// from the Host header, so an unauthenticated client could mint a label
// per request, and the per-vault view belongs to the audit log.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one registry of Coffer's metrics.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	tokens       *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	throttled    *prometheus.CounterVec
	connsRefused *prometheus.CounterVec
	auditErrors  prometheus.Counter
}

// New registers Coffer's metrics, plus the Go runtime and process ones.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_http_requests_total",
			Help: "Requests answered, by API family, operation (Azure's names, e.g. SecretGet) and HTTP status code.",
		}, []string{"api", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coffer_http_request_duration_seconds",
			Help:    "Time to answer a request, by API family and operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"api", "operation"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_tokens_issued_total",
			Help: "Access tokens issued, by endpoint: oauth2 (client credentials, v1 and v2) or managed_identity.",
		}, []string{"endpoint"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_auth_failures_total",
			Help: "Requests refused as unauthenticated (401) or unauthorized (403), by API family, status and the error code answered.",
		}, []string{"api", "code", "reason"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_throttled_requests_total",
			Help: "Requests answered 429 Too Many Requests, by API family.",
		}, []string{"api"}),
		connsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_connections_refused_total",
			Help: "Connections closed at accept because a cap was reached: total or per_address.",
		}, []string{"reason"}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coffer_audit_write_errors_total",
			Help: "Audit lines that could not be written.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.tokens, m.authFailures, m.throttled, m.connsRefused, m.auditErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the underlying registry (tests read it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request records one answered request. errCode is the error code of the
// answer's body, if any.
func (m *Metrics) Request(api, operation string, status int, errCode string, d time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(api, operation, code).Inc()
	m.duration.WithLabelValues(api, operation).Observe(d.Seconds())
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		m.authFailures.WithLabelValues(api, code, Reason(errCode)).Inc()
	case http.StatusTooManyRequests:
		m.throttled.WithLabelValues(api).Inc()
	}
}

// TokenIssued counts a token; endpoint is "oauth2" or "managed_identity".
func (m *Metrics) TokenIssued(endpoint string) { m.tokens.WithLabelValues(endpoint).Inc() }

// ConnRefused counts a connection closed over a cap (netlimit.Listener.OnRefuse).
func (m *Metrics) ConnRefused(reason string) { m.connsRefused.WithLabelValues(reason).Inc() }

// AuditError counts an audit line that could not be written.
func (m *Metrics) AuditError() { m.auditErrors.Inc() }

// Reason makes an error code safe as a label: letters, digits and _ only,
// at most 48 characters, "none" when empty.
func Reason(code string) string {
	if code == "" {
		return "none"
	}
	var b strings.Builder
	for _, r := range code {
		if b.Len() >= 48 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

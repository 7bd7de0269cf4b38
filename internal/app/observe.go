package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/netlimit"
	"github.com/coffer-dev/coffer/internal/opname"
)

// maxCapture bounds how much of an answer the observer keeps to read its
// error code (or, for a token, its claims).
const maxCapture = 16 << 10

// observe wraps the public handler: every request is named (opname),
// counted and timed (metrics) and, when the audit log is on, written to it.
// It sits inside httpx.Middleware, so the request id is in the context.
//
// With --audit-fail-closed the answer is held until its audit line is
// written; if that fails the client gets 503 instead (a secret read that
// cannot be recorded is not returned), and while the log stays broken
// requests are refused before they run.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := opname.Classify(s.Profile, r)
		hold := s.audit != nil && s.cfg.AuditFailClosed && audited(op.API)
		rec := &recorder{ResponseWriter: w, wantBody: op.API == opname.Token}
		start := time.Now()
		if hold && !s.audit.Healthy() {
			rec.failClosed()
			s.record(r, op, rec, start)
			return
		}
		rec.hold = hold
		next.ServeHTTP(rec, r)
		err := s.record(r, op, rec, start)
		if !hold {
			return
		}
		rec.hold = false
		if err != nil {
			for k := range rec.Header() {
				delete(rec.Header(), k)
			}
			rec.status, rec.held = 0, nil
			rec.failClosed()
			return
		}
		rec.flush()
	})
}

// record reports one answered request to the metrics and the audit log;
// the error is the audit log's.
func (s *Server) record(r *http.Request, op opname.Op, rec *recorder, start time.Time) error {
	d := time.Since(start)
	status := rec.statusCode()
	errCode := errorCode(rec.body)
	s.metrics.Request(op.API, op.Name, status, errCode, d)
	if op.API == opname.Token && status == http.StatusOK {
		endpoint := "oauth2"
		if strings.EqualFold(strings.Trim(r.URL.Path, "/"), "msi/token") {
			endpoint = "managed_identity"
		}
		s.metrics.TokenIssued(endpoint)
	}
	if s.audit == nil || !audited(op.API) {
		return nil
	}
	if err := s.auditRequest(r, op, rec, status, errCode, d); err != nil {
		s.metrics.AuditError()
		s.logger.Error("audit log write failed", "err", err)
		return err
	}
	return nil
}

// audited says which APIs' operations the audit log records: the data
// plane, the control plane, Graph and tokens; not health probes, discovery
// documents or unknown paths, which act on nothing (and would drown it).
func audited(api string) bool {
	switch api {
	case opname.KeyVault, opname.ARM, opname.Graph, opname.Token:
		return true
	}
	return false
}

// recorder remembers the status and, when asked, the start of the body;
// while hold is set it keeps the whole answer back (see observe).
type recorder struct {
	http.ResponseWriter
	status   int
	wantBody bool
	body     []byte
	hold     bool
	held     []byte
}

func (r *recorder) WriteHeader(code int) {
	if r.status != 0 {
		return
	}
	r.status = code
	if !r.hold {
		r.ResponseWriter.WriteHeader(code)
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if (r.wantBody || r.status >= 400) && len(r.body) < maxCapture {
		r.body = append(r.body, b[:min(len(b), maxCapture-len(r.body))]...)
	}
	if r.hold {
		r.held = append(r.held, b...)
		return len(b), nil
	}
	return r.ResponseWriter.Write(b)
}

// flush sends a held answer.
func (r *recorder) flush() {
	r.ResponseWriter.WriteHeader(r.statusCode())
	r.ResponseWriter.Write(r.held)
	r.held = nil
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// failClosed answers 503 when the audit log cannot be written.
func (r *recorder) failClosed() {
	r.Header().Set("Content-Type", "application/json; charset=utf-8")
	r.Header().Set("Retry-After", "10")
	r.WriteHeader(http.StatusServiceUnavailable)
	r.Write([]byte(`{"error":{"code":"ServiceUnavailable","message":"The audit log cannot be written; the server refuses requests until it can (--audit-fail-closed)."}}`))
}

// errorCode reads the error code of an answer in any of Coffer's error
// shapes: {"error":{"code":…}} (Key Vault, ARM, Graph) or OAuth2's
// {"error":…,"error_codes":[n]} (AADSTSn when there is one).
func errorCode(body []byte) string {
	if len(body) == 0 || body[0] != '{' {
		return ""
	}
	var e struct {
		Error      json.RawMessage `json:"error"`
		ErrorCodes []int           `json:"error_codes"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		return ""
	}
	var nested struct{ Code string }
	if json.Unmarshal(e.Error, &nested) == nil && nested.Code != "" {
		return nested.Code
	}
	var flat string
	if json.Unmarshal(e.Error, &flat) == nil {
		if len(e.ErrorCodes) > 0 {
			return fmt.Sprintf("AADSTS%d", e.ErrorCodes[0])
		}
		return flat
	}
	return ""
}

// startMetrics serves /metrics on the operator's address, if one is set.
func (s *Server) startMetrics(limits netlimit.Limits) error {
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	s.MetricsAddr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	s.metricsHTTP = limits.Server(mux)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		conns := limits.Listen(ln)
		conns.Track(s.metricsHTTP)
		if err := s.metricsHTTP.Serve(conns); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("metrics listener", "err", err)
		}
	}()
	return nil
}

// Package httpx holds the HTTP plumbing shared by Coffer's APIs: handlers
// that return errors, the single mapping from errs.Kind to status code,
// JSON rendering, request ids and request logging. Each API renders its own
// error body shape; this package only decides the status.
package httpx

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/coffer-dev/coffer/internal/errs"
)

// Status maps an error kind to an HTTP status. It is the only such mapping.
func Status(k errs.Kind) int {
	switch k {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Permission:
		return http.StatusForbidden
	case errs.NotExist:
		return http.StatusNotFound
	case errs.Exist, errs.Conflict:
		return http.StatusConflict
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.TooMany:
		return http.StatusTooManyRequests
	case errs.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	}
	return http.StatusInternalServerError
}

// WriteJSON renders v with the given status and Azure's JSON content type.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"InternalError","message":"rendering failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

type ctxKey int

const requestIDKey ctxKey = 0

// RequestID returns the request id stored by WithRequestID.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusRecorder remembers the status for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Middleware assigns a request id (x-ms-request-id), echoes the client's
// x-ms-client-request-id, recovers panics as 500s and writes one access-log
// line per request. It never logs headers or bodies, so credentials and
// secret values cannot reach the log.
func Middleware(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		w.Header().Set("x-ms-request-id", id)
		if cid := r.Header.Get("x-ms-client-request-id"); cid != "" && len(cid) <= 128 {
			w.Header().Set("x-ms-client-request-id", cid)
		}
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.ErrorContext(ctx, "panic serving request", "request_id", id, "panic", p)
				if rec.status == 0 {
					WriteJSON(rec, http.StatusInternalServerError, map[string]any{"error": map[string]string{"code": "InternalError", "message": "An internal error occurred. Request id: " + id}})
				}
			}
			// Request lines are debug: a server backgrounded in a terminal
			// (`coffer serve &`) must not print a line per CLI command.
			// Server errors stay visible at the default level.
			level := slog.LevelDebug
			if rec.status >= 500 {
				level = slog.LevelWarn
			}
			logger.Log(ctx, level, "request", "request_id", id, "method", r.Method, "host", r.Host,
				"path", r.URL.Path, "status", rec.status, "duration_ms", time.Since(start).Milliseconds())
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// Package httpx holds the HTTP plumbing shared by Coffer's APIs: handlers
// that return errors, the single mapping from errs.Kind to status code,
// JSON rendering, request ids and request logging. Each API renders its own
// error body shape; this package only decides the status.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

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

// jsonContentType is shared by every JSON response (net/http only reads
// header values), saving an allocation per response.
var jsonContentType = []string{"application/json; charset=utf-8"}

// WriteJSON renders v with the given status and Azure's JSON content type.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"InternalError","message":"rendering failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header()["Content-Type"] = jsonContentType
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

// Request ids are GUID-shaped, because Azure clients log and sometimes
// parse x-ms-request-id as a GUID, but they need only be unique, not
// unpredictable: a random per-process prefix (64 bits) and a counter give
// that for the cost of an atomic add, where a random UUID per request
// costs a read from the system's random source. The result is a valid
// RFC 9562 version-8 (custom) UUID.
var (
	idPrefix  [8]byte
	idCounter atomic.Uint64
)

func init() {
	_, _ = rand.Read(idPrefix[:])
	idPrefix[6] = idPrefix[6]&0x0f | 0x80 // version 8
}

// NewRequestID returns a new unique request id.
func NewRequestID() string {
	var b [16]byte
	copy(b[:8], idPrefix[:])
	// The top two bits are the RFC 9562 variant (10); 2^62 requests will
	// not wrap in the life of a process.
	binary.BigEndian.PutUint64(b[8:], idCounter.Add(1)&(1<<62-1)|1<<63)
	const hex = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hex[c>>4], hex[c&0x0f]
		j += 2
	}
	return string(out[:])
}

// Canonical header keys, written into the map directly: Header.Set would
// canonicalize (and allocate) them on every request.
const (
	hdrRequestID       = "X-Ms-Request-Id"
	hdrClientRequestID = "X-Ms-Client-Request-Id"
)

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
		id := NewRequestID()
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		hdr := w.Header()
		hdr[hdrRequestID] = []string{id}
		if cid := r.Header[hdrClientRequestID]; len(cid) > 0 && cid[0] != "" && len(cid[0]) <= 128 {
			hdr[hdrClientRequestID] = []string{cid[0]}
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
			// Enabled first: at the default level the line is dropped, and
			// building its attributes would be most of its cost.
			level := slog.LevelDebug
			if rec.status >= 500 {
				level = slog.LevelWarn
			}
			if logger.Enabled(ctx, level) {
				logger.LogAttrs(ctx, level, "request", slog.String("request_id", id), slog.String("method", r.Method),
					slog.String("host", r.Host), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
					slog.Int64("duration_ms", time.Since(start).Milliseconds()))
			}
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

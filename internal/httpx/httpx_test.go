package httpx_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/errs"
	"github.com/coffer-dev/coffer/internal/httpx"
)

// TestStatus: the one Kind → status mapping; every kind that is not a
// client error is a 500.
func TestStatus(t *testing.T) {
	tests := []struct {
		kind errs.Kind
		want int
	}{
		{errs.Invalid, 400}, {errs.Unauthenticated, 401}, {errs.Permission, 403}, {errs.NotExist, 404},
		{errs.Exist, 409}, {errs.Conflict, 409}, {errs.Unavailable, 503}, {errs.TooLarge, 413},
		{errs.TooMany, 429}, {errs.MethodNotAllowed, 405}, {errs.Internal, 500}, {errs.Other, 500}, {errs.Kind(99), 500},
	}
	for _, tt := range tests {
		if got := httpx.Status(tt.kind); got != tt.want {
			t.Errorf("Status(%v) = %d, want %d", tt.kind, got, tt.want)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	httpx.WriteJSON(rec, 201, map[string]string{"a": "<b>"})
	if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" || !strings.Contains(rec.Body.String(), `"a"`) {
		t.Errorf("WriteJSON = %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	rec = httptest.NewRecorder()
	httpx.WriteJSON(rec, 200, map[string]any{"f": func() {}})
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "InternalError") {
		t.Errorf("unrenderable value: %d %s", rec.Code, rec.Body)
	}
}

// TestMiddleware: a request id on every response (and in the context), the
// client's request id echoed when sane, panics turned into Azure-shaped
// 500s, and an access log that never carries headers or bodies.
func TestMiddleware(t *testing.T) {
	var logBuf bytes.Buffer
	// Debug: request lines are debug (server errors warn).
	logger := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var seenID string
	h := httpx.Middleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenID = httpx.RequestID(r.Context())
		switch r.URL.Path {
		case "/panic":
			panic("boom with a secret-ish value")
		case "/panic-after-write":
			w.WriteHeader(202)
			panic("late")
		}
		w.WriteHeader(204)
	}))
	tests := []struct {
		name, path, clientID string
		status               int
		echo                 bool
	}{
		{"ok", "/", "abc", 204, true},
		{"oversized client id not echoed", "/", strings.Repeat("x", 129), 204, false},
		{"panic", "/panic", "", 500, false},
		{"panic after the header", "/panic-after-write", "", 202, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logBuf.Reset()
			req := httptest.NewRequest("GET", tt.path, nil)
			req.Header.Set("Authorization", "Bearer sekrit-token")
			if tt.clientID != "" {
				req.Header.Set("x-ms-client-request-id", tt.clientID)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			id := rec.Header().Get("x-ms-request-id")
			if id == "" || id != seenID {
				t.Errorf("x-ms-request-id %q, context %q", id, seenID)
			}
			if got := rec.Header().Get("x-ms-client-request-id"); tt.clientID != "" && (got == tt.clientID) != tt.echo {
				t.Errorf("x-ms-client-request-id = %q", got)
			}
			if tt.status == 500 {
				var b struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Error.Code != "InternalError" || !strings.Contains(b.Error.Message, id) {
					t.Errorf("panic body %s", rec.Body)
				}
				if strings.Contains(rec.Body.String(), "boom") {
					t.Error("the panic value reached the client")
				}
			}
			if strings.Contains(logBuf.String(), "sekrit-token") {
				t.Errorf("the log carries the Authorization header: %s", logBuf.String())
			}
			if !strings.Contains(logBuf.String(), `"request_id":"`+id+`"`) {
				t.Errorf("no access-log line with the request id: %s", logBuf.String())
			}
		})
	}
}

// TestRequestIDs: ids are GUID-shaped (what Azure clients expect of
// x-ms-request-id), valid version-8 UUIDs, and unique.
func TestRequestIDs(t *testing.T) {
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 10000 {
		id := httpx.NewRequestID()
		if !guid.MatchString(id) {
			t.Fatalf("request id %q is not a version-8 GUID", id)
		}
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}

// TestMiddlewareDisabledLogCheap: at the default level (info) the
// per-request line is not built at all, so the middleware allocates only
// the request id, its context and the response bookkeeping.
func TestMiddlewareDisabledLogCheap(t *testing.T) {
	tests := []struct {
		name      string
		level     slog.Level
		maxAllocs float64
		wantLine  bool
	}{
		{"info: request line dropped", slog.LevelInfo, 7, false},
		{"debug: request line written", slog.LevelDebug, 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level}))
			h := httpx.Middleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
			req := httptest.NewRequest("GET", "/", nil)
			w := &headerOnly{h: http.Header{}}
			allocs := testing.AllocsPerRun(100, func() { clear(w.h); h.ServeHTTP(w, req) })
			if allocs > tt.maxAllocs {
				t.Errorf("%v allocations per request, want at most %v", allocs, tt.maxAllocs)
			}
			if got := strings.Contains(buf.String(), "msg=request"); got != tt.wantLine {
				t.Errorf("request line written = %v, want %v: %q", got, tt.wantLine, buf.String())
			}
		})
	}
}

type headerOnly struct{ h http.Header }

func (w *headerOnly) Header() http.Header         { return w.h }
func (w *headerOnly) Write(p []byte) (int, error) { return len(p), nil }
func (w *headerOnly) WriteHeader(int)             {}

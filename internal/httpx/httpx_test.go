package httpx_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
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

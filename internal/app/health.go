package app

import (
	"context"
	"net/http"
	"time"

	"github.com/coffer-dev/coffer/internal/httpx"
)

// readyTimeout bounds the readiness probe's store read: to a load
// balancer, a store slower than this is as good as down.
const readyTimeout = 2 * time.Second

// healthz is liveness: the process serves HTTP. It touches nothing else,
// so that it answers while the store is down (restarting would not help).
func healthz(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: the store answers a cheap read (the instance
// record, through decryption, so a wrong master key shows too) within
// readyTimeout, and the server is not shutting down. Load balancers stop
// sending requests on 503; the reason stays in the log.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	// On etcd the client already knows when no member has a leader
	// (StorageReady): answer from that at once instead of waiting out the
	// read's deadline; otherwise the read decides.
	err := s.StorageReady()
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		var inst Instance
		err = s.direct.GetConfig(ctx, "instance", &inst)
	}
	if err != nil {
		s.logger.WarnContext(r.Context(), "readyz: the store did not answer", "err", err)
		w.Header().Set("Retry-After", "5")
		httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

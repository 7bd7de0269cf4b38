package app

import (
	"context"

	"github.com/coffer-dev/coffer/internal/vaults"
)

// lifecycleJob runs the keys' and certificates' scheduled lifetime actions
// (auto-rotation, auto-renewal; notifications recorded in the log) as one
// of the elected background jobs, on the purge's tick.
type lifecycleJob struct {
	s  *Server
	lc *vaults.Lifecycle
}

func (s *Server) newLifecycleJob() *lifecycleJob {
	return &lifecycleJob{s: s, lc: &vaults.Lifecycle{Service: s.Vaults}}
}

func (j *lifecycleJob) run(ctx context.Context) {
	events, err := j.lc.Run(ctx)
	for _, e := range events {
		args := []any{"vault", e.Vault, "kind", e.Kind, "name", e.Name, "action", e.Action, "version", e.Version}
		if e.NewVersion != "" {
			args = append(args, "newVersion", e.NewVersion)
		}
		switch e.Action {
		case "Notify", "EmailContacts":
			// Azure publishes an Event Grid event or mails the vault's
			// contacts here; Coffer has neither, so the log records it.
			j.s.logger.Info("lifetime action due (recorded only)", args...)
		default:
			j.s.logger.Info("lifetime action run", args...)
		}
	}
	if err != nil && ctx.Err() == nil {
		j.s.logger.Error("running lifetime actions", "err", err)
	}
}

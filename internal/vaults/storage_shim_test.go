package vaults

import (
	"context"
	"runtime"

	"github.com/coffer-dev/coffer/internal/model"
)

// firstPage lists the first page of live secrets the way the list handler
// does, and returns its length.
func firstPage(ctx context.Context, s *Service, v *model.Vault) (int, error) {
	secs, _, err := s.ListSecretsPage(ctx, v, "", 25)
	return len(secs), err
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }

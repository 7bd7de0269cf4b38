package memkv_test

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/kv"
	"github.com/coffer-dev/coffer/internal/kv/kvtest"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
)

func newStore(*testing.T) kv.Store { return memkv.New() }

func TestConformance(t *testing.T) { kvtest.Run(t, newStore) }

func TestConcurrent(t *testing.T) { kvtest.RunConcurrent(t, newStore) }

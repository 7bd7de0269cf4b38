package app

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/coffer-dev/coffer/internal/kv/etcdkv"
)

// membership registers this replica in etcd and tells the throttle how
// many replicas share Key Vault's limit (keyvault.Throttle.SetReplicas),
// until ctx ends. Off etcd, or without a throttle, there is nothing to
// share.
func (s *Server) membership(ctx context.Context) {
	if s.etcd == nil || s.cfg.Throttle == nil {
		return
	}
	host, _ := os.Hostname()
	s.etcd.Members(ctx, etcdkv.Membership{
		// Outside the data namespace, next to the elections.
		Prefix: strings.TrimSuffix(cmp.Or(s.cfg.EtcdPrefix, "coffer/"), "/") + ".members/replicas/",
		Name:   fmt.Sprintf("%s pid %d %s", host, os.Getpid(), s.Addr),
		OnCount: func(n int) {
			s.cfg.Throttle.SetReplicas(n)
			s.logger.Info("replicas sharing the throttle", "replicas", n)
		},
		Logger: s.logger,
	})
}

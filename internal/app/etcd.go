package app

import (
	"cmp"

	"github.com/coffer-dev/coffer/internal/kv/etcdkv"
)

// EtcdTLS names the PEM files for TLS to etcd, as etcdctl's --cacert,
// --cert and --key do. With only CACert, the members are verified; with
// Cert and Key, Coffer also presents a client certificate (etcd's
// --client-cert-auth).
type EtcdTLS struct {
	CACert, Cert, Key string
}

// EtcdAuth is a user of etcd's own authentication (etcdctl's --user).
type EtcdAuth struct {
	Username, Password string
}

func (c Config) etcdOptions() etcdkv.Options {
	return etcdkv.Options{
		Endpoints:  c.EtcdEndpoints,
		Prefix:     cmp.Or(c.EtcdPrefix, "coffer/"),
		CACertFile: c.EtcdTLS.CACert,
		CertFile:   c.EtcdTLS.Cert,
		KeyFile:    c.EtcdTLS.Key,
		Username:   c.EtcdAuth.Username,
		Password:   c.EtcdAuth.Password,
		Logger:     c.Logger,
	}
}

// StorageReady reports whether the store can serve requests now: on
// etcd, whether this replica reached a member with a leader at the last
// probe (etcdkv.Store.Ready: an error of kind errs.Unavailable once the
// cluster has been without a leader for etcdkv.QuorumGrace); bbolt and
// memory are always ready. It costs no request to etcd, so a readiness
// endpoint may call it as often as a load balancer asks.
func (s *Server) StorageReady() error {
	if s.etcd == nil {
		return nil
	}
	return s.etcd.Ready()
}

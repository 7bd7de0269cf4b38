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

// Package hatest holds the high-availability tests: several Coffer
// replicas on a real multi-member etcd cluster (separate etcd processes,
// etcdtest.StartCluster) while members stall, die and lose quorum. It has
// no production code.
package hatest

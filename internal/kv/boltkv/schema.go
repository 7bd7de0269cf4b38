package boltkv

import (
	"fmt"

	"go.etcd.io/bbolt"
)

// The whole file layout is declared here. Changing any of it means bumping
// schemaVersion and teaching initSchema to migrate the old layout.
const (
	// dataBucket holds the Store's keys and values, byte for byte.
	dataBucket = "kv"
	// metaBucket holds facts about the file itself, never user data.
	metaBucket = "meta"
	// schemaKey, in metaBucket, records the layout version of the file.
	schemaKey = "schema"
	// schemaVersion is the layout this code reads and writes.
	schemaVersion = "1"
)

// initSchema creates the buckets of a new file and refuses a file written
// with a layout this code does not know. Refusing matters more than it looks:
// reading a newer layout as if it were ours could silently lose data.
func initSchema(tx *bbolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists([]byte(metaBucket))
	if err != nil {
		return err
	}
	switch v := meta.Get([]byte(schemaKey)); {
	case v == nil:
		// A new file (or one from before versioning, which never existed).
		if err := meta.Put([]byte(schemaKey), []byte(schemaVersion)); err != nil {
			return err
		}
	case string(v) != schemaVersion:
		return fmt.Errorf("unsupported schema version %q (want %q)", v, schemaVersion)
	}
	_, err = tx.CreateBucketIfNotExists([]byte(dataBucket))
	return err
}

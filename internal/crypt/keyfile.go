package crypt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// keyFile is the JSON shape of a key file:
//
//	{"active": "id", "keys": {"id": "<base64 of 32 bytes>"}}
//
// To rotate, add a new key and make it active; keep the old keys for as long
// as values sealed under them may exist.
type keyFile struct {
	Active string            `json:"active"`
	Keys   map[string]string `json:"keys"`
}

// LoadOrCreateKeyFile reads the Ring stored at path, or, if there is no file,
// creates one with a single fresh random key and mode 0600.
//
// Creation is atomic and never replaces a file: the key is written to a
// temporary file, fsynced, and then hard-linked into place, which fails if
// path appeared meanwhile. Two processes starting at once therefore agree on
// one key; with a rename, the loser would go on encrypting with a key that
// no longer exists on disk.
func LoadOrCreateKeyFile(path string) (*Ring, error) {
	r, err := loadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	if err := createKeyFile(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	// Whether this call created the file or lost the race to another, the
	// file is now the truth: read it back.
	return loadKeyFile(path)
}

func loadKeyFile(path string) (*Ring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("crypt: key file: %w", err)
	}
	if err := checkKeyFileMode(path); err != nil {
		return nil, err
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("crypt: key file %s: %w", path, err)
	}
	keys := make(map[string][]byte, len(kf.Keys))
	for id, b64 := range kf.Keys {
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("crypt: key file %s: key %q is not base64", path, id)
		}
		keys[id] = key
	}
	r, err := NewRing(kf.Active, keys)
	if err != nil {
		return nil, fmt.Errorf("crypt: key file %s: %w", path, err)
	}
	return r, nil
}

func createKeyFile(path string) error {
	id, key := newKey()
	data, err := json.MarshalIndent(keyFile{
		Active: id,
		Keys:   map[string]string{id: base64.StdEncoding.EncodeToString(key)},
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("crypt: create key file: %w", err)
	}
	data = append(data, '\n')

	dir := filepath.Dir(path)
	// CreateTemp uses mode 0600, in the target directory so that the link
	// stays on one file system.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("crypt: create key file: %w", err)
	}
	tmp := f.Name()
	// Once linked, the key lives on under path; the temporary name goes
	// either way.
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("crypt: create key file: %w", err)
	}
	// The key must be on disk before any value is encrypted with it.
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("crypt: create key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("crypt: create key file: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("crypt: create key file: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry durable. Windows cannot fsync a
// directory, so there the entry is as durable as the file system makes it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("crypt: create key file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("crypt: create key file: sync %s: %w", dir, err)
	}
	return nil
}

// checkKeyFileMode refuses a key file that group or others may read or
// write: whoever reads it decrypts every stored secret, and whoever writes
// it can swap the keys. Files in systemd's $CREDENTIALS_DIRECTORY are
// exempt (systemd makes them private to the unit with an ACL that shows in
// the group bits), and so is Windows, whose permissions are not modes.
func checkKeyFileMode(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("crypt: key file: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && !inCredentialsDirectory(path) {
		return fmt.Errorf("crypt: key file %s is accessible by group or others (mode %04o); whoever reads it can decrypt every secret: chmod 600 %s", path, perm, path)
	}
	return nil
}

func inCredentialsDirectory(path string) bool {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return false
	}
	abs, err := filepath.Abs(path)
	return err == nil && filepath.Dir(abs) == filepath.Clean(dir)
}

package crypt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyFileMode: a key file group or others may access is refused with
// the fix; private ones (and systemd credentials) load.
func TestKeyFileMode(t *testing.T) {
	systemd := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", systemd)
	tests := []struct {
		name    string
		dir     string
		mode    os.FileMode
		wantErr bool
	}{
		{"0600", "", 0o600, false},
		{"0400", "", 0o400, false},
		{"group readable", "", 0o640, true},
		{"world readable", "", 0o644, true},
		{"group writable", "", 0o620, true},
		{"others only", "", 0o604, true},
		{"systemd credential", systemd, 0o440, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = t.TempDir()
			}
			path := filepath.Join(dir, "master-"+strings.ReplaceAll(tt.name, " ", "-")+".key")
			if _, err := LoadOrCreateKeyFile(path); err != nil { // creates it 0600
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateKeyFile(path)
			if !tt.wantErr && err != nil {
				t.Errorf("LoadOrCreateKeyFile = %v, want it loaded", err)
			}
			if tt.wantErr && (err == nil || !strings.Contains(err.Error(), "chmod 600 "+path)) {
				t.Errorf("LoadOrCreateKeyFile = %v, want a refusal naming the fix", err)
			}
		})
	}
}

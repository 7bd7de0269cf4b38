package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestMutantsApply: the list stays in step with the code, so that a plain
// `go test ./...` already reports a stale mutant (scripts/mutate would too,
// but only when it runs).
func TestMutantsApply(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	names := map[string]bool{}
	for _, m := range mutants {
		if names[m.Name] {
			t.Errorf("duplicate mutant name %q", m.Name)
		}
		names[m.Name] = true
		src, err := os.ReadFile(filepath.Join(root, m.File))
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if c := bytes.Count(src, []byte(m.Orig)); c != 1 {
			t.Errorf("%s: the original snippet occurs %d times in %s, want 1", m.Name, c, m.File)
		}
		if m.Orig == m.Repl || len(m.Pkgs) == 0 || m.Run == "" {
			t.Errorf("%s: incomplete mutant", m.Name)
		}
		for _, p := range m.Pkgs {
			if st, err := os.Stat(filepath.Join(root, p)); err != nil || !st.IsDir() {
				t.Errorf("%s: package %s does not exist", m.Name, p)
			}
		}
	}
}

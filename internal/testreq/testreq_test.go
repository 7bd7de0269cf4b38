package testreq_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/testreq"
)

// fakeTB records what testreq asks of a test instead of ending it.
type fakeTB struct {
	testing.TB
	fatal, skipped string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Name() string                   { return "TestFake/sub" }
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }
func (f *fakeTB) Skip(a ...any)                  { f.skipped = fmt.Sprint(a...) }

func TestNeed(t *testing.T) {
	const missing = "coffer-no-such-tool-8d1f"
	tests := []struct {
		name       string
		env        map[string]string
		wantStrict bool
	}{
		{"default", map[string]string{"COFFER_TEST_STRICT": "", "CI": ""}, false},
		{"COFFER_TEST_STRICT=1", map[string]string{"COFFER_TEST_STRICT": "1", "CI": ""}, true},
		{"CI=true", map[string]string{"COFFER_TEST_STRICT": "", "CI": "true"}, true},
		{"COFFER_TEST_STRICT=0", map[string]string{"COFFER_TEST_STRICT": "0", "CI": ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			skips := filepath.Join(t.TempDir(), "skips")
			t.Setenv("COFFER_TEST_SKIPS", skips)
			if testreq.Strict() != tt.wantStrict {
				t.Fatalf("Strict() = %v", testreq.Strict())
			}
			f := &fakeTB{}
			testreq.Need(f, "sh", missing)
			recorded, _ := os.ReadFile(skips)
			if tt.wantStrict {
				if f.fatal == "" || f.skipped != "" || len(recorded) != 0 {
					t.Errorf("strict: fatal %q, skipped %q, recorded %q", f.fatal, f.skipped, recorded)
				}
				return
			}
			if f.fatal != "" || !strings.Contains(f.skipped, missing) || strings.Contains(f.skipped, "sh,") {
				t.Errorf("lenient: fatal %q, skipped %q", f.fatal, f.skipped)
			}
			if want := "TestFake/sub: needs " + missing; !strings.HasPrefix(string(recorded), want) {
				t.Errorf("recorded %q, want a line starting %q", recorded, want)
			}
		})
	}
}

func TestNeedFound(t *testing.T) {
	f := &fakeTB{}
	paths := testreq.Need(f, "sh")
	if len(paths) != 1 || !filepath.IsAbs(paths[0]) || f.fatal != "" || f.skipped != "" {
		t.Errorf("Need(sh) = %v, fatal %q, skipped %q", paths, f.fatal, f.skipped)
	}
}

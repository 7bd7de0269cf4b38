package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds the coffer binary and the test clients once per test run.
func binaries(t *testing.T) (coffer, seedclient string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "coffer-e2e-bin-")
		if buildErr != nil {
			return
		}
		for name, pkg := range map[string]string{"coffer": "github.com/coffer-dev/coffer/cmd/coffer", "seedclient": "./testdata/seedclient", "envclient": "./testdata/envclient"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, name), pkg).CombinedOutput()
			if err != nil {
				buildErr = err
				buildDir = string(out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building binaries: %v\n%s", buildErr, buildDir)
	}
	return filepath.Join(buildDir, "coffer"), filepath.Join(buildDir, "seedclient")
}

package archtest

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Dir        string
	Name       string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "github.com/coffer-dev/coffer/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestPackageDocs: exactly one file of every package carries the package
// doc comment (tailscale's pkgdoc_test idea).
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		var withDoc []string
		for _, f := range p.GoFiles {
			file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if file.Doc != nil && strings.TrimSpace(file.Doc.Text()) != "" {
				withDoc = append(withDoc, f)
			}
		}
		switch {
		case len(p.GoFiles) == 0:
		case len(withDoc) == 0:
			t.Errorf("no package doc in %s", p.ImportPath)
		case len(withDoc) > 1:
			t.Errorf("multiple files with package doc in %s: %v", p.ImportPath, withDoc)
		}
	}
}

// TestDependencyDirection enforces the layering of STYLE.md §1.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/coffer-dev/coffer/"
	rules := []struct {
		pkgPrefix string
		banned    []string
		why       string
	}{
		{mod + "internal/kv", []string{"net/http", mod + "internal/store", mod + "internal/vaults"}, "storage knows nothing of transports or services"},
		{mod + "internal/crypt", []string{"net/http", mod + "internal/store"}, "encryption wraps kv only"},
		{mod + "internal/store", []string{"net/http", mod + "internal/vaults", mod + "internal/keyvault"}, "store is below the services"},
		{mod + "internal/policy", []string{"net/http", mod + "internal/store", mod + "internal/kv"}, "policy evaluation is pure"},
		{mod + "internal/model", []string{"net/http", mod + "internal/store"}, "model is plain data"},
		{mod + "internal/vaults", []string{"net/http", mod + "internal/keyvault", mod + "internal/arm"}, "services do not know transports"},
		{mod + "internal/resources", []string{"net/http", mod + "internal/arm", mod + "internal/msi"}, "services do not know transports"},
		{mod + "internal/keyvault", []string{mod + "internal/kv/boltkv", mod + "internal/kv/memkv", mod + "internal/crypt"}, "handlers never reach storage backends"},
		{mod + "internal/arm", []string{mod + "internal/kv/boltkv", mod + "internal/kv/memkv", mod + "internal/crypt"}, "handlers never reach storage backends"},
	}
	// Test-support packages: they may import testing, and only tests (or
	// other test-support packages) may import them.
	testSupport := map[string]bool{
		mod + "internal/testenv": true, mod + "internal/kv/kvtest": true,
		mod + "internal/kv/etcdkv/etcdtest": true, mod + "internal/testreq": true,
		mod + "internal/netlimit/netlimittest": true,
	}
	pkgs := listPackages(t)
	matched := make([]bool, len(rules))
	for _, p := range pkgs {
		if p.Name != "main" && !testSupport[p.ImportPath] {
			for _, imp := range p.Imports {
				if imp == "testing" {
					t.Errorf("%s imports testing in production code", p.ImportPath)
				}
				if testSupport[imp] {
					t.Errorf("%s imports the test-support package %s in production code", p.ImportPath, imp)
				}
			}
		}
		for i, r := range rules {
			if p.ImportPath != r.pkgPrefix && !strings.HasPrefix(p.ImportPath, r.pkgPrefix+"/") {
				continue
			}
			matched[i] = true
			// Coffer packages are banned transitively; the standard
			// library only as a direct import (the etcd client itself
			// speaks gRPC over net/http, which is not our layering).
			for _, b := range r.banned {
				deps := p.Imports
				if strings.HasPrefix(b, mod) {
					deps = p.Deps
				}
				for _, d := range deps {
					if d == b {
						t.Errorf("%s depends on %s: %s", p.ImportPath, d, r.why)
					}
				}
			}
		}
	}
	// A rule whose package was renamed or removed would pass silently.
	for i, r := range rules {
		if !matched[i] {
			t.Errorf("rule for %s matches no package: update the rule (%s)", r.pkgPrefix, r.why)
		}
		for _, b := range r.banned {
			if strings.HasPrefix(b, mod) && !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.ImportPath == b }) {
				t.Errorf("rule for %s bans %s, which does not exist: update the rule", r.pkgPrefix, b)
			}
		}
	}
	for sp := range testSupport {
		if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.ImportPath == sp }) {
			t.Errorf("test-support package %s does not exist: update the list", sp)
		}
	}
}

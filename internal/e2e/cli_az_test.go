package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The CLI parses and prints the way az does: list flags in argparse's
// three spellings, leftover words rejected, real JMESPath, az's output
// formats, confirmation prompts, secret files and ids.

// startAzCLIEnv is startCLIEnv with az's output settings cleared, so a
// developer's AZURE_CORE_OUTPUT does not change what the tests read.
func startAzCLIEnv(t *testing.T) *cliEnv {
	c := startCLIEnv(t)
	c.env = append(c.env, "AZURE_CORE_OUTPUT=", "AZURE_CORE_NO_COLOR=")
	return c
}

// policyPerms returns the permissions of objectID's access-policy entry.
func policyPerms(t *testing.T, c *cliEnv, vault, objectID, kind string) []string {
	t.Helper()
	out := c.ok("keyvault", "show", "-n", vault, "--query", fmt.Sprintf("properties.accessPolicies[?objectId=='%s'].permissions.%s | [0]", objectID, kind))
	var perms []string
	for _, p := range asList(out) {
		perms = append(perms, p.(string))
	}
	sort.Strings(perms)
	return perms
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func TestCLIListFlags(t *testing.T) {
	c := startAzCLIEnv(t)
	c.ok("group", "create", "-n", "rg1")
	c.ok("keyvault", "create", "-n", "kvlists", "-g", "rg1")
	const oid = "00000000-0000-0000-0000-00000000a11c"
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"space-separated, as az", []string{"--secret-permissions", "get", "list"}, []string{"get", "list"}},
		{"repeated", []string{"--secret-permissions", "get", "--secret-permissions", "set"}, []string{"get", "set"}},
		{"comma-separated", []string{"--secret-permissions", "get,list,delete"}, []string{"delete", "get", "list"}},
		{"with =", []string{"--secret-permissions=backup", "--secret-permissions", "restore", "recover"}, []string{"backup", "recover", "restore"}},
		{"followed by another flag", []string{"--secret-permissions", "get", "list", "--object-id", oid}, []string{"get", "list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"keyvault", "set-policy", "-n", "kvlists", "--object-id", oid}, tt.args...)
			c.ok(append(args, "-o", "none")...)
			if got := policyPerms(t, c, "kvlists", oid, "secrets"); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("secrets = %v, want %v", got, tt.want)
			}
		})
	}

	// Other kinds are kept when one kind is set, as az's set-policy does.
	c.ok("keyvault", "set-policy", "-n", "kvlists", "--object-id", oid, "--key-permissions", "get", "list", "-o", "none")
	c.ok("keyvault", "set-policy", "-n", "kvlists", "--object-id", oid, "--certificate-permissions", "get", "--storage-permissions", "get", "list", "-o", "none")
	if got := policyPerms(t, c, "kvlists", oid, "keys"); strings.Join(got, " ") != "get list" {
		t.Errorf("keys = %v", got)
	}
	if got := policyPerms(t, c, "kvlists", oid, "storage"); strings.Join(got, " ") != "get list" {
		t.Errorf("storage = %v", got)
	}

	// A word nobody takes is an error, never silently dropped.
	c.fails("unrecognized arguments: stray", "keyvault", "show", "-n", "kvlists", "stray")
	c.fails("unrecognized arguments: --frobnicate", "keyvault", "show", "-n", "kvlists", "--frobnicate")
	c.fails("'shw' is not in the 'coffer keyvault' command group", "keyvault", "shw", "-n", "kvlists")
	c.fails("argument --scopes: expected at least one argument", "ad", "sp", "create-for-rbac", "-n", "x", "--scopes")
	// A permission list takes every word up to the next option, so a
	// misspelt permission reaches the service and is refused.
	c.fails("'lsit' is not valid", "keyvault", "set-policy", "-n", "kvlists", "--object-id", oid, "--secret-permissions", "get", "lsit")

	// --tags a=b c=d, on every command that takes tags.
	tagged := c.ok("group", "create", "-n", "rgtags", "--tags", "env=prod", "team=core", "flag")
	if tags := fmt.Sprint(tagged.(map[string]any)["tags"]); tags != "map[env:prod flag: team:core]" {
		t.Errorf("group tags = %s", tags)
	}
	for _, args := range [][]string{
		{"keyvault", "create", "-n", "kvtags", "-g", "rgtags", "--tags", "a=1", "b=2,3"},
		{"identity", "create", "-n", "idtags", "-g", "rgtags", "--tags", "a=1", "b=2,3"},
		{"vm", "create", "-n", "vmtags", "-g", "rgtags", "--tags", "a=1", "b=2,3"},
	} {
		out := c.ok(append(args, "--query", "tags")...)
		if got := fmt.Sprint(out); got != "map[a:1 b:2,3]" {
			t.Errorf("%v: tags = %s", args[:2], got)
		}
	}
	sec := c.ok("keyvault", "secret", "set", "--vault-name", "kvtags", "-n", "s", "--value", "v", "--tags", "x=1", "y=2", "--query", "tags")
	if got := fmt.Sprint(sec); got != "map[file-encoding:utf-8 x:1 y:2]" {
		t.Errorf("secret tags = %s", got)
	}

	// --assign-identity and --identities take several identities.
	uami := field(c.ok("identity", "create", "-n", "id1", "-g", "rg1"), "id")
	c.ok("identity", "create", "-n", "id2", "-g", "rg1")
	vm := c.ok("vm", "create", "-n", "vm1", "-g", "rg1", "--assign-identity", "[system]", uami, "--query", "identity")
	if typ := field(vm, "type"); typ != "SystemAssigned, UserAssigned" || len(vm.(map[string]any)["userAssignedIdentities"].(map[string]any)) != 1 {
		t.Errorf("vm create --assign-identity [system] ID: identity = %v", vm)
	}
	c.ok("vm", "identity", "remove", "-n", "vm1", "-g", "rg1", "--identities", "[system]", "id1")
	if typ := c.ok("vm", "show", "-n", "vm1", "-g", "rg1", "--query", "identity.type"); typ != nil && typ != "None" {
		t.Errorf("after vm identity remove [system] id1, identity type = %v", typ)
	}
	ids := c.ok("vm", "identity", "assign", "-n", "vm1", "-g", "rg1", "--identities", "id1", "id2")
	if n := len(ids.(map[string]any)["userAssignedIdentities"].(map[string]any)); n != 2 || field(ids, "type") != "UserAssigned" {
		t.Errorf("vm identity assign id1 id2 = %v", ids)
	}
}

func TestCLIQueryAndOutput(t *testing.T) {
	c := startAzCLIEnv(t)
	c.ok("group", "create", "-n", "rgq")
	c.ok("keyvault", "create", "-n", "kvq1", "-g", "rgq", "-o", "none")
	c.ok("keyvault", "create", "-n", "kvq2", "-g", "rgq", "--enable-rbac-authorization", "-o", "none")
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := c.run(args...)
		if code != 0 {
			t.Fatalf("coffer %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
		return out
	}

	queries := []struct {
		name, query, want string
	}{
		{"projection", "[].name", "kvq1\nkvq2\n"},
		{"filter", "[?properties.enableRbacAuthorization].name", "kvq2\n"},
		{"filter on a string", "[?name=='kvq1'].properties.enableRbacAuthorization", "false\n"},
		{"multiselect keeps its order", "[?name=='kvq1'].{vault:name, group:resourceGroup}", "kvq1\trgq\n"},
		{"function and pipe", "sort_by(@, &name)[-1] | name", "kvq2\n"},
		{"length", "length(@)", "2\n"},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			if got := run("keyvault", "list", "-g", "rgq", "--query", q.query, "-o", "tsv"); got != q.want {
				t.Errorf("--query %s -o tsv = %q, want %q", q.query, got, q.want)
			}
		})
	}
	c.fails("argument --query: invalid jmespath_type value: '[?name=='kvq1''", "keyvault", "list", "--query", "[?name=='kvq1'")
	c.fails("argument --output/-o: invalid choice: 'xml'", "keyvault", "list", "-o", "xml")
	// az's core.output setting from the environment is the default format.
	c.env = append(c.env, "AZURE_CORE_OUTPUT=tsv")
	if got := run("keyvault", "list", "-g", "rgq", "--query", "[].name"); got != "kvq1\nkvq2\n" {
		t.Errorf("AZURE_CORE_OUTPUT=tsv: %q", got)
	}
	c.env = append(c.env, "AZURE_CORE_OUTPUT=")
	if out := run("keyvault", "list", "-g", "rgq", "--query", "[0].nothere"); out != "" {
		t.Errorf("a query selecting nothing printed %q", out)
	}

	list := []string{"keyvault", "list", "-g", "rgq", "--query", "sort_by(@, &name)[].{name:name, rbac:properties.enableRbacAuthorization, days:properties.softDeleteRetentionInDays}"}
	formats := []struct{ format, want string }{
		{"json", "[\n  {\n    \"days\": 90,\n    \"name\": \"kvq1\",\n    \"rbac\": false\n  },\n  {\n    \"days\": 90,\n    \"name\": \"kvq2\",\n    \"rbac\": true\n  }\n]\n"},
		{"jsonc", "[\n  {\n    \"days\": 90,\n    \"name\": \"kvq1\",\n    \"rbac\": false\n  },\n  {\n    \"days\": 90,\n    \"name\": \"kvq2\",\n    \"rbac\": true\n  }\n]\n"}, // not a terminal: plain
		{"yaml", "- days: 90\n  name: kvq1\n  rbac: false\n- days: 90\n  name: kvq2\n  rbac: true\n"},
		{"yamlc", "- days: 90\n  name: kvq1\n  rbac: false\n- days: 90\n  name: kvq2\n  rbac: true\n"},
		{"table", "Name    Rbac    Days\n------  ------  ------\nkvq1    False   90\nkvq2    True    90\n"},
		{"tsv", "kvq1\tFalse\t90\nkvq2\tTrue\t90\n"},
		{"none", ""},
	}
	for _, f := range formats {
		t.Run("-o "+f.format, func(t *testing.T) {
			if got := run(append(list, "-o", f.format)...); got != f.want {
				t.Errorf("-o %s:\n%q\nwant\n%q", f.format, got, f.want)
			}
		})
	}
	// Without a query, tables show sorted scalar columns (id and type
	// dropped, nested objects dropped) and group list uses az's columns.
	if got := run("keyvault", "list", "-g", "rgq", "-o", "table"); got != "Location    Name    ResourceGroup\n----------  ------  ---------------\nlocal       kvq1    rgq\nlocal       kvq2    rgq\n" {
		t.Errorf("keyvault list -o table:\n%s", got)
	}
	if got := run("group", "show", "-n", "rgq", "-o", "table"); got != "Location    Name\n----------  ------\nlocal       rgq\n" {
		t.Errorf("group show -o table:\n%s", got)
	}
	// With a query the transformer is off; (az would order these columns
	// as the service sent the fields, which Coffer's CLI does not keep.)
	if got := run("group", "list", "--query", "[?name=='rgq']", "-o", "table"); !strings.Contains(got, "Name") || !strings.Contains(got, "Location") || strings.Contains(got, "Status") {
		t.Errorf("group list --query -o table:\n%s", got)
	}
	if got := run("group", "list", "-o", "table"); !strings.HasPrefix(got, "Name    Location    Status\n------  ----------  ---------\n") || !strings.Contains(got, "rgq     local       Succeeded\n") {
		t.Errorf("group list -o table:\n%s", got)
	}

	// On a terminal, jsonc is coloured with pygments' terminal colours.
	out, code := c.runTTY("", "keyvault", "show", "-n", "kvq1", "--query", "{name:name}", "-o", "jsonc")
	if code != 0 || !strings.Contains(out, "\x1b[94m\"name\"\x1b[39;49;00m:") || !strings.Contains(out, "\x1b[33m\"kvq1\"\x1b[39;49;00m") {
		t.Errorf("jsonc on a terminal: exit %d %q", code, out)
	}
}

func TestCLIConfirmation(t *testing.T) {
	c := startAzCLIEnv(t)
	for _, g := range []string{"rgy", "rgn", "rgnotty", "rgyes", "rgnowait"} {
		c.ok("group", "create", "-n", g, "-o", "none")
	}
	exists := func(g string) bool {
		_, _, code := c.run("group", "show", "-n", g)
		return code == 0
	}
	const prompt = "Are you sure you want to perform this operation? (y/n): "

	out, code := c.runTTY("y\n", "group", "delete", "-n", "rgy")
	if code != 0 || !strings.Contains(out, prompt) || exists("rgy") {
		t.Errorf("answer y: exit %d, output %q, still exists %v", code, out, exists("rgy"))
	}
	out, code = c.runTTY("maybe\nn\n", "group", "delete", "-n", "rgn")
	if code == 0 || strings.Count(out, prompt) != 2 || !strings.Contains(out, "Operation cancelled.") || !exists("rgn") {
		t.Errorf("answer maybe, n: exit %d, output %q, exists %v", code, out, exists("rgn"))
	}
	// No terminal: az refuses rather than deleting unasked.
	_, errOut, code := c.run("group", "delete", "-n", "rgnotty")
	if code == 0 || !strings.Contains(errOut, "Unable to prompt for confirmation as no tty available. Use --yes.") || !exists("rgnotty") {
		t.Errorf("no tty: exit %d, stderr %q, exists %v", code, errOut, exists("rgnotty"))
	}
	c.ok("group", "delete", "-n", "rgyes", "--yes")
	c.ok("group", "delete", "-n", "rgnowait", "-y", "--no-wait")
	for _, g := range []string{"rgyes", "rgnowait"} {
		if exists(g) {
			t.Errorf("%s survived group delete --yes", g)
		}
	}
	// vm delete asks too, as in az.
	c.ok("vm", "create", "-n", "vmc", "-g", "rgn", "-o", "none")
	c.fails("Operation cancelled.", "vm", "delete", "-n", "vmc", "-g", "rgn")
	c.ok("vm", "delete", "-n", "vmc", "-g", "rgn", "--yes")
}

func TestCLIKeyVaultFlags(t *testing.T) {
	c := startAzCLIEnv(t)
	c.fails("the following arguments are required: --resource-group/-g", "keyvault", "create", "-n", "kvnog")
	if out := c.ok("keyvault", "list", "--query", "[?name=='kvnog']"); len(asList(out)) != 0 {
		t.Errorf("keyvault create without -g created %v", out)
	}
	me := field(c.ok("ad", "sp", "list", "--display-name", "coffer-admin", "--query", "[0]"), "id")
	self := c.ok("keyvault", "create", "-n", "kvself", "-g", "rgkv", "--query", "properties.accessPolicies")
	if l := asList(self); len(l) != 1 || field(l[0], "objectId") != me {
		t.Fatalf("keyvault create: access policies %v, want one for %s", self, me)
	}
	for _, kind := range []string{"keys", "secrets", "certificates", "storage"} {
		if got := policyPerms(t, c, "kvself", me, kind); strings.Join(got, " ") != "all" {
			t.Errorf("creator's %s permissions = %v, want all", kind, got)
		}
	}
	none := c.ok("keyvault", "create", "-n", "kvnoself", "-g", "rgkv", "--no-self-perms", "--query", "properties.accessPolicies")
	if l := asList(none); len(l) != 0 {
		t.Errorf("keyvault create --no-self-perms: access policies %v", none)
	}
	// Three-state flags take an optional true/false, as az's do.
	if got := c.ok("keyvault", "create", "-n", "kvtri", "-g", "rgkv", "--enable-rbac-authorization", "true", "--query", "properties.enableRbacAuthorization"); got != true {
		t.Errorf("--enable-rbac-authorization true: %v", got)
	}
	if got := c.ok("keyvault", "create", "-n", "kvtri2", "-g", "rgkv", "--no-self-perms", "false", "--query", "length(properties.accessPolicies)"); got != float64(1) {
		t.Errorf("--no-self-perms false: %v policies", got)
	}
	c.fails("argument --enable-rbac-authorization: invalid choice: 'yes'", "keyvault", "create", "-n", "kvtri3", "-g", "rgkv", "--enable-rbac-authorization=yes")
	// With no policy, the creator cannot write a secret.
	c.fails("Forbidden", "keyvault", "secret", "set", "--vault-name", "kvnoself", "-n", "s", "--value", "v")

	// secret show --id / --version.
	v1 := c.ok("keyvault", "secret", "set", "--vault-name", "kvself", "-n", "s1", "--value", "one")
	c.ok("keyvault", "secret", "set", "--vault-name", "kvself", "-n", "s1", "--value", "two", "-o", "none")
	id1 := field(v1, "id")
	version1 := id1[strings.LastIndex(id1, "/")+1:]
	for _, args := range [][]string{
		{"--id", id1},
		{"--vault-name", "kvself", "-n", "s1", "--version", version1},
		{"--vault-name", "kvself", "-n", "s1", "-v", version1},
	} {
		if got := field(c.ok(append([]string{"keyvault", "secret", "show"}, args...)...), "value"); got != "one" {
			t.Errorf("secret show %v = %q, want the first version", args, got)
		}
	}
	latestID := id1[:strings.LastIndex(id1, "/")]
	if got := field(c.ok("keyvault", "secret", "show", "--id", latestID), "value"); got != "two" {
		t.Errorf("secret show --id %s = %q, want the latest", latestID, got)
	}
	// set-attributes --enabled false|(alone), by --id or by name and version.
	c.ok("keyvault", "secret", "set-attributes", "--id", id1, "--enabled", "false", "-o", "none")
	c.fails("disabled", "keyvault", "secret", "show", "--id", id1)
	if got := c.ok("keyvault", "secret", "show", "--id", latestID, "--query", "attributes.enabled"); got != true {
		t.Errorf("latest version enabled = %v after disabling the first", got)
	}
	c.ok("keyvault", "secret", "set-attributes", "--vault-name", "kvself", "-n", "s1", "--version", version1, "--enabled", "-o", "none")
	if got := field(c.ok("keyvault", "secret", "show", "--id", id1), "value"); got != "one" {
		t.Errorf("re-enabled first version = %q", got)
	}
	c.fails("SecretNotFound", "keyvault", "secret", "show", "--id", "https://kvself.vault.azure.net/secrets/nope")
	c.fails("usage error: --id ID | --vault-name VAULT --name NAME", "keyvault", "secret", "show", "--id", id1, "-n", "s1")
	c.fails("the following arguments are required: --vault-name, --name/-n", "keyvault", "secret", "show")
	c.fails("argument --id: invalid id", "keyvault", "secret", "show", "--id", "https://kvself.vault.azure.net/keys/k")
}

func TestCLISecretFiles(t *testing.T) {
	c := startAzCLIEnv(t)
	c.ok("keyvault", "create", "-n", "kvfiles", "-g", "rgf", "-o", "none")
	dir := t.TempDir()
	binary := make([]byte, 300)
	if _, err := rand.Read(binary); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, encoding string
		content        []byte
		want           []byte // the file download writes, when not content
		value          string // the stored value, when checked
	}{
		{name: "text", encoding: "", content: []byte("line one\r\nline two\n"), want: []byte("line one\nline two\n"), value: "line one\nline two\n"},
		{name: "base64", encoding: "base64", content: binary},
		{name: "hex", encoding: "hex", content: []byte{0, 1, 0xfe, 0xff}, value: "0001feff"},
		{name: "ascii", encoding: "ascii", content: []byte("plain\n"), value: "plain\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := filepath.Join(dir, tt.name+".in")
			if err := os.WriteFile(src, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"keyvault", "secret", "set", "--vault-name", "kvfiles", "-n", tt.name, "--file", src}
			if tt.encoding != "" {
				args = append(args, "--encoding", tt.encoding)
			}
			set := c.ok(args...)
			wantEnc := tt.encoding
			if wantEnc == "" {
				wantEnc = "utf-8"
			}
			if got := field(set, "tags", "file-encoding"); got != wantEnc {
				t.Errorf("file-encoding tag = %q, want %q", got, wantEnc)
			}
			if tt.value != "" && field(set, "value") != tt.value {
				t.Errorf("stored value %q, want %q", field(set, "value"), tt.value)
			}
			dst := filepath.Join(dir, tt.name+".out")
			// download reads the encoding back from the tag.
			c.ok("keyvault", "secret", "download", "--vault-name", "kvfiles", "-n", tt.name, "--file", dst)
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == nil {
				want = tt.content
			}
			if !bytes.Equal(got, want) {
				t.Errorf("downloaded %q, want %q", got, want)
			}
			c.fails("already exists", "keyvault", "secret", "download", "--vault-name", "kvfiles", "-n", tt.name, "--file", dst)
		})
	}
	// base64 is stored as MIME base64: 76-character lines.
	b64 := field(c.ok("keyvault", "secret", "show", "--vault-name", "kvfiles", "-n", "base64"), "value")
	if lines := strings.Split(strings.TrimSuffix(b64, "\n"), "\n"); len(lines) != 6 || len(lines[0]) != 76 {
		t.Errorf("base64 value has lines %d of %d", len(lines), len(lines[0]))
	}
	// An explicit --encoding overrides the tag; --id works for download.
	id := field(c.ok("keyvault", "secret", "show", "--vault-name", "kvfiles", "-n", "hex"), "id")
	raw := filepath.Join(dir, "hex.raw")
	c.ok("keyvault", "secret", "download", "--id", id, "--file", raw, "--encoding", "utf-8")
	if got, _ := os.ReadFile(raw); string(got) != "0001feff" {
		t.Errorf("download --encoding utf-8 = %q", got)
	}
	c.fails("incorrect usage: [Required] --value VALUE | --file PATH", "keyvault", "secret", "set", "--vault-name", "kvfiles", "-n", "x")
	c.fails("incorrect usage: [Required] --value VALUE | --file PATH", "keyvault", "secret", "set", "--vault-name", "kvfiles", "-n", "x", "--value", "v", "--file", raw)
	c.fails("'utf-7' is not a valid value for '--encoding'", "keyvault", "secret", "set", "--vault-name", "kvfiles", "-n", "x", "--file", raw, "-e", "utf-7")
	bad := filepath.Join(dir, "latin1.in")
	if err := os.WriteFile(bad, []byte{'c', 'a', 'f', 0xe9}, 0o600); err != nil {
		t.Fatal(err)
	}
	c.fails("Unable to decode file", "keyvault", "secret", "set", "--vault-name", "kvfiles", "-n", "x", "--file", bad)
}

// runTTY runs the CLI with stdin, stdout and stderr on a new pseudo
// terminal, types input, and returns everything the terminal showed.
func (c *cliEnv) runTTY(input string, args ...string) (string, int) {
	c.t.Helper()
	master, slave := openPTY(c.t)
	defer master.Close()
	cmd := exec.Command(c.coffer, args...)
	cmd.Env = c.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, master) // ends with EIO once the child has exited
		close(done)
	}()
	if input != "" {
		if _, err := master.Write([]byte(input)); err != nil {
			c.t.Fatal(err)
		}
	}
	err := cmd.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.t.Fatal("terminal output did not end")
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), code
}

// openPTY opens a pseudo-terminal pair through /dev/ptmx (Linux).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal for the prompt tests: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	return m, s
}

// TestCLIResourceGroupRequired: vm and identity commands have no default
// group, as in az: create requires --resource-group/-g (argparse's error),
// and the commands az resolves by id take -g -n or --ids (the error of
// az's parse_ids_arguments). Nothing lands in a group the user never named.
func TestCLIResourceGroupRequired(t *testing.T) {
	c := startAzCLIEnv(t)
	const argparse = "the following arguments are required: --resource-group/-g"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"vm", "create", "-n", "vmnog"}, argparse},
		{[]string{"vm", "credential", "create", "-n", "vmnog"}, argparse},
		{[]string{"vm", "credential", "revoke", "-n", "vmnog"}, argparse},
		{[]string{"identity", "create", "-n", "idnog"}, argparse},
		{[]string{"vm", "show", "-n", "vmnog"}, "(--resource-group | --ids) are required"},
		{[]string{"vm", "show"}, "(--resource-group --name | --ids) are required"},
		{[]string{"vm", "delete", "-n", "vmnog", "--yes"}, "(--resource-group | --ids) are required"},
		{[]string{"vm", "identity", "assign", "-n", "vmnog"}, "(--resource-group | --ids) are required"},
		{[]string{"vm", "identity", "remove", "-g", "rgreq"}, "(--name | --ids) are required"},
		{[]string{"identity", "show", "-n", "idnog"}, "(--resource-group | --ids) are required"},
		{[]string{"identity", "delete", "-g", "rgreq"}, "(--name | --ids) are required"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := c.run(tt.args...)
			if code == 0 || !strings.Contains(errOut, "ERROR: "+tt.want) {
				t.Errorf("exit %d, stderr %q; want %q", code, errOut, tt.want)
			}
		})
	}
	if out := c.ok("vm", "list"); len(asList(out)) != 0 {
		t.Errorf("a VM was created without -g: %v", out)
	}
	if out := c.ok("identity", "list"); len(asList(out)) != 0 {
		t.Errorf("an identity was created without -g: %v", out)
	}

	// With -g, or by --ids, they work.
	vm := field(c.ok("vm", "create", "-n", "vmreq", "-g", "rgreq"), "id")
	c.ok("identity", "create", "-n", "idreq", "-g", "rgreq", "-o", "none")
	got := c.ok("vm", "identity", "assign", "--ids", vm, "--identities", "[system]", "idreq")
	if typ := field(got, "type"); typ != "SystemAssigned, UserAssigned" {
		t.Errorf("vm identity assign --ids: identity = %v", got)
	}
	if got := field(c.ok("vm", "show", "--ids", vm), "name"); got != "vmreq" {
		t.Errorf("vm show --ids = %q", got)
	}
	c.ok("vm", "credential", "create", "-n", "vmreq", "-g", "rgreq", "-o", "none")
}

// TestCLIExitCodes: the binary exits as az does: 2 for what argparse
// rejects (the command line itself), 3 when the resource does not exist,
// 1 for every other failure.
func TestCLIExitCodes(t *testing.T) {
	c := startAzCLIEnv(t)
	c.ok("group", "create", "-n", "rgexit", "-o", "none")
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"group", "list", "-o", "none"}, 0},
		{[]string{"frobnicate"}, 2},
		{[]string{"keyvault", "shw"}, 2},
		{[]string{"group", "list", "--frobnicate"}, 2},
		{[]string{"group", "list", "stray"}, 2},
		{[]string{"group", "create"}, 2},
		{[]string{"vm", "create", "-n", "v"}, 2},
		{[]string{"group", "list", "-o", "xml"}, 2},
		{[]string{"group", "list", "--query", "["}, 2},
		{[]string{"ad", "sp", "create-for-rbac", "--scopes"}, 2},
		{[]string{"keyvault", "create", "-n", "kvexit", "-g", "rgexit", "--enable-rbac-authorization=yes"}, 2},
		{[]string{"vm", "show", "-n", "v"}, 1},
		{[]string{"group", "delete", "-n", "rgexit"}, 1}, // no tty: Operation cancelled.
		{[]string{"keyvault", "set-policy", "-n", "nope"}, 1},
		{[]string{"group", "show", "-n", "nope"}, 3},
		{[]string{"keyvault", "show", "-n", "nope", "-g", "rgexit"}, 3},
		{[]string{"keyvault", "show", "-n", "nope"}, 1}, // az: "The Vault 'nope' not found within subscription.", a CLIError
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if _, errOut, code := c.run(tt.args...); code != tt.want {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.want, errOut)
			}
		})
	}
}

// TestCLICreateForRBACDisplayName: create-for-rbac takes --display-name,
// az 2.45's name for the flag, as well as its aliases --name/-n; being
// idempotent by display name, all three reach the same app.
func TestCLICreateForRBACDisplayName(t *testing.T) {
	c := startAzCLIEnv(t)
	first := c.ok("ad", "sp", "create-for-rbac", "--display-name", "alias-bot")
	if field(first, "displayName") != "alias-bot" || field(first, "appId") == "" {
		t.Fatalf("create-for-rbac --display-name = %v", first)
	}
	for _, flag := range []string{"-n", "--name", "--display-name"} {
		again := c.ok("ad", "sp", "create-for-rbac", flag, "alias-bot")
		if field(again, "appId") != field(first, "appId") || field(again, "displayName") != "alias-bot" {
			t.Errorf("create-for-rbac %s alias-bot = %v, want app %s again", flag, again, field(first, "appId"))
		}
	}
	if l := asList(c.ok("ad", "sp", "list", "--display-name", "alias-bot")); len(l) != 1 {
		t.Errorf("ad sp list --display-name alias-bot = %v", l)
	}
	// az lists by prefix (startswith), not by the whole name.
	if l := asList(c.ok("ad", "sp", "list", "--display-name", "alias-")); len(l) != 1 || field(l[0], "displayName") != "alias-bot" {
		t.Errorf("ad sp list --display-name alias- = %v, want alias-bot", l)
	}
	c.fails("argument --display-name: expected one argument", "ad", "sp", "create-for-rbac", "--display-name")
}

// TestCLIPrincipalLookup: principals are found as az finds them: by one
// of their servicePrincipalNames (an appId, a managed identity's client
// id) or by object id, never by display name (az has no such fallback).
func TestCLIPrincipalLookup(t *testing.T) {
	c := startAzCLIEnv(t)
	sub := field(c.ok("account", "show"), "id")
	c.ok("keyvault", "create", "-n", "kvlookup", "-g", "rglookup", "-o", "none")
	appID := field(c.ok("ad", "sp", "create-for-rbac", "-n", "lookup-bot"), "appId")
	oid := field(c.ok("ad", "sp", "show", "--id", appID), "id")
	if oid == "" {
		t.Fatal("ad sp show --id APPID: no id")
	}
	if got := field(c.ok("ad", "sp", "show", "--id", oid), "appId"); got != appID {
		t.Errorf("ad sp show --id OBJECT_ID: appId %q, want %q", got, appID)
	}
	uami := c.ok("identity", "create", "-n", "lookup-id", "-g", "rglookup")
	const unknownGUID = "00000000-0000-0000-0000-0000000b0b0b"

	failures := []struct {
		args     []string
		want     string
		wantCode int
	}{
		{[]string{"ad", "sp", "show", "--id", "lookup-bot"}, "Service principal 'lookup-bot' doesn't exist", 3},
		{[]string{"ad", "sp", "delete", "--id", "lookup-bot"}, "Service principal 'lookup-bot' doesn't exist", 3},
		{[]string{"ad", "sp", "credential", "reset", "--id", "lookup-bot"}, "Service principal 'lookup-bot' doesn't exist", 3},
		{[]string{"ad", "sp", "show", "--id", unknownGUID}, "Request_ResourceNotFound", 3},
		{[]string{"keyvault", "set-policy", "-n", "kvlookup", "--spn", "lookup-bot", "--secret-permissions", "get"}, "Unable to get object id from principal name.", 1},
		{[]string{"keyvault", "set-policy", "-n", "kvlookup", "--spn", oid, "--secret-permissions", "get"}, "Unable to get object id from principal name.", 1},
		{[]string{"role", "assignment", "create", "--assignee", "lookup-bot", "--role", "Reader", "--scope", "/subscriptions/" + sub}, "Cannot find user or service principal in graph database for 'lookup-bot'", 1},
		{[]string{"role", "assignment", "create", "--assignee", unknownGUID, "--role", "Reader", "--scope", "/subscriptions/" + sub}, "Cannot find user or service principal", 1},
	}
	for _, tt := range failures {
		t.Run(strings.Join(tt.args[:3], " ")+" "+tt.args[len(tt.args)-1], func(t *testing.T) {
			_, errOut, code := c.run(tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.want) {
				t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, tt.wantCode, tt.want)
			}
		})
	}
	if _, errOut, _ := c.run("keyvault", "set-policy", "-n", "kvlookup", "--spn", "lookup-bot", "--secret-permissions", "get"); !strings.Contains(errOut, "WARNING: Unable to find user with spn 'lookup-bot'") {
		t.Errorf("set-policy --spn NAME: stderr %q lacks az's warning", errOut)
	}

	// --spn takes any servicePrincipalName: an appId, or a managed
	// identity's client id.
	c.ok("keyvault", "set-policy", "-n", "kvlookup", "--spn", appID, "--secret-permissions", "get", "list", "-o", "none")
	if got := policyPerms(t, c, "kvlookup", oid, "secrets"); strings.Join(got, " ") != "get list" {
		t.Errorf("set-policy --spn APPID: permissions of %s = %v", oid, got)
	}
	c.ok("keyvault", "set-policy", "-n", "kvlookup", "--spn", field(uami, "clientId"), "--secret-permissions", "get", "-o", "none")
	if got := policyPerms(t, c, "kvlookup", field(uami, "principalId"), "secrets"); strings.Join(got, " ") != "get" {
		t.Errorf("set-policy --spn CLIENT_ID of a managed identity: permissions = %v", got)
	}
	c.ok("keyvault", "delete-policy", "-n", "kvlookup", "--spn", appID, "-o", "none")
	if got := policyPerms(t, c, "kvlookup", oid, "secrets"); len(got) != 0 {
		t.Errorf("after delete-policy --spn APPID: permissions = %v", got)
	}

	// --assignee: an appId, or an object id the directory knows (a
	// managed identity's principal id).
	scope := "/subscriptions/" + sub + "/resourceGroups/rglookup"
	c.ok("role", "assignment", "create", "--assignee", appID, "--role", "Reader", "--scope", scope, "-o", "none")
	c.ok("role", "assignment", "create", "--assignee", field(uami, "principalId"), "--role", "Reader", "--scope", scope, "-o", "none")
	if l := asList(c.ok("role", "assignment", "list", "--assignee", oid, "--scope", scope)); len(l) != 1 {
		t.Errorf("role assignment list --assignee OBJECT_ID = %v", l)
	}
	c.ok("ad", "sp", "delete", "--id", oid)
	// An appId is a GUID: with no principal of that name, az takes it as
	// an object id, which Graph then does not find.
	c.fails("Request_ResourceNotFound", "ad", "sp", "show", "--id", appID)
}

// TestCLINoSubscription: logged in as a principal with no role, which (as
// in Azure) sees no subscription, the data plane works, account show shows
// the tenant as az does, and commands on resources fail before sending
// anything, naming the login and the two ways out — never with a
// "/subscriptions//…" path.
func TestCLINoSubscription(t *testing.T) {
	c := startAzCLIEnv(t)
	c.ok("keyvault", "create", "-n", "kvnosub", "-g", "rgnosub", "-o", "none")
	c.ok("keyvault", "secret", "set", "--vault-name", "kvnosub", "-n", "s", "--value", "v", "-o", "none")
	sp := c.ok("ad", "sp", "create-for-rbac", "-n", "nosub-bot")
	appID := field(sp, "appId")
	c.ok("keyvault", "set-policy", "-n", "kvnosub", "--spn", appID, "--secret-permissions", "get", "list", "-o", "none")
	c.ok("login", "--service-principal", "-u", appID, "-p", field(sp, "password"), "-o", "none")

	if got := field(c.ok("keyvault", "secret", "show", "--vault-name", "kvnosub", "-n", "s"), "value"); got != "v" {
		t.Errorf("secret show without a subscription = %q", got)
	}
	if l := asList(c.ok("keyvault", "secret", "list", "--vault-name", "kvnosub")); len(l) != 1 {
		t.Errorf("secret list without a subscription = %v", l)
	}
	acct := c.ok("account", "show")
	if field(acct, "name") != "N/A(tenant level account)" || field(acct, "id") != field(acct, "tenantId") || field(acct, "user", "name") != appID {
		t.Errorf("account show without a subscription = %v", acct)
	}
	for _, args := range [][]string{
		{"group", "list"},
		{"group", "create", "-n", "rgx"},
		{"keyvault", "list"},
		{"keyvault", "show", "-n", "kvnosub", "-g", "rgnosub"},
		{"vm", "create", "-n", "v", "-g", "rgnosub"},
		{"identity", "list"},
		{"role", "assignment", "list"},
	} {
		_, errOut, code := c.run(args...)
		for _, want := range []string{"ERROR: the credential in use, service principal " + appID, "sees no subscription", "`coffer role assignment create --assignee " + appID, "`coffer logout`"} {
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("%v: exit %d, stderr lacks %q:\n%s", args, code, want, errOut)
			}
		}
		if strings.Contains(errOut, "/subscriptions//") || strings.Contains(errOut, "https://") {
			t.Errorf("%v: the error shows the request:\n%s", args, errOut)
		}
	}
	c.ok("logout")
	if l := asList(c.ok("group", "list")); len(l) == 0 {
		t.Error("after logout, the admin sees no group")
	}
}

// exportValue returns NAME's value in `coffer env` output.
func exportValue(t *testing.T, out, name string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if m := envLine.FindStringSubmatch(line); m != nil && m[1] == name {
			return strings.ReplaceAll(m[2], `'\''`, "'")
		}
	}
	t.Fatalf("no export %s in:\n%s", name, out)
	return ""
}

// TestCLIEnvIdentityReplaces: `coffer env --identity` names its machine
// credential "coffer-env" and each call replaces the previous one, so
// credentials (which never expire) do not pile up; credentials from `vm
// credential create` are left alone.
func TestCLIEnvIdentityReplaces(t *testing.T) {
	c := startAzCLIEnv(t)
	c.ok("vm", "create", "-n", "vmenv", "-g", "rgenv", "--assign-identity", "-o", "none")
	standalone := field(c.ok("vm", "credential", "create", "-n", "vmenv", "-g", "rgenv"), "credential")
	env := func() (endpoint, header, caFile, mgmt string) {
		out, errOut, code := c.run("env", "--identity", "vmenv", "-g", "rgenv")
		if code != 0 {
			t.Fatalf("env --identity: exit %d\n%s", code, errOut)
		}
		return exportValue(t, out, "IDENTITY_ENDPOINT"), exportValue(t, out, "IDENTITY_HEADER"), exportValue(t, out, "SSL_CERT_FILE"), exportValue(t, out, "COFFER_MANAGEMENT_URL")
	}
	endpoint, first, caFile, mgmt := env()
	_, second, _, _ := env()
	_, third, _, _ := env()

	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	tokenStatus := func(header string) int {
		req, err := http.NewRequest("GET", endpoint+"?api-version=2019-08-01&resource="+url.QueryEscape("https://vault.azure.net"), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-IDENTITY-HEADER", header)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		name, header string
		ok           bool
	}{
		{"first env credential (replaced)", first, false},
		{"second env credential (replaced)", second, false},
		{"latest env credential", third, true},
		{"vm credential create", standalone, true},
	} {
		if got := tokenStatus(tt.header); (got == http.StatusOK) != tt.ok {
			t.Errorf("%s: token endpoint answered %d, want success %v", tt.name, got, tt.ok)
		}
	}

	// The ARM extension behind it: an optional body names the credential.
	tok := field(c.ok("account", "get-access-token"), "accessToken")
	sub := field(c.ok("account", "show"), "id")
	path := mgmt + "/subscriptions/" + sub + "/resourceGroups/rgenv/providers/Microsoft.Compute/virtualMachines/vmenv/cofferCredentials?api-version=2024-07-01"
	post := func(body string) (int, string) {
		req, err := http.NewRequest("POST", path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		body     string
		status   int
		contains string
	}{
		{`{"displayName":"coffer-env"}`, 200, `"displayName":"coffer-env"`},
		{``, 200, `"credential":"cofferm_`},
		{`{"displayName":"` + strings.Repeat("x", 129) + `"}`, 400, "InvalidRequestContent"},
		{`{"displayName":`, 400, "InvalidRequestContent"},
		{`{"displayName":7}`, 400, "InvalidRequestContent"},
	} {
		if status, body := post(tt.body); status != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("POST cofferCredentials %q = %d %s; want %d with %q", tt.body, status, body, tt.status, tt.contains)
		}
	}
	if got := tokenStatus(third); got == http.StatusOK {
		t.Errorf("a new coffer-env credential did not replace the previous one (token endpoint %d)", got)
	}
}

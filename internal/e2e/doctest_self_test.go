package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestDocParse checks the README test's extractor: what it runs, and that
// every mistake in an annotation is an error rather than a block silently
// turned off.
func TestDocParse(t *testing.T) {
	fence := "```"
	for _, tc := range []struct {
		name    string
		doc     string
		wantErr string
		// sections with something to run: title -> number of run blocks
		want map[string]int
	}{
		{
			name: "sections and languages",
			doc: "# T\n" + fence + "sh\necho top\n" + fence + "\n## A\n" + fence + "go\nfunc main() {}\n" + fence + "\n" +
				fence + "bash\necho a\n" + fence + "\n## B\ntext only\n## C\n" + fence + "\necho unlabelled\n" + fence + "\n",
			want: map[string]int{"(top)": 1, "A": 1, "C": 1},
		},
		{
			name: "not-run with a reason",
			doc:  "## A\n<!-- not-run: needs etcd -->\n\n" + fence + "sh\ncoffer serve --etcd-endpoints http://etcd1:2379\n" + fence + "\n",
			want: map[string]int{},
		},
		{
			name:    "not-run without a reason",
			doc:     "## A\n<!-- not-run: -->\n" + fence + "sh\nx\n" + fence + "\n",
			wantErr: "needs a reason",
		},
		{
			name:    "placeholder in a run block",
			doc:     "## A\n" + fence + "sh\n./coffer login -u <appId>\n" + fence + "\n",
			wantErr: "placeholder <appId>",
		},
		{
			name: "placeholder in a not-run block is prose",
			doc:  "## A\n<!-- not-run: template -->\n" + fence + "sh\n./coffer login -u <appId>\n" + fence + "\n",
			want: map[string]int{},
		},
		{
			name:    "annotation not before a block",
			doc:     "## A\n<!-- not-run: why -->\nsome prose\n" + fence + "sh\nx\n" + fence + "\n",
			wantErr: "must come right before a code block",
		},
		{
			name:    "unknown block option",
			doc:     "## A\n<!-- doctest: expext=\"x\" -->\n" + fence + "sh\nx\n" + fence + "\n",
			wantErr: `unknown block option "expext"`,
		},
		{
			name:    "malformed annotation",
			doc:     "## A\n<!-- doctest netns -->\n" + fence + "sh\nx\n" + fence + "\n",
			wantErr: "malformed annotation",
		},
		{
			name:    "unknown section option",
			doc:     "## A\n<!-- doctest-section: netnss -->\n" + fence + "sh\nx\n" + fence + "\n",
			wantErr: `unknown section option "netnss"`,
		},
		{
			name:    "section options after a block",
			doc:     "## A\n" + fence + "sh\nx\n" + fence + "\n<!-- doctest-section: netns -->\n",
			wantErr: "before the section's first code block",
		},
		{
			name:    "hosts without netns",
			doc:     "## A\n<!-- doctest-section: hosts=\"a b\" -->\n" + fence + "sh\nx\n" + fence + "\n",
			wantErr: "need netns",
		},
		{
			name:    "scratch without netns",
			doc:     "## A\n<!-- doctest-section: scratch=/etc -->\n" + fence + "sh\nx\n" + fence + "\n",
			wantErr: "scratch= needs netns",
		},
		{
			name:    "unknown tool",
			doc:     "## A\n<!-- doctest-section: netns needs=az,ruby -->\n" + fence + "sh\nx\n" + fence + "\n",
			wantErr: "needs=ruby",
		},
		{
			name:    "continues with nothing before",
			doc:     "## A\n<!-- doctest-section: continues -->\n" + fence + "sh\nx\n" + fence + "\n",
			wantErr: "continues a section that runs nothing",
		},
		{
			name: "continues joins the previous section",
			doc: "## A\n<!-- doctest-section: netns addr=10.0.0.5/32 scratch=/etc -->\n" + fence + "sh\nx=1\n" + fence + "\n" +
				"## B\n<!-- doctest-section: continues -->\n" + fence + "sh\necho $x\n" + fence + "\n",
			want: map[string]int{"A": 2},
		},
		{
			name:    "unclosed block",
			doc:     "## A\n" + fence + "sh\nx\n",
			wantErr: "never closed",
		},
		{
			name: "file= writes a non-shell block",
			doc:  "## A\n<!-- doctest: file=prog.py -->\n" + fence + "python\nprint(1)\n" + fence + "\n" + fence + "sh\npython3 prog.py\n" + fence + "\n",
			want: map[string]int{"A": 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secs, err := parseDoc("doc.md", tc.doc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, c := range chains(secs) {
				_, _, blocks := c.script()
				got[c.name()] = len(blocks)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("runnable sections = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("section %q runs %d blocks, want %d (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

// TestDocRunner checks that the runner fails what a reader would see fail,
// passes what works, and never hangs on what a section leaves running.
func TestDocRunner(t *testing.T) {
	fence := "```"
	block := func(s string) string { return fence + "sh\n" + s + "\n" + fence + "\n" }
	for _, tc := range []struct {
		name string
		doc  string
		// substrings of the problems reported, in order; none means success
		want []string
	}{
		{"success with variables across blocks", "## A\n" + block("X=$(echo hi)") + block(`test "$X" = hi`), nil},
		{"a failing command", "## A\n" + block("true\nfalse\ntrue"), []string{"doc.md:4: exit status 1: false"}},
		{"a failure inside a command substitution argument", "## A\n" + block(`echo "got: $(false)"`), []string{"doc.md:3: exit status 1: false"}},
		{"a pipeline hides no failure", "## A\n" + block("false | cat"), []string{"doc.md:3: exit status 1"}},
		{"an unset variable", "## A\n" + block("echo $NOT_SET_ANYWHERE"), []string{"exited with exit status 1"}},
		{"expect= met", "## A\n<!-- doctest: expect=\"My Secret\" -->\n" + block("echo 'value: My Secret'"), nil},
		{"expect= unmet", "## A\n<!-- doctest: expect=\"My Secret\" -->\n" + block("echo '{\"error\":{\"code\":\"Forbidden\"}}'"), []string{`doc.md:3: the block's output lacks "My Secret"`}},
		{"file= then run it", "## A\n<!-- doctest: file=hello.sh -->\n" + fence + "text\necho from-file\n" + fence + "\n" + "<!-- doctest: expect=from-file -->\n" + block("bash hello.sh"), nil},
		{"background processes end with the section", "## A\n" + block("sleep 300 &\nsleep 300 >/dev/null 2>&1 &\necho started"), nil},
		{"the environment is a fresh reader's", "## A\n" + block(`test -z "${COFFER_DATA_DIR:-}" && test -z "${AZURE_CLIENT_SECRET:-}"`+"\n"+`test "$HOME" != /root && test -d "$HOME" && test "$PWD" = "$(pwd)"`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("COFFER_DATA_DIR", "/nonexistent")
			t.Setenv("AZURE_CLIENT_SECRET", "leaked")
			secs, err := parseDoc("doc.md", tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			cs := chains(secs)
			if len(cs) != 1 {
				t.Fatalf("%d chains", len(cs))
			}
			start := time.Now()
			res, err := runChainScript(t, cs[0], chainEnv{work: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("section took %s: background processes were not ended", d)
			}
			if len(res.problems) != len(tc.want) {
				t.Fatalf("problems = %q, want %d matching %q\nlog:\n%s", res.problems, len(tc.want), tc.want, res.log)
			}
			for i, w := range tc.want {
				if !strings.Contains(res.problems[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, res.problems[i], w)
				}
			}
		})
	}
}

// TestDocRunnerNetns checks the namespace features a section may ask for:
// pinned names, extra addresses, a throwaway /etc, and a private
// /etc/hosts that the section may append to.
func TestDocRunnerNetns(t *testing.T) {
	requireRootAndIP(t)
	fence := "```"
	doc := "## A\n<!-- doctest-section: netns hosts=\"login.example.test\" addr=10.0.0.5/32 scratch=/etc -->\n" + fence + "sh\n" +
		"getent hosts login.example.test | grep 127.0.0.1\n" +
		"ip -o addr show dev lo | grep 10.0.0.5/32\n" +
		"install -d -m 0755 /etc/coffer-doctest\n" +
		"echo x > /etc/coffer-doctest/file\n" +
		"echo '127.0.0.1 vault.example.test' >> /etc/hosts\n" +
		"getent hosts vault.example.test\n" + fence + "\n"
	secs, err := parseDoc("doc.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runChainScript(t, chains(secs)[0], chainEnv{work: t.TempDir(), netns: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.problems) > 0 {
		t.Fatalf("problems: %q\n%s", res.problems, res.log)
	}
	if _, err := os.Stat("/etc/coffer-doctest"); err == nil {
		t.Errorf("the section's /etc/coffer-doctest reached the host's /etc")
	}
	hosts, _ := os.ReadFile("/etc/hosts")
	if strings.Contains(string(hosts), "vault.example.test") {
		t.Errorf("the section's /etc/hosts line reached the host's /etc/hosts")
	}
}

// TestDocRunnerTools checks needs=az,python: the system Python with the
// Azure packages comes first on PATH, and az starts from an empty
// configuration directory.
func TestDocRunnerTools(t *testing.T) {
	requireRootAndIP(t)
	requireDocTool(t, "az")
	requireDocTool(t, "python")
	fence := "```"
	doc := "## A\n<!-- doctest-section: netns needs=az,python env=REQUESTS_CA_BUNDLE=$HOME/ca.pem -->\n" + fence + "sh\n" +
		"test \"$(command -v python3)\" = /usr/bin/python3\n" +
		"python3 -c 'import azure.identity, azure.keyvault.secrets'\n" +
		"test \"$AZURE_CONFIG_DIR\" = \"$HOME/.azure\" && test \"$REQUESTS_CA_BUNDLE\" = \"$HOME/ca.pem\"\n" +
		"az account list -o tsv\n" + fence + "\n"
	secs, err := parseDoc("doc.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runChainScript(t, chains(secs)[0], chainEnv{work: t.TempDir(), netns: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.problems) > 0 {
		t.Fatalf("problems: %q\n%s", res.problems, res.log)
	}
}

// Command vulngate reads govulncheck's JSON output (-format json) on stdin
// and fails when the code calls a vulnerable function (a finding whose
// trace reaches a symbol) that is not in the accepted list. Findings in
// modules or packages that are only required or imported are counted, not
// failed: their vulnerable code is not reached.
//
// The accepted list (-accept) holds one OSV id per line, then why it is
// accepted; '#' starts a comment. It exists for what the project cannot
// fix by itself — standard-library findings fixed only in a newer Go
// toolchain than CI can install — and an entry that no longer matches a
// called finding is reported so that it is removed.
//
// Usage: govulncheck -format json ./... | go run ./internal/tools/vulngate -accept scripts/govulncheck-accepted.txt
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// frame is one step of a finding's trace; the first is the vulnerable
// symbol, the last the project's code that reaches it.
type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type message struct {
	Finding *finding `json:"finding"`
}

// called is a vulnerability the code reaches, with one example trace end.
type called struct {
	module, version, fixed, symbol, from string
}

// gate sorts the findings of govulncheck's stream r: the called ones, and
// the count of the ones only required or imported.
func gate(r io.Reader) (map[string]called, int, error) {
	dec := json.NewDecoder(r)
	calls := map[string]called{}
	notCalled := map[string]bool{}
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("reading govulncheck's JSON: %w", err)
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 {
			continue
		}
		top := f.Trace[0]
		if top.Function == "" {
			notCalled[f.OSV] = true
			continue
		}
		if _, seen := calls[f.OSV]; seen {
			continue
		}
		c := called{module: top.Module, version: top.Version, fixed: f.FixedVersion, symbol: top.Package + "." + top.Function}
		if top.Receiver != "" {
			c.symbol = top.Package + "." + strings.TrimPrefix(top.Receiver, "*") + "." + top.Function
		}
		if last := f.Trace[len(f.Trace)-1]; last.Position != nil {
			c.from = fmt.Sprintf("%s:%d", last.Position.Filename, last.Position.Line)
		}
		calls[f.OSV] = c
	}
	for id := range calls {
		delete(notCalled, id)
	}
	return calls, len(notCalled), nil
}

// readAccepted parses the accepted list: id, then the reason.
func readAccepted(path string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		id, why, _ := strings.Cut(strings.TrimSpace(line), " ")
		if id != "" {
			out[id] = strings.TrimSpace(why)
		}
	}
	return out, sc.Err()
}

func main() {
	accept := flag.String("accept", "", "file of accepted OSV ids (one per line, then why)")
	flag.Parse()
	accepted, err := readAccepted(*accept)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	calls, notCalled, err := gate(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	ids := make([]string, 0, len(calls))
	for id := range calls {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	failed := 0
	for _, id := range ids {
		c := calls[id]
		status := "CALLED"
		if why, ok := accepted[id]; ok {
			status = "accepted (" + why + ")"
		} else {
			failed++
		}
		fmt.Printf("%s %s@%s (fixed in %s): %s, reached from %s: %s\n", id, c.module, c.version, c.fixed, c.symbol, c.from, status)
	}
	for id := range accepted {
		if _, ok := calls[id]; !ok {
			fmt.Printf("note: accepted %s is no longer found; remove it from %s\n", id, *accept)
		}
	}
	fmt.Printf("vulngate: %d called vulnerabilities (%d not accepted); %d more in required modules or imported packages whose vulnerable code is not called\n",
		len(calls), failed, notCalled)
	if failed > 0 {
		fmt.Println("vulngate: upgrade the module to its fixed version (go get module@version; go mod tidy), or the Go toolchain for standard-library findings")
		os.Exit(1)
	}
}

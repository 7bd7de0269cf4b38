package main

import (
	"strings"
	"testing"
)

// TestGate: only findings whose trace reaches a function count as called;
// module- and package-level ones are counted apart, each id once.
func TestGate(t *testing.T) {
	stream := `{"config":{"protocol_version":"v1.0.0"}}
{"osv":{"id":"GO-1"}}
{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"example.com/m","version":"v1.1.0"}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"example.com/m","version":"v1.1.0","package":"example.com/m/p"}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"example.com/m","version":"v1.1.0","package":"example.com/m/p","function":"Parse"},{"module":"github.com/coffer-dev/coffer","package":"x","function":"main","position":{"filename":"cmd/x/main.go","line":7}}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"example.com/m","version":"v1.1.0","package":"example.com/m/p","function":"Other","receiver":"*T"}]}}
{"finding":{"osv":"GO-2","fixed_version":"v0.3.0","trace":[{"module":"example.com/n","version":"v0.2.0","package":"example.com/n"}]}}
{"finding":{"osv":"GO-3","trace":[{"module":"stdlib","version":"v1.26.8"}]}}
`
	calls, notCalled, err := gate(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := calls["GO-1"]
	if len(calls) != 1 || !ok || c.symbol != "example.com/m/p.Parse" || c.from != "cmd/x/main.go:7" || c.fixed != "v1.2.0" {
		t.Errorf("called = %+v", calls)
	}
	if notCalled != 2 {
		t.Errorf("not called = %d, want 2 (GO-2, GO-3)", notCalled)
	}
	if _, _, err := gate(strings.NewReader(`{"finding":`)); err == nil {
		t.Error("truncated stream accepted")
	}
}

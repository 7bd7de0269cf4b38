package metrics

import "testing"

func TestReason(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "none",
		"Unauthorized":            "Unauthorized",
		"AADSTS7000215":           "AADSTS7000215",
		"Authorization_Request-x": "Authorization_Request_x",
		"a b{c}\"d\n":             "a_b_c__d_",
		"ÄÖ":                      "__",
		string(make([]byte, 100)): "________________________________________________",
	} {
		if got := Reason(in); got != want {
			t.Errorf("Reason(%q) = %q, want %q", in, got, want)
		}
	}
}

package etcdkv

import "testing"

func TestProgressSafe(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"3.4.23", false}, // Debian bookworm's
		{"3.4.30", false},
		{"3.4.31", true},
		{"3.5.12", false},
		{"3.5.13", true},
		{"3.6.0", true},
		{"3.6.0-rc.1", true},
		{"3.7.3", true},
		{"4.0.0", true},
		{"3.3.27", false},
		{"2.3.8", false},
		{"", false},
		{"3.5", false},
		{"x.y.z", false},
	}
	for _, tt := range tests {
		if got := progressSafe(tt.v); got != tt.want {
			t.Errorf("progressSafe(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

package errs_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/coffer-dev/coffer/internal/errs"
)

func TestE(t *testing.T) {
	inner := errs.E(errs.Op("store.Get"), errs.NotExist, errs.Code("SecretNotFound"), errs.Inner("X"), errs.Msg("A secret with (name) s was not found."))
	tests := []struct {
		name      string
		err       error
		kind      errs.Kind
		code      errs.Code
		inner     errs.Inner
		msg       errs.Msg
		errString string
	}{
		{"kind only", errs.E(errs.Invalid), errs.Invalid, "", "", "", "invalid"},
		{"op and msg", errs.E(errs.Op("a.B"), errs.Permission, "not yours"), errs.Permission, "", "", "not yours", "a.B: not yours"},
		{"wrapped plain error", errs.E(errs.Op("a.B"), errs.Internal, io.EOF), errs.Internal, "", "", "", "a.B: internal error: EOF"},
		{"inherits from inner", errs.E(errs.Op("vaults.Get"), inner), errs.NotExist, "SecretNotFound", "X", "A secret with (name) s was not found.",
			"vaults.Get: A secret with (name) s was not found.: store.Get: A secret with (name) s was not found."},
		{"outer kind and code win", errs.E(errs.Conflict, errs.Code("Other"), inner), errs.Conflict, "Other", "X", "A secret with (name) s was not found.", ""},
		{"nil error ignored", errs.E(errs.Unavailable, error(nil)), errs.Unavailable, "", "", "", "unavailable"},
		{"through fmt wrapping", fmt.Errorf("ctx: %w", inner), errs.NotExist, "SecretNotFound", "X", "A secret with (name) s was not found.", ""},
		{"plain error", io.EOF, errs.Other, "", "", "", ""},
		{"nil", nil, errs.Other, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k := errs.KindOf(tt.err); k != tt.kind {
				t.Errorf("KindOf = %v, want %v", k, tt.kind)
			}
			code, in, msg := errs.Details(tt.err)
			if code != tt.code || in != tt.inner || msg != tt.msg {
				t.Errorf("Details = %q %q %q, want %q %q %q", code, in, msg, tt.code, tt.inner, tt.msg)
			}
			if tt.errString != "" && tt.err.Error() != tt.errString {
				t.Errorf("Error() = %q, want %q", tt.err.Error(), tt.errString)
			}
		})
	}
}

func TestIs(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", errs.E(errs.NotExist, errs.Code("VaultNotFound")))
	tests := []struct {
		target error
		want   bool
	}{
		{errs.E(errs.NotExist), true},
		{errs.E(errs.Code("VaultNotFound")), true},
		{errs.E(errs.NotExist, errs.Code("VaultNotFound")), true},
		{errs.E(errs.NotExist, errs.Code("SecretNotFound")), false},
		{errs.E(errs.Exist), false},
		{errs.E(errs.Op("x")), false}, // no kind, no code: matches nothing
		{io.EOF, false},
	}
	for _, tt := range tests {
		if got := errors.Is(err, tt.target); got != tt.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, tt.target, got, tt.want)
		}
	}
}

func TestKindStrings(t *testing.T) {
	seen := map[string]errs.Kind{}
	for k := errs.Other; k <= errs.MethodNotAllowed; k++ {
		s := k.String()
		if prev, dup := seen[s]; dup {
			t.Errorf("kinds %d and %d both print %q", prev, k, s)
		}
		seen[s] = k
	}
}

func TestBadArgumentPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("errs.E(42) did not panic")
		}
	}()
	_ = errs.E(42)
}

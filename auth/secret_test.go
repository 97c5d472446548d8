package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestCheckSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{"tutorial's secret", "secret", false},
		{"changeme", "changeme", false},
		{"password", "password", false},
		{"your-secret-key", "your-secret-key", false},
		{"supersecret upper case", "SuperSecret", false},
		{"empty", "", false},
		{"31 bytes", strings.Repeat("k3yM4t3r1aL-", 3)[:31], false},
		{"one byte repeated", strings.Repeat("a", 64), false},
		{"zero bytes", string(make([]byte, 32)), false},
		{"short pattern repeated", strings.Repeat("secret", 8), false},
		{"pattern cut off", strings.Repeat("abc123", 6)[:35], false},
		{"few distinct bytes", "aabbaabbccddaabbccddaabbddccbbaa", false},
		{"long published example", "your-secret-key-change-in-production", false},
		{"FastAPI docs key", "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7", false},
		{"random hex", "3f9a1c07e4b2d85a6f0e19c7b3d4a2e8", true},
		{"random text", "kT9#vQ2!mZ7@pL4$wX8%rN1^bH6&yJ3*", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckSecret([]byte(tt.secret))
			if tt.ok != (err == nil) {
				t.Fatalf("CheckSecret() = %v, want ok=%v", err, tt.ok)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrWeakSecret) {
				t.Errorf("error %v does not wrap ErrWeakSecret", err)
			}
			if len(tt.secret) > len("secret") && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := NewSecret(), NewSecret()
	if len(a) != MinSecretLen || bytes.Equal(a, b) {
		t.Fatalf("NewSecret() = %x, %x", a, b)
	}
	if err := CheckSecret(a); err != nil {
		t.Errorf("CheckSecret(NewSecret()) = %v", err)
	}
}

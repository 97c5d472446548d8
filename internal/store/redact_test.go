package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
)

// TestRedact: every form a PostgreSQL password can take in a database URL
// is hidden, and what is not a password is kept.
func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		secrets  []string // must not appear in the output
	}{
		{"postgres://app:topsecret@db:5432/wh", "postgres://app:xxxxx@db:5432/wh", []string{"topsecret"}},
		{"postgres://app@db/wh?password=topsecret&sslmode=require", "postgres://app@db/wh?password=xxxxx&sslmode=require", []string{"topsecret"}},
		{"postgresql://db/wh?sslmode=verify-full&sslpassword=topsecret", "postgresql://db/wh?sslmode=verify-full&sslpassword=xxxxx", []string{"topsecret"}},
		{"postgres://app:top%20secret@db/wh?PASSWORD=also%26secret", "", []string{"top%20secret", "top secret", "also%26secret", "also&secret"}},
		{"host=db user=app password=topsecret dbname=wh", "host=db user=app password=xxxxx dbname=wh", []string{"topsecret"}},
		{"host=db password = 'top secret' dbname=wh", "host=db password = xxxxx dbname=wh", []string{"top secret", "secret'"}},
		{"postgres://app:pa ss@db/wh", "postgres://app:xxxxx@db/wh", []string{"pa ss"}},
		{"postgres://app:p@ss:w/rd@db/wh", "", []string{"p@ss:w/rd", "ss:w/rd"}},
		{"postgres://app@db/wh", "postgres://app@db/wh", nil},
		{"sqlite:/var/lib/warehouse/warehouse.db", "sqlite:/var/lib/warehouse/warehouse.db", nil},
		{"", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Redact(tt.in)
			if tt.want != "" && got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, s := range tt.secrets {
				if strings.Contains(got, s) {
					t.Errorf("Redact(%q) = %q shows %q", tt.in, got, s)
				}
				msg := scrub("cannot parse `"+tt.in+"`: bad", tt.in)
				if strings.Contains(msg, s) {
					t.Errorf("scrub shows %q: %s", s, msg)
				}
			}
		})
	}
}

// TestOpenErrorsHideThePassword: what Open says about a database URL it
// cannot use never quotes the password, whatever its form.
func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://app:topsecret@127.0.0.1:1/wh?sslmode=disable&connect_timeout=5",
		"postgres://app@127.0.0.1:1/wh?sslmode=disable&password=topsecret",
		"postgres://app:top secret@127.0.0.1:1/wh",
		"postgres://app@127.0.0.1:1/wh?password=topsecret&sslmode=bogus",
		"host=127.0.0.1 port=1 password=topsecret",
		"mysql://app:topsecret@db/wh",
	} {
		t.Run(dsn, func(t *testing.T) {
			t.Parallel()
			db, err := Open(context.Background(), dsn, t.TempDir(), Options{})
			if err == nil {
				db.Close()
				t.Fatal("opened")
			}
			for _, s := range []string{"topsecret", "top secret", "top%20secret"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows the password: %v", err)
				}
			}
			// Unwrapping must not reach a text with the password either
			// (a caller may log any error in the chain).
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), "topsecret") {
					t.Errorf("wrapped error shows the password: %v", e)
				}
			}
		})
	}
}

// TestRedactErr: the wrapped error neither prints nor unwraps to the
// password, and still tells an outage and a cancellation apart.
func TestRedactErr(t *testing.T) {
	t.Parallel()
	dsn := "postgres://app:topsecret@db/wh"
	raw := errors.New("cannot connect to `" + dsn + "`: refused")
	err := redactErr(&unavailableError{err: raw}, dsn)
	if strings.Contains(err.Error(), "topsecret") || !strings.Contains(err.Error(), "app:xxxxx@db") {
		t.Errorf("text: %v", err)
	}
	if errors.Is(err, raw) {
		t.Error("unwraps to the raw driver error")
	}
	if warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
		t.Errorf("code %q, want unavailable", warehouse.ErrorCode(err))
	}
	if !errors.Is(redactErr(fmt.Errorf("dial: %w", context.Canceled), dsn), context.Canceled) {
		t.Error("cancellation lost")
	}
}

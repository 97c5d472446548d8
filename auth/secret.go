package auth

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
)

// MinSecretLen is the shortest HMAC secret CheckSecret accepts: 256 bits,
// the output size of HS256 (RFC 7518 §3.2).
const MinSecretLen = 32

// ErrWeakSecret is wrapped by every CheckSecret refusal.
var ErrWeakSecret = errors.New("auth: weak HMAC secret")

// weakSecrets are secrets copied from tutorials, docs and defaults. Most
// are shorter than MinSecretLen anyway; they are listed so the error says
// why, and the long ones because length alone would let them through.
var weakSecrets = []string{
	"secret", "changeme", "change-me", "change_me", "password", "your-secret-key",
	"supersecret", "super-secret", "super_secret", "secretkey", "secret-key", "secret_key",
	"jwt-secret", "jwt_secret", "jwtsecret", "mysecret", "my-secret", "default", "test", "key",
	"your-256-bit-secret", // jwt.io's example
	"your-secret-key-change-in-production",
	"your-super-secret-jwt-token-with-at-least-32-characters-long", // Supabase's example
	// The SECRET_KEY from FastAPI's OAuth2/JWT tutorial.
	"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
}

// CheckSecret refuses HMAC secrets shorter than MinSecretLen bytes and
// well-known or obviously low-entropy ones (a published example, one byte
// repeated, a short pattern repeated). The error says why without echoing
// the secret. Passing it does not prove a secret is random: use NewSecret.
func CheckSecret(secret []byte) error {
	lower := bytes.ToLower(bytes.TrimSpace(secret))
	for _, w := range weakSecrets {
		if string(lower) == w {
			return fmt.Errorf("%w: it is a well-known published value", ErrWeakSecret)
		}
	}
	if len(secret) < MinSecretLen {
		return fmt.Errorf("%w: %d bytes, need at least %d", ErrWeakSecret, len(secret), MinSecretLen)
	}
	if p := period(secret); p == 1 {
		return fmt.Errorf("%w: it is one byte repeated", ErrWeakSecret)
	} else if p > 1 {
		return fmt.Errorf("%w: it repeats a pattern of %d bytes", ErrWeakSecret, p)
	}
	var distinct [256]bool
	n := 0
	for _, c := range secret {
		if !distinct[c] {
			distinct[c] = true
			n++
		}
	}
	// 32 random hex digits show about 14 distinct values; fewer than 8
	// means a human typed it.
	if n < 8 {
		return fmt.Errorf("%w: only %d distinct byte values", ErrWeakSecret, n)
	}
	return nil
}

// period returns the smallest p <= 8 such that s repeats (possibly cut
// off at the end) every p bytes, or 0 when there is none.
func period(s []byte) int {
	for p := 1; p <= 8 && p < len(s); p++ {
		if bytes.Equal(s[p:], s[:len(s)-p]) {
			return p
		}
	}
	return 0
}

// NewSecret returns a random 32-byte HMAC secret.
func NewSecret() []byte {
	b := make([]byte, MinSecretLen)
	rand.Read(b) // never fails since Go 1.24
	return b
}

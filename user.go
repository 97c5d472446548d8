package warehouse

import (
	"slices"
	"time"
	"unicode/utf8"
)

// Role is a user's role. Roles are ordered: each includes the ones below it.
type Role string

// The roles, lowest first.
const (
	RoleViewer  Role = "viewer"
	RoleClerk   Role = "clerk"
	RoleManager Role = "manager"
	RoleAdmin   Role = "admin"
)

// Roles lists every role, lowest first.
var Roles = []Role{RoleViewer, RoleClerk, RoleManager, RoleAdmin}

// Rank orders roles; an unknown role ranks below viewer.
func (r Role) Rank() int { return slices.Index(Roles, r) }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.Rank() >= 0 }

// HasRole reports whether any of roles is need or ranks above it.
func HasRole(roles []string, need Role) bool {
	for _, r := range roles {
		if Role(r).Rank() >= need.Rank() && need.Valid() {
			return true
		}
	}
	return false
}

// ValidateRoles checks every role name and returns them deduplicated and
// sorted lowest first.
func ValidateRoles(roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if !Role(r).Valid() {
			return nil, &Error{Code: EINVALID, Message: "unknown role " + quote(r) + "; roles are viewer, clerk, manager, admin",
				Fields: []FieldError{{Field: "roles", Message: "unknown role " + quote(r)}}}
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return Role(a).Rank() - Role(b).Rank() })
	return out, nil
}

func quote(s string) string {
	if len(s) > 40 {
		// Cut on a character boundary so the message stays valid UTF-8.
		n := 40
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return `"` + s + `"`
}

// User is an account that can log in.
type User struct {
	ID           int64
	Username     string
	PasswordHash string // argon2id PHC string; never leaves the server
	Roles        []string
	Active       bool
	CreatedAt    time.Time
	CreatedBy    string
	UpdatedAt    time.Time
	UpdatedBy    string
	Version      int64
}

// UserUpdate is a partial change to a user; nil fields stay as they are.
type UserUpdate struct {
	PasswordHash *string
	Roles        []string // nil: unchanged
	Active       *bool
}

// ValidateUsername checks a username: 1-150 characters, letters, digits and
// ._@+- only, as most identity systems allow.
func ValidateUsername(name string) error {
	if name == "" || len(name) > 150 {
		return &Error{Code: EINVALID, Message: "username must be 1-150 characters",
			Fields: []FieldError{{Field: "username", Message: "must be 1-150 characters"}}}
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '+' || c == '-'
		if !ok {
			return &Error{Code: EINVALID, Message: "username may contain only letters, digits and . _ @ + -",
				Fields: []FieldError{{Field: "username", Message: "invalid character"}}}
		}
	}
	return nil
}

// ValidatePassword checks a new password's length: at least 8 characters
// (NIST SP 800-63B) and at most 1024 bytes so hashing stays bounded.
func ValidatePassword(pw string) error {
	if len([]rune(pw)) < 8 || len(pw) > 1024 {
		return &Error{Code: EINVALID, Message: "password must be 8 to 1024 characters",
			Fields: []FieldError{{Field: "password", Message: "must be 8 to 1024 characters"}}}
	}
	return nil
}

package auth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Token types, as written in the "type" claim.
const (
	TypeAccess  = "access"
	TypeRefresh = "refresh"
)

// Claims of a token.
//
// When issued, the JSON fields come in this order: sub, iat, nbf, jti, exp,
// type, fresh (access tokens only), then roles (omitted if nil), sid, csrf,
// iss, aud (each omitted if empty), then Extra sorted by key. The first
// seven are exactly what the tutorial's library writes, so its clients see
// the same tokens. iat, nbf and exp are integer Unix seconds.
type Claims struct {
	Subject   string
	IssuedAt  time.Time
	NotBefore time.Time
	ID        string // jti, a UUID4 string
	Expiry    time.Time
	Type      string // TypeAccess | TypeRefresh
	Fresh     bool   // only serialized for access tokens
	Roles     []string
	SessionID string // "sid"
	CSRF      string // "csrf"
	Issuer    string
	Audience  string
	// Extra holds the operator's static custom claims. Keys must not be one
	// of the names above. On Verify it is filled only when the token carries
	// claims this package does not know, so the common case allocates nothing.
	Extra map[string]any
}

// registered lists the claim names Claims has fields for; Extra may not
// use them because the token would then carry a claim twice.
var registered = [...]string{"sub", "iat", "nbf", "jti", "exp", "type", "fresh", "roles", "sid", "csrf", "iss", "aud"}

func isRegistered(name string) bool {
	for _, r := range registered {
		if r == name {
			return true
		}
	}
	return false
}

// NewClaims fills sub, iat = nbf = now truncated to seconds, a fresh UUID4
// jti, exp = iat + ttl (whole seconds) and type.
func NewClaims(subject, typ string, now time.Time, ttl time.Duration) Claims {
	iat := time.Unix(now.Unix(), 0).UTC()
	return Claims{
		Subject:   subject,
		IssuedAt:  iat,
		NotBefore: iat,
		ID:        uuid.NewString(),
		Expiry:    iat.Add(ttl.Truncate(time.Second)),
		Type:      typ,
	}
}

// Sign signs claims with the current key. The header is
// {"alg":...,"kid":...,"typ":"JWT"} (kid omitted when the key has no ID);
// a refresh token (Type TypeRefresh) has typ TypRefresh instead.
// Sub, jti, type, iat and exp must be set, because Verify refuses tokens
// without them; a zero NotBefore is written as iat.
func (k *Keyring) Sign(c Claims) (string, error) {
	set, err := k.keys()
	if err != nil {
		return "", err
	}
	e := set.current
	if err := checkSignable(&c); err != nil {
		return "", err
	}
	header64 := e.header64
	if c.Type == TypeRefresh {
		header64 = e.refreshHeader64
	}

	var stack [512]byte
	payload, err := appendClaims(stack[:0], &c)
	if err != nil {
		return "", err
	}

	if e.isHMAC() {
		// Build the whole token in the pooled buffer: the only allocation is
		// the final string.
		st := e.macs.Get().(*macState)
		defer e.putMAC(st)
		b := append(st.buf[:0], header64...)
		b = append(b, '.')
		b = base64.RawURLEncoding.AppendEncode(b, payload)
		st.mac.Reset()
		st.mac.Write(b)
		st.sum = st.mac.Sum(st.sum[:0])
		b = append(b, '.')
		b = base64.RawURLEncoding.AppendEncode(b, st.sum)
		st.buf = b
		return string(b), nil
	}

	input := make([]byte, 0, len(header64)+1+base64.RawURLEncoding.EncodedLen(len(payload)))
	input = append(input, header64...)
	input = append(input, '.')
	input = base64.RawURLEncoding.AppendEncode(input, payload)
	sig, err := e.method.Sign(string(input), e.key.Private)
	if err != nil {
		return "", fmt.Errorf("auth: sign with %s: %w", e.key.Algorithm, err)
	}
	input = append(input, '.')
	input = base64.RawURLEncoding.AppendEncode(input, sig)
	return string(input), nil
}

func checkSignable(c *Claims) error {
	var missing string
	switch {
	case c.Subject == "":
		missing = "sub"
	case c.ID == "":
		missing = "jti"
	case c.Type == "":
		missing = "type"
	case c.IssuedAt.IsZero():
		missing = "iat"
	case c.Expiry.IsZero():
		missing = "exp"
	}
	if missing != "" {
		return fmt.Errorf("auth: sign: claim %q is required", missing)
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = c.IssuedAt
	}
	for name := range c.Extra {
		if isRegistered(name) {
			return fmt.Errorf("auth: sign: extra claim %q would override a registered claim", name)
		}
	}
	return nil
}

// appendClaims writes the payload JSON in the fixed claim order.
func appendClaims(b []byte, c *Claims) ([]byte, error) {
	b = append(b, `{"sub":`...)
	b = appendJSONString(b, c.Subject)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt.Unix(), 10)
	b = append(b, `,"nbf":`...)
	b = strconv.AppendInt(b, c.NotBefore.Unix(), 10)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.Expiry.Unix(), 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, c.Type)
	if c.Type == TypeAccess {
		b = append(b, `,"fresh":`...)
		b = strconv.AppendBool(b, c.Fresh)
	}
	if c.Roles != nil {
		b = append(b, `,"roles":[`...)
		for i, r := range c.Roles {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, r)
		}
		b = append(b, ']')
	}
	for _, f := range [...]struct{ name, value string }{
		{"sid", c.SessionID}, {"csrf", c.CSRF}, {"iss", c.Issuer}, {"aud", c.Audience},
	} {
		if f.value != "" {
			b = append(b, `,"`...)
			b = append(b, f.name...)
			b = append(b, `":`...)
			b = appendJSONString(b, f.value)
		}
	}
	if len(c.Extra) > 0 {
		names := make([]string, 0, len(c.Extra))
		for name := range c.Extra {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			v, err := json.Marshal(c.Extra[name])
			if err != nil {
				// The claim name is operator configuration, not a secret.
				return nil, fmt.Errorf("auth: sign: extra claim %q: %w", name, err)
			}
			b = append(b, ',')
			b = appendJSONString(b, name)
			b = append(b, ':')
			b = append(b, v...)
		}
	}
	return append(b, '}'), nil
}

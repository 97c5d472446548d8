package auth

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// TokenError codes: stable, machine-readable reasons for refusing a token.
const (
	CodeMalformed       = "malformed"
	CodeBadSignature    = "bad_signature"
	CodeAlgNotAllowed   = "alg_not_allowed"
	CodeUnknownKID      = "unknown_kid"
	CodeExpired         = "expired"
	CodeImmature        = "immature"
	CodeMissingClaim    = "missing_claim"
	CodeInvalidClaim    = "invalid_claim"
	CodeInvalidIssuer   = "invalid_issuer"
	CodeInvalidAudience = "invalid_audience"
)

// TokenError is every verification failure. Detail is the human text, in
// PyJWT's wording where PyJWT has one because clients match on it; Code is
// one of the Code constants. Neither ever contains the token.
type TokenError struct {
	Code   string
	Detail string
}

// Error returns Detail, so an error renderer can show it as is.
func (e *TokenError) Error() string { return e.Detail }

func tokenErr(code, detail string) *TokenError { return &TokenError{Code: code, Detail: detail} }

func missingClaim(name string) *TokenError {
	return tokenErr(CodeMissingClaim, `Token is missing the "`+name+`" claim`)
}

func invalidClaim(name, what string) *TokenError {
	return tokenErr(CodeInvalidClaim, `Invalid payload: "`+name+`" must be `+what)
}

// VerifyOptions are the verifier's settings.
type VerifyOptions struct {
	Leeway   time.Duration // small clock skew allowed for exp/nbf/iat
	Issuer   string        // if set, iss must equal it; if empty, a token carrying iss is refused
	Audience string        // if set, aud must contain it; if empty, a token carrying aud is refused
	// IssuerByCaller: iss is not compared here, and may be absent; if
	// present it must be a non-empty string, and the caller compares
	// Claims.Issuer with the issuer it expects. For a server whose issuer
	// is the URL each request came to, which the options cannot name
	// without building a string per request. Issuer is then ignored.
	IssuerByCaller bool
	// MaxLifetime, if positive, refuses a token whose exp is further than
	// this (plus Leeway) from now: an issuer whose longest lifetime is
	// MaxLifetime never signed it. It bounds a token with an absurd exp
	// (1e300, year 9999), which would otherwise never expire.
	MaxLifetime time.Duration
}

// maxTokenLen bounds the work an attacker can ask of us; real tokens are a
// few hundred bytes.
const maxTokenLen = 16 << 10

// b64 is strict base64url without padding: trailing bits must be zero, so
// each signature has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// Verify parses and strictly validates a token at time now (time.Now when
// zero). It checks the signature with the key named by kid (the current
// key when the token has no kid, as the tutorial's tokens do), and only
// with that key's algorithm; it requires exp, jti, type and sub and checks
// iat, nbf, exp, iss and aud. It does NOT check the token type, revocation
// or users: callers do.
//
// Every refusal is a *TokenError. An error of another type means the
// keyring itself is unusable (no keys).
func (k *Keyring) Verify(token string, now time.Time, opt VerifyOptions) (Claims, error) {
	set, err := k.keys()
	if err != nil {
		return Claims{}, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	c, terr := verify(set, token, now, opt)
	if terr != nil {
		return Claims{}, terr
	}
	return c, nil
}

func verify(set *keySet, token string, now time.Time, opt VerifyOptions) (Claims, *TokenError) {
	if len(token) > maxTokenLen {
		return Claims{}, tokenErr(CodeMalformed, "Token is too large")
	}
	d1 := strings.IndexByte(token, '.')
	if d1 < 0 {
		return Claims{}, tokenErr(CodeMalformed, "Not enough segments")
	}
	d2 := strings.IndexByte(token[d1+1:], '.')
	if d2 < 0 {
		return Claims{}, tokenErr(CodeMalformed, "Not enough segments")
	}
	d2 += d1 + 1
	if strings.IndexByte(token[d2+1:], '.') >= 0 {
		return Claims{}, tokenErr(CodeMalformed, "Invalid token: wrong number of segments")
	}
	hSeg, pSeg, sSeg := token[:d1], token[d1+1:d2], token[d2+1:]

	// Header and payload are decoded side by side into one buffer and turned
	// into one string, so all claim strings are substrings of a single
	// allocation. Errors are reported in PyJWT's order.
	var stack [1024]byte
	buf := stack[:]
	if need := len(hSeg) + len(pSeg); need > len(buf) {
		buf = make([]byte, need)
	}
	hn, ok := decodeSegment(buf, hSeg)
	if !ok {
		return Claims{}, tokenErr(CodeMalformed, "Invalid header padding")
	}
	pn, pok := decodeSegment(buf[hn:], pSeg)
	if !pok {
		pn = 0
	}
	text := string(buf[:hn+pn])
	hdr, terr := parseHeader(text[:hn])
	if terr != nil {
		return Claims{}, terr
	}
	if !pok {
		return Claims{}, tokenErr(CodeMalformed, "Invalid payload padding")
	}
	var sigStack [512]byte
	sig := sigStack[:]
	if len(sSeg) > len(sig) {
		sig = make([]byte, len(sSeg))
	}
	sn, ok := decodeSegment(sig, sSeg)
	if !ok {
		return Claims{}, tokenErr(CodeMalformed, "Invalid crypto padding")
	}
	sig = sig[:sn]

	// The algorithm comes from the key, never from the token: the header's
	// alg must merely agree with it. This is what stops alg "none" and
	// HS256-signed-with-the-RSA-public-key attacks.
	if !hdr.algOK || !supportedAlg(hdr.alg) {
		return Claims{}, tokenErr(CodeAlgNotAllowed, "The specified alg value is not allowed")
	}
	e := set.current
	if hdr.kid != "" {
		if e = set.byID[hdr.kid]; e == nil {
			return Claims{}, tokenErr(CodeUnknownKID, "Unknown signing key")
		}
	} else if e == nil {
		// A remote key set has no current key to fall back on.
		return Claims{}, tokenErr(CodeUnknownKID, detailNoKID)
	}
	if hdr.alg != e.key.Algorithm {
		return Claims{}, tokenErr(CodeAlgNotAllowed, "The specified alg value is not allowed")
	}

	input := token[:d2]
	if e.isHMAC() {
		if len(sig) != e.macSize {
			return Claims{}, tokenErr(CodeBadSignature, "Signature verification failed")
		}
		st, sum := e.hmacSum(input)
		good := hmac.Equal(sum, sig) // constant time
		e.putMAC(st)
		if !good {
			return Claims{}, tokenErr(CodeBadSignature, "Signature verification failed")
		}
	} else if err := e.method.Verify(input, bytes.Clone(sig), e.verifyKey); err != nil {
		// Clone keeps sigStack on the stack for the HMAC path: passing it to
		// an interface method would move it to the heap on every call.
		return Claims{}, tokenErr(CodeBadSignature, "Signature verification failed")
	}

	return checkClaims(text[hn:], now, opt, hdr.refresh)
}

// decodeSegment decodes one base64url segment into dst. Go's decoder skips
// CR and LF, which would let different tokens carry the same bytes, so
// they are refused here.
func decodeSegment(dst []byte, seg string) (int, bool) {
	if strings.IndexByte(seg, '\n') >= 0 || strings.IndexByte(seg, '\r') >= 0 {
		return 0, false
	}
	n, err := b64.Decode(dst, []byte(seg))
	return n, err == nil
}

func supportedAlg(alg string) bool {
	switch alg {
	case AlgHS256, AlgHS384, AlgHS512, AlgEdDSA, AlgES256, AlgES384, AlgES512,
		AlgRS256, AlgRS384, AlgRS512, AlgPS256, AlgPS384, AlgPS512:
		return true
	}
	return false
}

type header struct {
	alg   string
	algOK bool // alg present and a string
	kid   string
	// refresh: typ is TypRefresh. Such a token must be a refresh token,
	// and carries no iss or aud (see checkClaims).
	refresh bool
}

func parseHeader(s string) (header, *TokenError) {
	var h header
	bad := func() (header, *TokenError) { return header{}, tokenErr(CodeMalformed, "Invalid header string") }
	r := jsonReader{s: s}
	if !r.consume('{') {
		return bad()
	}
	var kidBad, crit bool
	// Header parameter names must be unique (RFC 7515 section 4): a
	// repeated one could be read differently by another parser, so any
	// repetition is refused. Headers have a handful of parameters; the
	// names live on the stack unless there are more.
	var nameStack [8]string
	names := nameStack[:0]
	if !r.consume('}') {
		for {
			key, err := r.str()
			if err != nil || !r.consume(':') || slices.Contains(names, key) {
				return bad()
			}
			names = append(names, key)
			kind := r.peekKind()
			switch {
			case key == "alg":
				if kind == kindString {
					if h.alg, err = r.str(); err != nil {
						return bad()
					}
					h.algOK = true
				} else if r.skip(0) != nil {
					return bad()
				}
			case key == "kid":
				if kind == kindString {
					if h.kid, err = r.str(); err != nil {
						return bad()
					}
				} else {
					kidBad = true
					if r.skip(0) != nil {
						return bad()
					}
				}
			case key == "typ" && kind == kindString:
				typ, err := r.str()
				if err != nil {
					return bad()
				}
				// typ values are case-insensitive (RFC 7515 section 4.1.9).
				h.refresh = strings.EqualFold(typ, TypRefresh)
			default:
				crit = crit || key == "crit"
				if r.skip(0) != nil {
					return bad()
				}
			}
			if r.consume(',') {
				continue
			}
			if r.consume('}') {
				break
			}
			return bad()
		}
	}
	if !r.end() {
		return bad()
	}
	if kidBad {
		return header{}, tokenErr(CodeMalformed, "Key ID header parameter must be a string")
	}
	if crit {
		// We understand no JWS extensions (RFC 7515 §4.1.11).
		return header{}, tokenErr(CodeMalformed, "Unsupported critical header parameter")
	}
	return h, nil
}

// Claim presence bits.
const (
	seenSub uint16 = 1 << iota
	seenIat
	seenNbf
	seenJti
	seenExp
	seenType
	seenFresh
	seenRoles
	seenSid
	seenCsrf
	seenIss
	seenAud
)

func claimBit(name string) uint16 {
	switch name {
	case "sub":
		return seenSub
	case "iat":
		return seenIat
	case "nbf":
		return seenNbf
	case "jti":
		return seenJti
	case "exp":
		return seenExp
	case "type":
		return seenType
	case "fresh":
		return seenFresh
	case "roles":
		return seenRoles
	case "sid":
		return seenSid
	case "csrf":
		return seenCsrf
	case "iss":
		return seenIss
	case "aud":
		return seenAud
	}
	return 0
}

// checkClaims parses the payload and applies PyJWT's checks in PyJWT's
// order (required claims, iat, nbf, exp, iss, aud), plus ours.
//
// refresh says the header's typ is TypRefresh: the token must then be a
// refresh token, and it may lack iss and aud. Refresh tokens are issued
// without them so that a generic verifier configured with our issuer or
// audience (go-oidc, jose, PyJWT) refuses them as access tokens; a present
// iss or aud must still match. Refresh tokens issued before typ was set
// (typ JWT, with iss and aud) are checked as access tokens are.
func checkClaims(s string, now time.Time, opt VerifyOptions, refresh bool) (Claims, *TokenError) {
	var c Claims
	syntax := func() (Claims, *TokenError) { return Claims{}, tokenErr(CodeMalformed, "Invalid payload string") }
	var (
		seen       uint16
		typeErr    *TokenError // reported only if the whole payload is valid JSON, as PyJWT would
		audPresent bool        // a non-empty aud
		audMatch   bool
	)
	setTypeErr := func(name, what string) {
		if typeErr == nil {
			typeErr = invalidClaim(name, what)
		}
	}
	r := jsonReader{s: s}
	if !r.consume('{') {
		return syntax()
	}
	if !r.consume('}') {
		for {
			key, err := r.str()
			if err != nil || !r.consume(':') {
				return syntax()
			}
			kind := r.peekKind()
			if bit := claimBit(key); bit != 0 {
				if seen&bit != 0 {
					// Duplicate claims are read differently by different
					// parsers (PyJWT keeps the last); refuse them.
					return syntax()
				}
				seen |= bit
			}
			switch key {
			case "sub", "jti", "type", "sid", "csrf", "iss":
				if kind != kindString {
					setTypeErr(key, "a string")
					if r.skip(0) != nil {
						return syntax()
					}
					break
				}
				v, err := r.str()
				if err != nil {
					return syntax()
				}
				switch key {
				case "sub":
					c.Subject = v
				case "jti":
					c.ID = v
				case "type":
					c.Type = v
				case "sid":
					c.SessionID = v
				case "csrf":
					c.CSRF = v
				case "iss":
					c.Issuer = v
				}
			case "iat", "nbf", "exp":
				if kind != kindNumber {
					setTypeErr(key, "a number")
					if r.skip(0) != nil {
						return syntax()
					}
					break
				}
				num, err := r.number()
				if err != nil {
					return syntax()
				}
				t := time.Unix(parseNumericDate(num)).UTC()
				switch key {
				case "iat":
					c.IssuedAt = t
				case "nbf":
					c.NotBefore = t
				case "exp":
					c.Expiry = t
				}
			case "fresh":
				if kind != kindBool {
					setTypeErr(key, "a boolean")
					if r.skip(0) != nil {
						return syntax()
					}
					break
				}
				if c.Fresh, err = r.boolean(); err != nil {
					return syntax()
				}
			case "roles":
				if kind != kindArray {
					setTypeErr(key, "an array of strings")
					if r.skip(0) != nil {
						return syntax()
					}
					break
				}
				roles, ok, err := r.stringArray()
				if err != nil {
					return syntax()
				}
				if !ok {
					setTypeErr(key, "an array of strings")
				}
				c.Roles = roles
			case "aud":
				switch kind {
				case kindString:
					v, err := r.str()
					if err != nil {
						return syntax()
					}
					c.Audience = v
					audPresent = v != ""
					audMatch = opt.Audience != "" && v == opt.Audience
				case kindArray:
					list, ok, err := r.stringArray()
					if err != nil {
						return syntax()
					}
					if !ok {
						setTypeErr(key, "a string or an array of strings")
					}
					audPresent = len(list) > 0
					for _, a := range list {
						if opt.Audience != "" && a == opt.Audience {
							audMatch = true
							c.Audience = a
						}
					}
				default:
					setTypeErr(key, "a string or an array of strings")
					if r.skip(0) != nil {
						return syntax()
					}
				}
			default:
				start := r.i
				if r.skip(0) != nil {
					return syntax()
				}
				var v any
				if err := json.Unmarshal([]byte(s[start:r.i]), &v); err != nil {
					return syntax()
				}
				if c.Extra == nil {
					c.Extra = make(map[string]any)
				}
				if _, dup := c.Extra[key]; dup {
					return syntax()
				}
				c.Extra[key] = v
			}
			if r.consume(',') {
				continue
			}
			if r.consume('}') {
				break
			}
			return syntax()
		}
	}
	if !r.end() {
		return syntax()
	}
	if typeErr != nil {
		return Claims{}, typeErr
	}

	// Required claims. The tutorial's stack accepted tokens without exp and
	// crashed without jti or type; we refuse them all.
	for _, req := range [...]struct {
		bit   uint16
		name  string
		value *string
	}{
		{seenExp, "exp", nil}, {seenJti, "jti", &c.ID}, {seenType, "type", &c.Type}, {seenSub, "sub", &c.Subject},
	} {
		if seen&req.bit == 0 {
			return Claims{}, missingClaim(req.name)
		}
		if req.value != nil && *req.value == "" {
			return Claims{}, invalidClaim(req.name, "a non-empty string")
		}
	}

	if refresh && c.Type != TypeRefresh {
		return Claims{}, invalidClaim("type", `"`+TypeRefresh+`" in a token of typ `+TypRefresh)
	}

	leeway := max(opt.Leeway, 0)
	late := now.Add(leeway) // the latest instant a clock could read now
	if seen&seenIat != 0 && c.IssuedAt.After(late) {
		return Claims{}, tokenErr(CodeImmature, "The token is not yet valid (iat)")
	}
	if seen&seenNbf != 0 && c.NotBefore.After(late) {
		return Claims{}, tokenErr(CodeImmature, "The token is not yet valid (nbf)")
	}
	// RFC 7519 and PyJWT: the token is valid strictly before exp.
	if !now.Before(c.Expiry.Add(leeway)) {
		return Claims{}, tokenErr(CodeExpired, "Signature has expired")
	}
	if opt.MaxLifetime > 0 && c.Expiry.After(late.Add(opt.MaxLifetime)) {
		return Claims{}, invalidClaim("exp", "within the longest token lifetime from now")
	}

	// A token from another issuer is refused even when no issuer is
	// configured: the tutorial accepted a foreign iss.
	switch {
	case opt.IssuerByCaller:
		// An empty iss would read as "no iss" to the caller.
		if seen&seenIss != 0 && c.Issuer == "" {
			return Claims{}, tokenErr(CodeInvalidIssuer, "Invalid issuer")
		}
	case opt.Issuer != "" && seen&seenIss == 0 && !refresh:
		return Claims{}, missingClaim("iss")
	case seen&seenIss != 0 && c.Issuer != opt.Issuer:
		return Claims{}, tokenErr(CodeInvalidIssuer, "Invalid issuer")
	}

	// PyJWT refuses a token that names an audience when the verifier
	// expects none, and so do we.
	if opt.Audience != "" {
		if seen&seenAud == 0 {
			if !refresh {
				return Claims{}, missingClaim("aud")
			}
		} else if !audMatch {
			return Claims{}, tokenErr(CodeInvalidAudience, "Invalid audience")
		}
	} else if audPresent {
		return Claims{}, tokenErr(CodeInvalidAudience, "Invalid audience")
	}
	return c, nil
}

// Package logcheck is test support: loggers and writers for tests that
// record every log line the code under test writes and fail the test if
// one holds a secret (a token, a password, a password hash, key material).
// The rule is "never a token, password or key in any log", and a
// rule only holds if every log line of the suite is looked at: the test
// harnesses build their loggers here instead of discarding the lines.
//
// Every line is also appended to $WAREHOUSE_ARTIFACTS/logs/<package>.log
// when that variable is set (CI sets it), and cmd/logscan greps those
// files again with the same patterns, so a line that slipped past a
// per-test check (written after its test ended) still fails CI.
package logcheck

import (
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
)

// Finding is one secret found in a line: what kind, and where (byte
// offsets, so it can be masked when the line is shown).
type Finding struct {
	Kind       string
	Start, End int
}

// pattern is a shape that is a secret wherever it appears.
type pattern struct {
	kind string
	re   *regexp.Regexp
	// group, if not 0, is the submatch that is the secret; a value of
	// the group in harmless is no finding (a redacted placeholder).
	group    int
	harmless func(string) bool
}

// patterns are the shapes of the secrets this system makes or handles.
// Refresh tokens are JWTs too (typ refresh+jwt, see auth.Sign), so the
// JWT shape covers both kinds of token.
var patterns = []pattern{
	// A JWT: a base64url JSON header ({" is eyJ), a payload and a
	// signature (empty for alg none, still a token).
	{kind: "JWT", re: regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)},
	// An Authorization header value: the token itself, whatever its shape.
	{kind: "bearer token", re: regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*`)},
	// An argon2 password hash in PHC form ($argon2id$v=19$m=...).
	{kind: "argon2 PHC hash", re: regexp.MustCompile(`\$argon2(?:id|i|d)\$[^\s"]*`)},
	// A PEM block (private keys, and certificates, which no log needs).
	{kind: "PEM block", re: regexp.MustCompile(`-----BEGIN [A-Z0-9 ]+-----`)},
	// The private members of a JWK (RFC 7518: d, p, q, dp, dq, qi; k of
	// a symmetric key), also inside a quoted log value.
	{kind: "JWK private key", re: regexp.MustCompile(`\\?"(?:d|p|q|dp|dq|qi|k)\\?"\s*:\s*\\?"[A-Za-z0-9_-]{16,}`)},
	// A password in a URL's userinfo (postgres://user:password@host).
	{kind: "URL password", re: regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^/\s:@"]+:([^/\s@"]+)@`), group: 1, harmless: redacted},
	// A log attribute named as a secret, with a value: password=...,
	// jwt_secret=..., also in a URL query (?refresh_token=...).
	{kind: "secret-named value", re: regexp.MustCompile(`(?i)(?:^|[\s(&?])(?:` + secretNames + `)=("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}&]+)`),
		group: 1, harmless: redacted},
	// A JSON member named as a secret with a string value, also inside a
	// quoted log value ({\"password\":\"...\"}).
	{kind: "secret-named value", re: regexp.MustCompile(`(?i)\\?"(?:` + secretNames + `)\\?"\s*:\s*(\\?"(?:[^"\\]|\\.)*?\\?")`),
		group: 1, harmless: redacted},
}

// secretNames are the names under which a secret may be logged.
const secretNames = `(?:new_|current_|admin_|ssl)?password|passwd|(?:jwt_|client_)?secret|access_token|refresh_token|api_key|private_key|pkcs8`

// redacted reports whether a value shown for a secret is a placeholder.
func redacted(v string) bool {
	v = strings.Trim(v, `\"'`)
	switch strings.ToLower(v) {
	case "", "xxxxx", "[redacted]", "redacted", "<redacted>", "(redacted)", "***", "****", "*****",
		"[set]", "(set)", "<set>", "true", "false", "null", "<nil>", "[]":
		return true
	}
	return false
}

// minSecret is the shortest registered secret looked for: shorter ones
// ("pw") would match ordinary words. Tests use longer passwords.
const minSecret = 6

// Fixtures are the passwords and keys the repository's test harnesses
// use. They are looked for in every line, also by cmd/logscan, which
// cannot know the secrets a test registers at run time (Secret).
var Fixtures = []string{
	// the tutorial's user, and the users of the HTTP harnesses
	"glinteco", "viewer-pass", "gone-pass",
	"viewer-password", "clerk-password", "manager-password", "nobody-password",
	// internal/app, internal/session, cmd/warehouse
	"app-test-admin-password", "scale-out-admin-password", "admin-password-from-env", "sam-password",
	"a-new-password", "right-password", "brand-new-pass", "another-password-2", "a-long-password-1",
	"s3cret-password", "not-the-password", "boss-password", "another-long-password",
	// the auth package's test signing secrets
	"k1-0123456789abcdef0123456789abcdef", "k2-fedcba9876543210fedcba9876543210",
}

// needles are the forms a secret can take in a line: as is, and, when it
// is long enough to be key material, base64 (every alphabet) and hex.
func needles(secret string) []string {
	if len(secret) < minSecret {
		return nil
	}
	out := []string{secret}
	if len(secret) >= 16 {
		b := []byte(secret)
		out = append(out,
			base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
			base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
			hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// secretSet finds registered secrets in a line: needles indexed by their
// first four bytes, so a line is scanned once whatever the number of
// secrets (every test server registers its keys).
type secretSet struct {
	byPrefix map[string][]string
}

func (s *secretSet) add(secret string) {
	if s.byPrefix == nil {
		s.byPrefix = map[string][]string{}
	}
	for _, n := range needles(secret) {
		k := n[:4]
		if !slices.Contains(s.byPrefix[k], n) {
			s.byPrefix[k] = append(s.byPrefix[k], n)
		}
	}
}

func (s *secretSet) find(line string, out []Finding) []Finding {
	if len(s.byPrefix) == 0 {
		return out
	}
	for i := 0; i+4 <= len(line); i++ {
		for _, n := range s.byPrefix[line[i:i+4]] {
			if strings.HasPrefix(line[i:], n) {
				out = append(out, Finding{Kind: "registered secret", Start: i, End: i + len(n)})
			}
		}
	}
	return out
}

// fixtures is the set of Fixtures.
var fixtures = func() *secretSet {
	s := &secretSet{}
	for _, f := range Fixtures {
		s.add(f)
	}
	return s
}()

// Scan returns the secrets in line: the patterns and the Fixtures (not
// the secrets registered with Secret; a Recorder checks those too).
func Scan(line string) []Finding {
	return scan(line, nil)
}

func scan(line string, extra *secretSet) []Finding {
	var out []Finding
	for _, p := range patterns {
		for _, m := range p.re.FindAllStringSubmatchIndex(line, -1) {
			start, end := m[0], m[1]
			if p.group > 0 {
				start, end = m[2*p.group], m[2*p.group+1]
				if start < 0 || p.harmless != nil && p.harmless(line[start:end]) {
					continue
				}
			}
			out = append(out, Finding{Kind: p.kind, Start: start, End: end})
		}
	}
	out = fixtures.find(line, out)
	if extra != nil {
		out = extra.find(line, out)
	}
	return out
}

// Mask returns line with each finding replaced by its kind, so a failure
// message shows where the secret was without printing it.
func Mask(line string, fs []Finding) string {
	fs = slices.Clone(fs)
	slices.SortFunc(fs, func(a, b Finding) int { return a.Start - b.Start })
	var b strings.Builder
	at := 0
	for _, f := range fs {
		if f.Start < at {
			if f.End > at {
				at = f.End
			}
			continue
		}
		b.WriteString(line[at:f.Start])
		b.WriteString("<" + f.Kind + ">")
		at = f.End
	}
	b.WriteString(line[at:])
	return b.String()
}

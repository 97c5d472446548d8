package store

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/warehouse-api/warehouse"
)

// redacted replaces a password wherever a database URL or a message about
// it is shown.
const redacted = "xxxxx"

// passwordParam matches a password in key=value form: a libpq keyword
// connection string (password=x, password = 'x y'), or a URL query
// (?password=x&..., sslpassword too). Quoted values may hold spaces and
// escaped quotes, as libpq allows.
var passwordParam = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]*)`)

// Redact returns databaseURL with every password in it replaced, in every
// form PostgreSQL accepts one: user:password@ in a URL, ?password= or
// ?sslpassword= in its query, password=... in a keyword/value string; also
// when the URL does not parse. Everything that shows a database URL (logs,
// --print-config, messages) shows it through Redact.
func Redact(databaseURL string) string {
	s := databaseURL
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		changed := false
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
			changed = true
		}
		q := u.Query()
		for k := range q {
			if isPasswordParam(k) {
				q.Set(k, redacted)
				changed = true
			}
		}
		if changed {
			// Only then: String may spell an untouched URL differently.
			u.RawQuery = q.Encode()
			s = u.String()
		}
	} else {
		s = redactUserinfo(s)
	}
	return passwordParam.ReplaceAllString(s, "${1}"+redacted)
}

func isPasswordParam(k string) bool {
	k = strings.ToLower(k)
	return k == "password" || k == "sslpassword"
}

// redactUserinfo hides the password of scheme://user:password@host when
// the URL does not parse (a space or a stray character in the password):
// the userinfo ends at the last @ before the path, which may itself hold @
// only after a /, so the last @ overall is the safe choice for secrecy.
func redactUserinfo(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	user, _, hasPW := strings.Cut(rest[:at], ":")
	if !hasPW {
		return s
	}
	return s[:i+3] + user + ":" + redacted + rest[at:]
}

// secrets are the passwords in databaseURL, as written and decoded, so
// that a message quoting any of them can be cleaned (see scrub).
func secrets(databaseURL string) []string {
	var out []string
	add := func(v string) {
		v = strings.Trim(v, "'")
		if v == "" || v == redacted {
			return
		}
		out = append(out, v)
		if d, err := url.QueryUnescape(v); err == nil && d != v {
			out = append(out, d)
		}
		if d, err := url.PathUnescape(v); err == nil && d != v {
			out = append(out, d)
		}
	}
	if u, err := url.Parse(databaseURL); err == nil && u.Scheme != "" {
		if pw, ok := u.User.Password(); ok {
			add(pw)
			add(url.UserPassword("", pw).String()[1:]) // as escaped in the URL
		}
		for k, vs := range u.Query() {
			if isPasswordParam(k) {
				for _, v := range vs {
					add(v)
				}
			}
		}
	} else if i := strings.Index(databaseURL, "://"); i >= 0 {
		rest := databaseURL[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
			}
		}
	}
	for _, m := range passwordParam.FindAllStringSubmatch(databaseURL, -1) {
		add(m[2])
	}
	// Longest first, so that a password containing another is not left
	// half shown.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// scrub removes every password of databaseURL from s, whatever form s
// quotes it in.
func scrub(s, databaseURL string) string {
	for _, pw := range secrets(databaseURL) {
		s = strings.ReplaceAll(s, pw, redacted)
	}
	if databaseURL != "" {
		s = strings.ReplaceAll(s, databaseURL, Redact(databaseURL))
	}
	return passwordParam.ReplaceAllString(s, "${1}"+redacted)
}

// redactedError is a driver or parser error whose text may quote the
// database URL: its message is scrubbed of the URL's passwords. It does
// not unwrap to the original, whose text a caller could print, only to
// what errors.Is/As need of it: the domain error (a 503 for an outage)
// and a context's end.
type redactedError struct {
	msg  string
	keep []error
}

func (e *redactedError) Error() string   { return e.msg }
func (e *redactedError) Unwrap() []error { return e.keep }

// redactErr wraps err so that its text never shows a password of
// databaseURL.
func redactErr(err error, databaseURL string) error {
	if err == nil {
		return nil
	}
	e := &redactedError{msg: scrub(err.Error(), databaseURL)}
	var we *warehouse.Error
	if errors.As(err, &we) {
		e.keep = append(e.keep, we)
	}
	for _, c := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, c) {
			e.keep = append(e.keep, c)
		}
	}
	return e
}

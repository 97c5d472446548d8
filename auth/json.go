package auth

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// A tiny JSON reader for token headers and payloads.
//
// encoding/json into a map or struct costs more than the whole 2 µs budget
// of a verification and cannot tell us which claim had the wrong type. This
// reader walks one object, hands out substrings of the input (no copies) and
// validates everything it skips, so it accepts exactly what json.Valid
// accepts (the fuzz test checks this). Strings with escapes are rare in
// tokens and are decoded by encoding/json.

var errSyntax = errors.New("invalid JSON")

// maxDepth bounds nesting in skipped values so deep input cannot exhaust
// the stack.
const maxDepth = 64

type jsonReader struct {
	s string
	i int
}

// Value kinds, found from the first byte of a value.
const (
	kindInvalid = iota
	kindString
	kindNumber
	kindBool
	kindNull
	kindArray
	kindObject
)

func (r *jsonReader) ws() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// consume skips whitespace and then expects c.
func (r *jsonReader) consume(c byte) bool {
	r.ws()
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *jsonReader) peekKind() int {
	r.ws()
	if r.i >= len(r.s) {
		return kindInvalid
	}
	switch c := r.s[r.i]; {
	case c == '"':
		return kindString
	case c == '-' || (c >= '0' && c <= '9'):
		return kindNumber
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	case c == '[':
		return kindArray
	case c == '{':
		return kindObject
	}
	return kindInvalid
}

// end reports whether only whitespace is left.
func (r *jsonReader) end() bool {
	r.ws()
	return r.i == len(r.s)
}

// str reads a string at r.i (after whitespace) and returns its value.
// Strings without escapes are substrings of the input.
func (r *jsonReader) str() (string, error) {
	r.ws()
	if r.i >= len(r.s) || r.s[r.i] != '"' {
		return "", errSyntax
	}
	start := r.i
	r.i++
	// Fast path: printable ASCII without escapes, i.e. every claim we
	// issue, needs neither unescaping nor UTF-8 validation.
	for j := r.i; j < len(r.s); j++ {
		c := r.s[j]
		if c == '"' {
			r.i = j + 1
			return r.s[start+1 : j], nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
	}
	escaped := false
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			raw := r.s[start : r.i+1]
			r.i++
			if !escaped {
				body := raw[1 : len(raw)-1]
				if !utf8.ValidString(body) {
					return "", errSyntax
				}
				return body, nil
			}
			var v string
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				return "", errSyntax
			}
			return v, nil
		case c == '\\':
			if r.i+1 >= len(r.s) {
				return "", errSyntax
			}
			escaped = true
			switch r.s[r.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.i += 2
			case 'u':
				if r.i+6 > len(r.s) {
					return "", errSyntax
				}
				for _, h := range []byte(r.s[r.i+2 : r.i+6]) {
					if !isHex(h) {
						return "", errSyntax
					}
				}
				r.i += 6
			default:
				return "", errSyntax
			}
		case c < 0x20:
			return "", errSyntax
		default:
			r.i++
		}
	}
	return "", errSyntax
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number reads a JSON number and returns its text.
func (r *jsonReader) number() (string, error) {
	r.ws()
	s, i := r.s, r.i
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return "", errSyntax
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return "", errSyntax
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return "", errSyntax
		}
	}
	r.i = i
	return s[start:i], nil
}

func (r *jsonReader) literal(lit string) bool {
	r.ws()
	if len(r.s)-r.i >= len(lit) && r.s[r.i:r.i+len(lit)] == lit {
		r.i += len(lit)
		return true
	}
	return false
}

func (r *jsonReader) boolean() (bool, error) {
	if r.literal("true") {
		return true, nil
	}
	if r.literal("false") {
		return false, nil
	}
	return false, errSyntax
}

// skip validates and skips one value of any kind.
func (r *jsonReader) skip(depth int) error {
	if depth > maxDepth {
		return errSyntax
	}
	switch r.peekKind() {
	case kindString:
		_, err := r.str()
		return err
	case kindNumber:
		_, err := r.number()
		return err
	case kindBool:
		_, err := r.boolean()
		return err
	case kindNull:
		if !r.literal("null") {
			return errSyntax
		}
		return nil
	case kindArray:
		r.i++
		if r.consume(']') {
			return nil
		}
		for {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			if r.consume(',') {
				continue
			}
			if r.consume(']') {
				return nil
			}
			return errSyntax
		}
	case kindObject:
		r.i++
		if r.consume('}') {
			return nil
		}
		for {
			if _, err := r.str(); err != nil {
				return err
			}
			if !r.consume(':') {
				return errSyntax
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			if r.consume(',') {
				continue
			}
			if r.consume('}') {
				return nil
			}
			return errSyntax
		}
	}
	return errSyntax
}

// stringArray reads an array that should hold only strings. ok is false
// (with a nil error) when the array is valid JSON but holds something else.
func (r *jsonReader) stringArray() (out []string, ok bool, err error) {
	if !r.consume('[') {
		return nil, false, errSyntax
	}
	out = []string{}
	ok = true
	if r.consume(']') {
		return out, true, nil
	}
	for {
		if r.peekKind() == kindString {
			v, err := r.str()
			if err != nil {
				return nil, false, err
			}
			out = append(out, v)
		} else {
			ok = false
			if err := r.skip(1); err != nil {
				return nil, false, err
			}
		}
		if r.consume(',') {
			continue
		}
		if r.consume(']') {
			return out, ok, nil
		}
		return nil, false, errSyntax
	}
}

// appendJSONString appends s as a JSON string. Plain ASCII, which is every
// claim we write in practice, is copied as is; anything else goes through
// encoding/json so escaping and invalid UTF-8 are handled the standard way.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			enc, err := json.Marshal(s)
			if err != nil { // cannot happen for a string
				return append(b, `""`...)
			}
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// parseInt is a fast path for the plain integer seconds every issuer
// writes; it reports false for anything else.
func parseInt(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
		if len(s) == 0 {
			return 0, false
		}
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseNumericDate turns a JSON number (RFC 7519 NumericDate, possibly
// fractional) into seconds and nanoseconds, clamped to years 0..9999 so
// absurd values cannot overflow time arithmetic.
func parseNumericDate(s string) (sec, nsec int64) {
	const minSec, maxSec = -62167219200, 253402300799 // 0000-01-01, 9999-12-31T23:59:59Z
	if n, ok := parseInt(s); ok {
		return min(max(n, minSec), maxSec), 0
	}
	f, _ := strconv.ParseFloat(s, 64) // valid JSON number; overflow gives ±Inf
	switch {
	case f != f: // NaN cannot come from JSON, but be safe
		return 0, 0
	case f <= minSec:
		return minSec, 0
	case f >= maxSec:
		return maxSec, 0
	}
	sec = int64(f)
	nsec = int64((f - float64(sec)) * 1e9)
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return sec, nsec
}

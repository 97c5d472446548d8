package httpapi

import (
	"errors"
	"strconv"
	"strings"

	"github.com/warehouse-api/warehouse"
)

// precondition is a parsed If-Match header (RFC 9110 section 13.1.1).
type precondition struct {
	any bool // "*": any current version of an existing resource
	// versions are the versions named by strong entity tags of our shape
	// ("v3"). Weak tags never match (If-Match uses strong comparison) and
	// tags of another shape name no version of ours: both are dropped, so
	// a list of only those matches nothing (412).
	versions []int64
}

// parseIfMatch reads If-Match for every route that takes it. Missing is 428.
// A value that is not "*" or a list of entity-tags is a 400 naming the
// header, like any malformed parameter: RFC 9110 defines no outcome for a
// syntax error, and a 412 would tell the client its copy is stale when it
// only sent a broken header.
func parseIfMatch(h string) (precondition, error) {
	h = strings.Trim(h, " \t")
	if h == "" {
		return precondition{}, warehouse.Errorf(codePreconditionRequired,
			"If-Match header required: send the ETag from a GET of this resource, e.g. If-Match: \"v3\"")
	}
	if h == "*" {
		return precondition{any: true}, nil
	}
	var pc precondition
	tags := 0
	for rest := h; ; {
		rest = strings.TrimLeft(rest, " \t")
		if r, ok := strings.CutPrefix(rest, ","); ok {
			rest = r // empty list elements are allowed (RFC 9110 section 5.6.1)
			continue
		}
		if rest == "" {
			break
		}
		weak := false
		if r, ok := strings.CutPrefix(rest, "W/"); ok {
			weak, rest = true, r
		}
		tag, r, ok := cutEntityTag(rest)
		if !ok {
			return precondition{}, badIfMatch()
		}
		tags++
		rest = strings.TrimLeft(r, " \t")
		if rest != "" && rest[0] != ',' {
			return precondition{}, badIfMatch()
		}
		if v, ok := ourVersion(tag); ok && !weak {
			pc.versions = append(pc.versions, v)
		}
	}
	if tags == 0 {
		return precondition{}, badIfMatch()
	}
	return pc, nil
}

// cutEntityTag cuts one opaque-tag (DQUOTE *etagc DQUOTE) off s and
// returns what is between the quotes.
func cutEntityTag(s string) (tag, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[1:i], s[i+1:], true
		case c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80:
		default:
			return "", s, false
		}
	}
	return "", s, false
}

// ourVersion reads the version of an ETag we made (see etag): "v" and a
// positive decimal without leading zeros, so that one version has one tag.
func ourVersion(tag string) (int64, bool) {
	digits, ok := strings.CutPrefix(tag, "v")
	if !ok || digits == "" || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	return v, err == nil
}

func badIfMatch() error {
	const msg = `must be "*" or a list of entity tags such as "v3"`
	return &warehouse.Error{Code: codeBadParameter, Message: "Bad parameter: If-Match: " + msg,
		Fields: []warehouse.FieldError{{Field: "If-Match", In: "header", Message: msg}}}
}

// apply runs a conditional change: update is called with the version the
// store must find (it checks and writes in one transaction), or
// warehouse.AnyVersion for "*". With several tags, a stale answer whose
// current version is among them is retried with that version once per tag,
// so the change happens exactly when one of the tags is current.
func (pc precondition) apply(update func(version int64) error) error {
	if pc.any {
		return update(warehouse.AnyVersion)
	}
	if len(pc.versions) == 0 {
		// No version of ours named: 0 matches none (versions start at 1),
		// and the store answers 412 with the current version, or 404.
		return update(0)
	}
	err := update(pc.versions[0])
	tried := map[int64]bool{pc.versions[0]: true}
	for range pc.versions[1:] {
		var st *warehouse.StaleError
		if !errors.As(err, &st) || tried[st.Current] || !containsVersion(pc.versions, st.Current) {
			return err
		}
		tried[st.Current] = true
		err = update(st.Current)
	}
	return err
}

func containsVersion(vs []int64, v int64) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// Text input is checked once, here, for every route: a NUL character or
// invalid UTF-8 in a path, query or header parameter, or a NUL in a JSON
// string of the body, is refused before any handler runs. PostgreSQL
// cannot store either (it answered 500) while SQLite stored them; neither
// is ever meaningful in this API, so both engines now answer the same 4xx,
// shaped as every other invalid field: 400 bad_parameter for parameters,
// 422 validation_failed for the body, naming the field and where it was.

const msgBadText = "must be valid UTF-8 text without NUL (\\u0000) characters"

// badText reports whether s cannot be stored as text by every engine.
func badText(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}

// checkText is the Huma middleware that applies the rule to the declared
// parameters of the operation and to its JSON body.
func checkText(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	var errs []warehouse.FieldError
	var query map[string][]string
	for _, p := range op.Parameters {
		var values []string
		switch p.In {
		case "path":
			values = []string{ctx.Param(p.Name)}
		case "query":
			if query == nil {
				u := ctx.URL()
				query = u.Query()
			}
			values = query[p.Name]
		case "header":
			values = []string{ctx.Header(p.Name)}
		default:
			continue
		}
		for _, v := range values {
			if badText(v) {
				errs = append(errs, warehouse.FieldError{Field: p.Name, In: p.In, Message: msgBadText})
				break
			}
		}
	}
	if len(errs) > 0 {
		parts := make([]string, 0, len(errs))
		for _, fe := range errs {
			parts = append(parts, fe.Field+": "+fe.Message)
		}
		writeHumaProblem(ctx, problemFor(&warehouse.Error{Code: codeBadParameter, Message: "Bad parameter: " + strings.Join(parts, "; "), Fields: errs}))
		return
	}
	if op.RequestBody == nil {
		next(ctx)
		return
	}
	body, rest, err := peekBody(ctx.BodyReader(), op.MaxBodyBytes)
	if err != nil {
		// Let Huma read and report it as it always does.
		next(&bodyCtx{humaContext: ctx, body: io.MultiReader(bytes.NewReader(body), rest)})
		return
	}
	if field, ok := nulField(body); ok {
		writeHumaProblem(ctx, problemFor(&warehouse.Error{Code: codeValidationFailed,
			Message: "Request validation failed: " + field + ": " + msgBadText,
			Fields:  []warehouse.FieldError{{Field: field, In: "body", Message: msgBadText}}}))
		return
	}
	next(&bodyCtx{humaContext: ctx, body: io.MultiReader(bytes.NewReader(body), rest)})
}

// peekBody reads the body up to limit bytes (Huma's default when 0) and
// returns what it read and the unread rest; a body over the limit is left
// for Huma to refuse with its 413.
func peekBody(r io.Reader, limit int64) ([]byte, io.Reader, error) {
	if r == nil {
		return nil, bytes.NewReader(nil), nil
	}
	if limit <= 0 {
		limit = 1 << 20
	}
	var buf bytes.Buffer
	_, err := io.Copy(&buf, io.LimitReader(r, limit))
	return buf.Bytes(), r, err
}

// bodyCtx hands Huma the body the middleware has read.
type bodyCtx struct {
	humaContext
	body io.Reader
}

func (c *bodyCtx) BodyReader() io.Reader { return c.body }

// nulField returns the field (as Huma names body fields: "lines[1].sku")
// of the first JSON string, key or value, that holds a NUL. A body without
// the escape \u0000 has none, so the common request costs one scan.
// Malformed JSON is left to Huma's own error.
func nulField(body []byte) (string, bool) {
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		array bool
		index int
		key   string
		// wantKey: in an object, the next string is a key.
		wantKey bool
	}
	var stack []frame
	path := func(last string) string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
		if last != "" {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(last)
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	// value records that a value ended in the innermost container.
	value := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].array {
				stack[n-1].index++
			} else {
				stack[n-1].wantKey = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return "", false
		}
		top := len(stack) - 1
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{wantKey: true})
			case '[':
				stack = append(stack, frame{array: true})
			default:
				stack = stack[:top]
				value()
			}
			continue
		case string:
			if top >= 0 && !stack[top].array && stack[top].wantKey {
				stack[top].key, stack[top].wantKey = t, false
				if strings.IndexByte(t, 0) >= 0 {
					stack[top].key = strings.ReplaceAll(t, "\x00", `\u0000`)
					return path(""), true
				}
				continue
			}
			if strings.IndexByte(t, 0) >= 0 {
				return path(""), true
			}
		}
		value()
	}
}

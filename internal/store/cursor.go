package store

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/warehouse-api/warehouse"
)

// cursor is the opaque pagination token: which list it belongs to and the
// sort key of the last row returned. Keyset pagination, so pages stay
// correct while rows are added.
type cursor struct {
	List string            `json:"l"`
	Key  []json.RawMessage `json:"k"`
}

func encodeCursor(list string, key ...any) string {
	c := cursor{List: list}
	for _, k := range key {
		b, _ := json.Marshal(k)
		c.Key = append(c.Key, b)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads s (if not empty) into dst, which must match the key
// shape encodeCursor was given for list. It reports whether s was set.
func decodeCursor(s, list string, dst ...any) (bool, error) {
	if s == "" {
		return false, nil
	}
	bad := &warehouse.Error{Code: warehouse.EBADCURSOR, Message: "invalid cursor: pass next_cursor from the previous page unchanged",
		Fields: []warehouse.FieldError{{Field: "cursor", Message: "invalid cursor"}}}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return false, bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.List != list || len(c.Key) != len(dst) {
		return false, bad
	}
	for i, d := range dst {
		if err := json.Unmarshal(c.Key[i], d); err != nil {
			return false, bad
		}
		// Only a forged cursor holds a NUL; PostgreSQL cannot compare it.
		if s, ok := d.(*string); ok && strings.IndexByte(*s, 0) >= 0 {
			return false, bad
		}
	}
	return true, nil
}

// pageLimit clamps a limit to 1..200, default 50.
func pageLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 200)
}

// likeEscape makes s literal inside a LIKE pattern (with ESCAPE '\').
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// where builds a WHERE clause from conditions, with ? placeholders.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

package store

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/warehouse-api/warehouse"
)

// maxFuzzCursor bounds a fuzzed cursor: a real one is a few dozen bytes,
// and the API's query parameters are far below this.
const maxFuzzCursor = 4 << 10

// checkBadCursor fails unless err is the one refusal every forged cursor
// gets: the domain's bad_cursor with a detail at the cursor field.
func checkBadCursor(t *testing.T, s string, err error) {
	t.Helper()
	var e *warehouse.Error
	if !errors.As(err, &e) || e.Code != warehouse.EBADCURSOR || e.Message == "" ||
		len(e.Fields) != 1 || e.Fields[0].Field != "cursor" || e.Fields[0].Message == "" {
		t.Fatalf("decodeCursor(%q): %v (%T), want bad_cursor at the cursor field", s, err, err)
	}
}

// FuzzCursorDecode decodes arbitrary input as each list's cursor: it
// never panics, refuses with bad_cursor only, never yields a string with a
// NUL (PostgreSQL cannot compare one), and what it accepts encodes back to
// a cursor that decodes to the same key.
func FuzzCursorDecode(f *testing.F) {
	for _, s := range []string{
		encodeCursor("items", "WID-RED"), encodeCursor("movements", int64(42)), encodeCursor("audit-events", int64(1)),
		encodeCursor("stock", "WID", "WH1/A", ""), encodeCursor("stock", "WID", "WH1/A", "LOT-7"),
		encodeCursor("items", "é☃"), encodeCursor("movements", int64(-1)), encodeCursor("movements", int64(9007199254740993)),
		encodeCursor("items", "WID") + "==", "", "=", "e30", "bnVsbA", "W10",
		b64(`{"l":"items","k":["a\u0000b"]}`), b64(`{"l":"items","k":[1]}`), b64(`{"l":"movements","k":["1"]}`),
		b64(`{"l":"movements","k":[1e400]}`), b64(`{"l":"movements","k":[1.5]}`), b64(`{"l":"items","k":[]}`),
		b64(`{"l":"items","k":null}`), b64(`{"l":"items"}`), b64(`{"l":"stock","k":["a","b"]}`), b64(`{"l":"items","k":["a"],"l":"stock"}`),
		b64(`{"L":"ITEMS","K":["a"]}`), b64(`[[[[[[[[[[[[[[[[`), b64("\xff\xfe"), "!!!!", "eyJsIjoiaXRlbXMi", "a.b.c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzCursor {
			return
		}
		var sku string
		if ok, err := decodeCursor(s, "items", &sku); err != nil {
			checkBadCursor(t, s, err)
		} else if ok {
			if strings.IndexByte(sku, 0) >= 0 {
				t.Fatalf("decodeCursor(%q) accepts a NUL: %q", s, sku)
			}
			var again string
			if ok, err := decodeCursor(encodeCursor("items", sku), "items", &again); !ok || err != nil || again != sku {
				t.Fatalf("items key %q does not round-trip: %q, %v, %v", sku, again, ok, err)
			}
		} else if s != "" {
			t.Fatalf("decodeCursor(%q) says no cursor", s)
		}

		var id int64
		if ok, err := decodeCursor(s, "movements", &id); err != nil {
			checkBadCursor(t, s, err)
		} else if ok {
			var again int64
			if ok, err := decodeCursor(encodeCursor("movements", id), "movements", &again); !ok || err != nil || again != id {
				t.Fatalf("movements key %d does not round-trip: %d, %v, %v", id, again, ok, err)
			}
		}

		var a, b, c string
		if ok, err := decodeCursor(s, "stock", &a, &b, &c); err != nil {
			checkBadCursor(t, s, err)
		} else if ok {
			var a2, b2, c2 string
			if ok, err := decodeCursor(encodeCursor("stock", a, b, c), "stock", &a2, &b2, &c2); !ok || err != nil || a2 != a || b2 != b || c2 != c {
				t.Fatalf("stock key %q %q %q does not round-trip: %q %q %q, %v, %v", a, b, c, a2, b2, c2, ok, err)
			}
		}
	})
}

// FuzzCursorRoundtrip encodes arbitrary keys: the cursor is URL-safe
// text, decodes to the same key for its own list only, and a key or list
// name no real one is (a NUL, invalid UTF-8, which JSON replaces) is
// refused or read back, never a panic.
func FuzzCursorRoundtrip(f *testing.F) {
	f.Add("items", "WID-RED", "WH1/A/01", "LOT-1", int64(7))
	f.Add("stock", "", "", "", int64(0))
	f.Add("low-stock", "a\"b\\c", "\u2028", "\x00", int64(-9223372036854775808))
	f.Add("ledger", "\xff", "é", strings.Repeat("x", 200), int64(9223372036854775807))
	f.Fuzz(func(t *testing.T, list, s1, s2, s3 string, n int64) {
		if len(list)+len(s1)+len(s2)+len(s3) > maxFuzzCursor {
			return
		}
		for _, cur := range []string{encodeCursor(list, s1, s2, s3), encodeCursor(list, n), encodeCursor(list, s1)} {
			if strings.ContainsAny(cur, "+/=.\n ") {
				t.Fatalf("cursor %q is not URL-safe", cur)
			}
			var x int64
			if ok, err := decodeCursor(cur, list+"x", &x); ok || err == nil {
				t.Fatalf("cursor of %q accepted for list %q", list, list+"x")
			}
		}
		var a, b, c string
		ok, err := decodeCursor(encodeCursor(list, s1, s2, s3), list, &a, &b, &c)
		plain := func(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }
		switch {
		case err != nil:
			checkBadCursor(t, list, err)
			if plain(list) && plain(s1) && plain(s2) && plain(s3) {
				t.Fatalf("key %q %q %q refused: %v", s1, s2, s3, err)
			}
		case !ok:
			t.Fatal("a cursor decoded as none")
		case plain(s1) && plain(s2) && plain(s3) && (a != s1 || b != s2 || c != s3):
			t.Fatalf("key %q %q %q read back as %q %q %q", s1, s2, s3, a, b, c)
		}
		var m int64
		if ok, err := decodeCursor(encodeCursor(list, n), list, &m); plain(list) && (!ok || err != nil || m != n) {
			t.Fatalf("id %d read back as %d, %v, %v", n, m, ok, err)
		}
	})
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

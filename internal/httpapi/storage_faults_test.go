package httpapi_test

import (
	"os"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestDatabaseFileGoneHTTP deletes, or replaces, the SQLite database file
// under a running server: movements are refused with 503 unavailable (not
// acknowledged into a file no path names, lost at the next restart), and
// /readyz answers 503, so that a load balancer takes the instance out.
// PostgreSQL owns its files and is not affected.
func TestDatabaseFileGoneHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, path string)
	}{
		{"deleted", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced", func(t *testing.T, path string) {
			other := newDomainTestServer(t, pgtest.SQLite)
			if err := other.app.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other.db.Path, path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newDomainTestServer(t, pgtest.SQLite)
			f := e.fixture()
			receipt := map[string]any{"type": "receipt", "lines": []any{line("sku", "WID", "to_location_id", f.a, "qty", 1)}}
			e.move(receipt).must(201)
			e.do("GET", "/readyz", "", nil).must(200)

			tc.do(t, e.db.Path)
			for range 5 {
				r := e.move(receipt).must(503)
				if r.json()["code"] != "unavailable" || r.header.Get("Retry-After") == "" {
					t.Fatalf("movement: %s (Retry-After %q)", r.body, r.header.Get("Retry-After"))
				}
				r = e.do("GET", "/readyz", "", nil).must(503)
				if d, _ := r.json()["detail"].(string); strings.Contains(d, e.db.Path) {
					t.Fatalf("the answer names the server's file: %s", d)
				}
			}
		})
	}
}

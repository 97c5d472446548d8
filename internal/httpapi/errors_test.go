package httpapi_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestWarehouseRoutesDatabaseDown: with the database gone, every kind of
// warehouse route (a read, a list, a CSV export, a conditional change, a
// lookup, the audit log) answers 503 unavailable with Retry-After through
// the real router, never 500, on both engines. Handlers return the store's
// error as it is; the one error table recognises the outage in its chain.
func TestWarehouseRoutesDatabaseDown(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		f := e.fixture()
		id := strconv.FormatInt(f.wid, 10)
		loc := strconv.FormatInt(f.a, 10)
		if err := e.db.Close(); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			method, path, role string
			body               any
			hdr                []string
		}{
			{"GET", "/api/v1/items/" + id, "viewer", nil, nil},
			{"GET", "/api/v1/items", "viewer", nil, nil},
			{"GET", "/api/v1/items?format=csv", "viewer", nil, nil},
			{"GET", "/api/v1/stock", "viewer", nil, []string{"Accept", "text/csv"}},
			{"PATCH", "/api/v1/items/" + id, "manager", map[string]any{"name": "x"}, []string{"If-Match", `"v1"`}},
			{"DELETE", "/api/v1/locations/" + loc, "manager", nil, []string{"If-Match", "*"}},
			{"GET", "/api/v1/lookup?barcode=nothing", "viewer", nil, nil},
			{"GET", "/api/v1/audit-events", "manager", nil, nil},
			{"GET", "/readyz", "", nil, nil},
		}
		for _, tc := range cases {
			r := e.do(tc.method, tc.path, e.tokens[tc.role], tc.body, tc.hdr...)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.json()["code"] != warehouse.EUNAVAILABLE {
				t.Errorf("%s %s: %d Retry-After %q: %s; want 503 unavailable with Retry-After", tc.method, tc.path, r.status, r.header.Get("Retry-After"), r.body)
			}
		}
	})
}

package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestFrozenItemFieldsNamed: once an item has ledger entries, a change of
// sku, lot_tracked or a lower qty_precision is refused, and the error names
// the field the request tried to change (it always said sku).
func TestFrozenItemFieldsNamed(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		f := e.fixture()
		m := e.tokens["manager"]
		e.move(map[string]any{"type": "receipt", "lines": []any{line("sku", "WID", "to_location_id", f.a, "qty", 3)}}).must(201)
		e.move(map[string]any{"type": "receipt", "lines": []any{line("sku", "FLOUR", "to_location_id", f.a, "qty", 1.5)}}).must(201)
		for _, tc := range []struct {
			name  string
			item  int64
			patch map[string]any
			field string
		}{
			{"sku", f.wid, map[string]any{"sku": "WID2"}, "sku"},
			{"lot_tracked", f.wid, map[string]any{"lot_tracked": true}, "lot_tracked"},
			{"lower qty_precision", f.flour, map[string]any{"qty_precision": 1}, "qty_precision"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("PATCH", fmt.Sprintf("/api/v1/items/%d", tc.item), m, tc.patch, "If-Match", `"v1"`).must(422)
				errs, _ := r.json()["errors"].([]any)
				if len(errs) != 1 {
					t.Fatalf("errors %v, want one naming %s", r.json()["errors"], tc.field)
				}
				if got := errs[0].(map[string]any)["field"]; got != tc.field {
					t.Errorf("field %v, want %s: %s", got, tc.field, r.body)
				}
			})
		}
		// A higher precision stays allowed.
		e.do("PATCH", fmt.Sprintf("/api/v1/items/%d", f.wid), m, map[string]any{"qty_precision": 2}, "If-Match", `"v1"`).must(200)
	})
}

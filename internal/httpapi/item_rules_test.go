package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// fieldErrors is what a 422 pins of a problem: the fields it names.
type fieldErrors struct {
	Errors []fieldError `json:"errors"`
}

type fieldError struct {
	Field string `json:"field"`
}

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
		patch := func(item int64) string { return fmt.Sprintf("/api/v1/items/%d", item) }
		hdr := []string{bearer(m), `If-Match: "v1"`}
		runScenarios(t, engine, e.srv, []scenario{
			{name: "sku", method: "PATCH", path: patch(f.wid), headers: hdr, body: jsonText(t, map[string]any{"sku": "WID2"}),
				status: 422, want: fieldErrors{Errors: []fieldError{{Field: "sku"}}}},
			{name: "lot_tracked", method: "PATCH", path: patch(f.wid), headers: hdr, body: jsonText(t, map[string]any{"lot_tracked": true}),
				status: 422, want: fieldErrors{Errors: []fieldError{{Field: "lot_tracked"}}}},
			{name: "lower qty_precision", method: "PATCH", path: patch(f.flour), headers: hdr, body: jsonText(t, map[string]any{"qty_precision": 1}),
				status: 422, want: fieldErrors{Errors: []fieldError{{Field: "qty_precision"}}}},
			// A higher precision stays allowed.
			{name: "higher qty_precision", method: "PATCH", path: patch(f.wid), headers: hdr, body: jsonText(t, map[string]any{"qty_precision": 2}),
				status: 200},
		})
	})
}

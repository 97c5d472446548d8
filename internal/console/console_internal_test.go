package console

import (
	"testing"

	"github.com/warehouse-api/warehouse"
)

// TestInputOf: a domain field error lands next to the input it concerns.
func TestInputOf(t *testing.T) {
	for field, want := range map[string]string{
		"lines[0].qty": "qty", "lines[0].counted_qty": "qty", "lines[0].qty_delta": "qty", "lines[0].sku": "item",
		"lines[0].from_location_id": "from", "lines[0].to_location_id": "to", "lines[0].location_id": "location",
		"reason": "reason", "reference": "reference", "lines": "", "type": "",
	} {
		if got := inputOf(field); got != want {
			t.Errorf("inputOf(%q) = %q, want %q", field, got, want)
		}
	}
}

// TestLocalPath: after sign-in the console goes only to its own pages.
func TestLocalPath(t *testing.T) {
	for next, want := range map[string]string{
		"/ledger?item=1": "/ledger?item=1", "": "/stock", "/": "/stock", "//evil.example": "/stock",
		"/\\evil.example": "/stock", "https://evil.example/": "/stock", "stock": "/stock",
	} {
		if got := localPath(next); got != want {
			t.Errorf("localPath(%q) = %q, want %q", next, got, want)
		}
	}
}

// TestPagesParse: every template parses with the layout (New panics
// otherwise) and the static files are embedded.
func TestPagesParse(t *testing.T) {
	c := New(Deps{})
	for _, p := range []string{"signin", "stock", "ledger", "move", "movement", "sessions", "users", "error", "orders", "order", "pick"} {
		if c.pages[p] == nil {
			t.Errorf("no page %s", p)
		}
	}
	for _, f := range []string{"static/console.css", "static/console.js"} {
		if _, err := staticFS.Open(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestPickKey: one key per stop and attempt, so that the same form posted
// twice replays while the next attempt at a stop (it holds less after a
// partial pick) is a request of its own.
func TestPickKey(t *testing.T) {
	l := warehouse.PickListLine{ReservationID: 7, Qty: 3 * warehouse.QtyScale}
	k := pickKey("pick", "SO-1", l)
	if k != pickKey("pick", "SO-1", l) {
		t.Error("the same stop has two keys")
	}
	other := l
	other.Qty = warehouse.QtyScale
	for _, o := range []string{pickKey("short", "SO-1", l), pickKey("pick", "SO-2", l), pickKey("pick", "SO-1", other)} {
		if o == k {
			t.Errorf("%s: the same key for another attempt", o)
		}
	}
}

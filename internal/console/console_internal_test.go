package console

import "testing"

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
	for _, p := range []string{"signin", "stock", "ledger", "move", "movement", "sessions", "users", "error"} {
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

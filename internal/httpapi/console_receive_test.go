package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestConsoleReceiving drives the receiving screen without a browser on
// both engines: the scan fallback (a scanned code posted in the scan field
// counts one more on its line and receives nothing), a receipt of a
// lot-tracked line with its expiry, a replay of the same form (posted
// once), an unknown location, and a viewer refused the page.
func TestConsoleReceiving(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		f := e.fixture()
		m := e.tokens["manager"]
		e.do("POST", "/api/v1/purchase-orders", m, map[string]any{"number": "PO-5", "supplier": "S", "lines": []any{
			line("sku", "FLOUR", "expected_qty", 10),
			line("sku", "MILK", "expected_qty", 4),
		}}).must(201)
		e.do("POST", "/api/v1/purchase-orders/PO-5/confirm", m, nil, "If-Match", "*").must(200)

		viewer := newBrowserish(t, e.srv)
		viewer.signIn("viewer", "viewer-password")
		if w := viewer.do("GET", "/receive/PO-5", nil); w.Code != http.StatusForbidden {
			t.Fatalf("viewer: %d", w.Code)
		}

		b := newBrowserish(t, e.srv)
		b.signIn("clerk", "clerk-password")
		if w := b.do("GET", "/receive", nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `href="/receive/PO-5"`) {
			t.Fatalf("open orders: %d %s", w.Code, w.Body)
		}
		csrf, key := b.form("/receive/PO-5")
		form := url.Values{"csrf_token": {csrf}, "idempotency_key": {key}, "scan": {"4006381333931"}, "location": {"A"}}
		w := b.do("POST", "/receive/PO-5", form)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Scanned FLOUR: line 1 now 1.") || !strings.Contains(w.Body.String(), `name="qty-1" value="1"`) {
			t.Fatalf("scan fallback: %d %s", w.Code, w.Body)
		}
		if js := e.do("GET", "/api/v1/purchase-orders/PO-5", m, nil).must(200).json(); js["status"] != "confirmed" {
			t.Fatalf("a scan received: %v", js["status"])
		}
		form = url.Values{"csrf_token": {csrf}, "idempotency_key": {key}, "location": {"A"},
			"qty-1": {"2.5"}, "qty-2": {"4"}, "lot-2": {"M-1"}, "expires-2": {"2031-01-15"}}
		w = b.do("POST", "/receive/PO-5", form)
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/receive/PO-5?received=") {
			t.Fatalf("receive: %d %s", w.Code, w.Body)
		}
		if w := b.do("POST", "/receive/PO-5", form); w.Code != http.StatusSeeOther {
			t.Fatalf("the same form again: %d %s", w.Code, w.Body)
		}
		r := e.do("GET", "/api/v1/purchase-orders/PO-5", m, nil).must(200)
		if js := r.json(); js["status"] != "partially_received" || len(js["receipts"].([]any)) != 1 ||
			poLine(t, r, 0)["received_qty"].(float64) != 2.5 || poLine(t, r, 1)["open_qty"].(float64) != 0 {
			t.Fatalf("after the console's receipt: %s", r.body)
		}
		lots := e.do("GET", fmt.Sprintf("/api/v1/items/%d/lots", f.lotIt), m, nil).must(200).json()["lots"].([]any)
		if len(lots) != 1 || lots[0].(map[string]any)["expires_on"] != "2031-01-15" {
			t.Fatalf("lots: %v", lots)
		}
		// An unknown location: the field says so.
		csrf, key = b.form("/receive/PO-5")
		w = b.do("POST", "/receive/PO-5", url.Values{"csrf_token": {csrf}, "idempotency_key": {key}, "location": {"NOPE"}, "qty-1": {"1"}})
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `no location has the code &#34;NOPE&#34;`) {
			t.Fatalf("unknown location: %d %s", w.Code, w.Body)
		}
	})
}

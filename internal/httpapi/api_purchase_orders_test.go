package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// poLine is the line of a purchase order answer.
func poLine(t *testing.T, r *domainResp, i int) map[string]any {
	t.Helper()
	return r.json()["lines"].([]any)[i].(map[string]any)
}

// onHandAt is the on_hand of item at location (and lot), 0 if no balance.
func (e *domainEnv) onHandAt(item, loc int64, lot string) float64 {
	e.t.Helper()
	r := e.do("GET", fmt.Sprintf("/api/v1/stock?item_id=%d&location_id=%d&lot=%s", item, loc, lot), e.tokens["viewer"], nil).must(200)
	for _, b := range r.items() {
		return b.(map[string]any)["on_hand"].(float64)
	}
	return 0
}

// TestPurchaseOrderReceiving walks a purchase order through its states on
// both engines: partial receipts, replays by key, over-receipt without a
// reason, beyond tolerance and with a reason, and closing short.
func TestPurchaseOrderReceiving(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		f := e.fixture()
		m, c, v := e.tokens["manager"], e.tokens["clerk"], e.tokens["viewer"]
		path := "/api/v1/purchase-orders/PO-1"
		receive := func(key string, body map[string]any) *domainResp {
			return e.do("POST", path+"/receipts", c, body, "Idempotency-Key", key)
		}

		po := map[string]any{"number": "PO-1", "supplier": "ACME", "over_receipt_tolerance_pct": 10, "lines": []any{
			line("sku", "WID", "expected_qty", 10),
			line("item_id", f.lotIt, "lot", "L1", "expires_on", "2030-01-31", "expected_qty", 5),
		}}
		e.do("POST", "/api/v1/purchase-orders", v, po).must(403)
		r := e.do("POST", "/api/v1/purchase-orders", m, po).must(201)
		if r.header.Get("Location") != path || r.header.Get("ETag") != `"v1"` || r.json()["status"] != "draft" {
			t.Fatalf("created: %v %s", r.header, r.body)
		}
		e.do("POST", "/api/v1/purchase-orders", m, po).must(409)

		part := map[string]any{"lines": []any{
			line("line", 1, "qty", 4, "location_id", f.a),
			line("line", 2, "qty", 5, "location_id", f.b),
		}}
		receive(newKey(), part).must(409) // a draft is not received
		e.do("POST", path+"/confirm", c, nil, "If-Match", "*").must(403)
		e.do("POST", path+"/confirm", m, nil).must(428)
		e.do("POST", path+"/confirm", m, nil, "If-Match", `"v9"`).must(412)
		r = e.do("POST", path+"/confirm", m, nil, "If-Match", `"v1"`).must(200)
		if r.json()["status"] != "confirmed" {
			t.Fatalf("confirmed: %s", r.body)
		}
		e.do("POST", path+"/confirm", m, nil, "If-Match", "*").must(409)

		e.do("POST", path+"/receipts", c, part).must(400) // no Idempotency-Key
		key := newKey()
		r = receive(key, part).must(201)
		got := r.json()
		order := got["purchase_order"].(map[string]any)
		mv := got["movement"].(map[string]any)
		lines := order["lines"].([]any)
		if order["status"] != "partially_received" || lines[0].(map[string]any)["open_qty"].(float64) != 6 || lines[1].(map[string]any)["open_qty"].(float64) != 0 ||
			mv["reference"] != "PO-1" || mv["type"] != "receipt" {
			t.Fatalf("first receipt: %s", r.body)
		}
		if e.onHandAt(f.wid, f.a, "") != 4 || e.onHandAt(f.lotIt, f.b, "L1") != 5 {
			t.Fatalf("balances after the first receipt")
		}
		if b := e.do("GET", fmt.Sprintf("/api/v1/stock?item_id=%d", f.lotIt), v, nil).must(200).items()[0].(map[string]any); b["expires_on"] != "2030-01-31" {
			t.Fatalf("the balance of L1 shows no expiry: %v", b)
		}
		if b := e.do("GET", fmt.Sprintf("/api/v1/stock?item_id=%d", f.wid), v, nil).must(200).items()[0].(map[string]any); b["expires_on"] != nil {
			t.Fatalf("a balance without a lot has an expiry: %v", b)
		}
		lots := e.do("GET", fmt.Sprintf("/api/v1/items/%d/lots", f.lotIt), v, nil).must(200).json()["lots"].([]any)
		if len(lots) != 1 || lots[0].(map[string]any)["expires_on"] != "2030-01-31" {
			t.Fatalf("lots after the receipt: %v", lots)
		}

		// The same key again: the first receipt's movement, nothing received.
		r = receive(key, part).must(201)
		if r.header.Get("Idempotent-Replayed") != "true" || r.json()["movement"].(map[string]any)["id"] != mv["id"] {
			t.Fatalf("replay: %v %s", r.header, r.body)
		}
		if e.onHandAt(f.wid, f.a, "") != 4 {
			t.Fatal("a replay received again")
		}
		receive(key, map[string]any{"lines": []any{line("line", 1, "qty", 1, "location_id", f.a)}}).must(422)

		// Over-receipt: 10% of 10 is 1 over, with a reason; 2 over is refused.
		seven := map[string]any{"lines": []any{line("line", 1, "qty", 7, "location_id", f.a)}}
		r = receive(newKey(), seven).must(422)
		if p := r.json(); !strings.Contains(p["detail"].(string), "give a reason") {
			t.Fatalf("over-receipt without a reason: %s", r.body)
		}
		r = receive(newKey(), map[string]any{"reason": "sent extra", "lines": []any{line("line", 1, "qty", 8, "location_id", f.a)}}).must(409)
		if p := r.json(); p["code"] != "over_receipt" || !strings.Contains(p["detail"].(string), "line 1 (WID)") {
			t.Fatalf("beyond tolerance: %s", r.body)
		}
		receive(newKey(), map[string]any{"lines": []any{line("line", 3, "qty", 1, "location_id", f.a)}}).must(422)
		seven["reason"] = "supplier sent one more"
		r = receive(newKey(), seven).must(201)
		order = r.json()["purchase_order"].(map[string]any)
		l1 := order["lines"].([]any)[0].(map[string]any)
		if order["status"] != "received" || l1["received_qty"].(float64) != 11 || l1["open_qty"].(float64) != 0 || len(order["receipts"].([]any)) != 2 {
			t.Fatalf("received in full: %s", r.body)
		}
		if e.onHandAt(f.wid, f.a, "") != 11 {
			t.Fatal("balance after the second receipt")
		}
		receive(newKey(), map[string]any{"lines": []any{line("line", 2, "qty", 1, "location_id", f.b)}}).must(409)
		e.do("POST", path+"/cancel", m, map[string]any{"reason": "late"}, "If-Match", "*").must(409)
		r = e.do("GET", "/api/v1/ledger?lot=L1", v, nil).must(200)
		if n := len(r.items()); n != 1 {
			t.Fatalf("ledger entries of L1: %d", n)
		}

		// Closed short: a reason is required, what was received stays.
		e.do("POST", "/api/v1/purchase-orders", m, map[string]any{"number": "PO-2", "supplier": "ACME", "lines": []any{line("sku", "FLOUR", "expected_qty", 2.5)}}).must(201)
		e.do("POST", "/api/v1/purchase-orders/PO-2/confirm", m, nil, "If-Match", `"v1"`).must(200)
		e.do("POST", "/api/v1/purchase-orders/PO-2/receipts", c, map[string]any{"lines": []any{line("line", 1, "qty", 1.25, "location_id", f.a)}}, "Idempotency-Key", newKey()).must(201)
		e.do("POST", "/api/v1/purchase-orders/PO-2/cancel", m, map[string]any{"reason": ""}, "If-Match", "*").must(422)
		r = e.do("POST", "/api/v1/purchase-orders/PO-2/cancel", m, map[string]any{"reason": "supplier out of stock"}, "If-Match", "*").must(200)
		if js := r.json(); js["status"] != "cancelled" || js["close_reason"] != "supplier out of stock" || poLine(t, r, 0)["received_qty"].(float64) != 1.25 {
			t.Fatalf("cancelled: %s", r.body)
		}
		e.do("POST", "/api/v1/purchase-orders/PO-2/receipts", c, map[string]any{"lines": []any{line("line", 1, "qty", 1, "location_id", f.a)}}, "Idempotency-Key", newKey()).must(409)

		if n := len(e.do("GET", "/api/v1/purchase-orders", v, nil).must(200).items()); n != 2 {
			t.Fatalf("%d orders", n)
		}
		r = e.do("GET", "/api/v1/purchase-orders?status=cancelled&limit=1", v, nil).must(200)
		if items := r.items(); len(items) != 1 || items[0].(map[string]any)["number"] != "PO-2" {
			t.Fatalf("cancelled orders: %s", r.body)
		}
		e.do("GET", "/api/v1/purchase-orders/PO-404", v, nil).must(404)
	})
}

// TestPurchaseOrderRefusals: bad orders and receipts are 4xx naming the
// field, never a 500.
func TestPurchaseOrderRefusals(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		f := e.fixture()
		m := e.tokens["manager"]
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"unknown item", map[string]any{"number": "X1", "supplier": "S", "lines": []any{line("sku", "NOPE", "expected_qty", 1)}}, 422},
			{"lot on an untracked item", map[string]any{"number": "X2", "supplier": "S", "lines": []any{line("sku", "WID", "lot", "L", "expected_qty", 1)}}, 422},
			{"too many decimals", map[string]any{"number": "X3", "supplier": "S", "lines": []any{line("sku", "WID", "expected_qty", 1.5)}}, 422},
			{"zero qty", map[string]any{"number": "X4", "supplier": "S", "lines": []any{line("sku", "WID", "expected_qty", 0)}}, 422},
			{"bad date", map[string]any{"number": "X5", "supplier": "S", "lines": []any{line("item_id", f.lotIt, "lot", "L", "expires_on", "2030-02-30", "expected_qty", 1)}}, 422},
			{"expiry without a lot", map[string]any{"number": "X6", "supplier": "S", "lines": []any{line("item_id", f.lotIt, "expires_on", "2030-02-01", "expected_qty", 1)}}, 422},
			{"bad number", map[string]any{"number": "a b", "supplier": "S", "lines": []any{line("sku", "WID", "expected_qty", 1)}}, 422},
			{"no lines", map[string]any{"number": "X7", "supplier": "S", "lines": []any{}}, 422},
			{"tolerance above 100", map[string]any{"number": "X8", "supplier": "S", "over_receipt_tolerance_pct": 101, "lines": []any{line("sku", "WID", "expected_qty", 1)}}, 422},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.do("POST", "/api/v1/purchase-orders", m, tc.body).must(tc.status)
			})
		}
		// Receiving a lot-tracked line without a lot, at a structural
		// location, or a lot whose expiry differs from the one recorded.
		e.do("POST", "/api/v1/purchase-orders", m, map[string]any{"number": "P1", "supplier": "S", "lines": []any{line("item_id", f.lotIt, "expected_qty", 9)}}).must(201)
		e.do("POST", "/api/v1/purchase-orders/P1/confirm", m, nil, "If-Match", "*").must(200)
		rc := func(body map[string]any) *domainResp {
			return e.do("POST", "/api/v1/purchase-orders/P1/receipts", e.tokens["clerk"], body, "Idempotency-Key", newKey())
		}
		rc(map[string]any{"lines": []any{line("line", 1, "qty", 1, "location_id", f.a)}}).must(422)
		rc(map[string]any{"lines": []any{line("line", 1, "qty", 1, "location_id", f.wh, "lot", "L9")}}).must(422)
		e.do("PUT", fmt.Sprintf("/api/v1/items/%d/lots/L9", f.lotIt), m, map[string]any{"expires_on": "2031-05-01"}).must(200)
		r := rc(map[string]any{"lines": []any{line("line", 1, "qty", 1, "location_id", f.a, "lot", "L9", "expires_on", "2031-06-01")}}).must(409)
		if !strings.Contains(r.json()["detail"].(string), "already expires on 2031-05-01") {
			t.Fatalf("expiry clash: %s", r.body)
		}
		rc(map[string]any{"lines": []any{line("line", 1, "qty", 1, "location_id", f.a, "lot", "L9", "expires_on", "2031-05-01")}}).must(201)
		rc(map[string]any{"lines": []any{line("line", 1, "qty", 1, "location_id", f.a, "lot", "L8")}}).must(201) // no expiry: none recorded
	})
}

// TestLotsAndExpiringReport: lots' expiry set by PUT and by receipts, and
// the report of stock expiring within N days (expired included, flagged)
// with on_hand, reserved and available, filtered by location and paged.
func TestLotsAndExpiringReport(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		f := e.fixture()
		m, v := e.tokens["manager"], e.tokens["viewer"]
		today := time.Now().UTC()
		day := func(n int) string { return today.AddDate(0, 0, n).Format(time.DateOnly) }
		lotPath := func(lot string) string { return fmt.Sprintf("/api/v1/items/%d/lots/%s", f.lotIt, lot) }

		e.do("PUT", lotPath("OLD"), e.tokens["clerk"], map[string]any{"expires_on": day(-1)}).must(403)
		e.do("PUT", fmt.Sprintf("/api/v1/items/%d/lots/X", f.wid), m, map[string]any{"expires_on": day(1)}).must(422)
		e.do("PUT", lotPath("OLD"), m, map[string]any{"expires_on": "yesterday"}).must(422)
		e.do("PUT", "/api/v1/items/9999/lots/X", m, map[string]any{"expires_on": day(1)}).must(404)
		r := e.do("PUT", lotPath("OLD"), m, map[string]any{"expires_on": day(-1)}).must(200)
		if r.json()["expires_on"] != day(-1) || r.json()["sku"] != "MILK" {
			t.Fatalf("set lot: %s", r.body)
		}
		e.do("PUT", lotPath("SOON"), m, map[string]any{"expires_on": day(10)}).must(200)
		e.do("PUT", lotPath("LATE"), m, map[string]any{"expires_on": day(90)}).must(200)
		e.do("PUT", lotPath("NEVER"), m, map[string]any{"expires_on": nil}).must(200)
		for _, l := range []struct {
			lot string
			loc int64
			qty int
		}{{"OLD", f.a, 3}, {"SOON", f.b, 2}, {"LATE", f.a, 1}, {"NEVER", f.a, 4}, {"SOON", f.a, 6}} {
			e.move(map[string]any{"type": "receipt", "lines": []any{line("item_id", f.lotIt, "lot", l.lot, "to_location_id", l.loc, "qty", l.qty)}}).must(201)
		}
		lots := e.do("GET", fmt.Sprintf("/api/v1/items/%d/lots", f.lotIt), v, nil).must(200).json()["lots"].([]any)
		if len(lots) != 4 {
			t.Fatalf("lots: %v", lots)
		}

		r = e.do("GET", "/api/v1/reports/expiring?within_days=30", v, nil).must(200)
		rows := r.items()
		if len(rows) != 3 {
			t.Fatalf("expiring within 30 days: %s", r.body)
		}
		first := rows[0].(map[string]any)
		if first["lot"] != "OLD" || first["expired"] != true || first["days_left"].(float64) != -1 || first["on_hand"].(float64) != 3 || first["available"].(float64) != 3 || first["reserved"].(float64) != 0 {
			t.Fatalf("first row: %v", first)
		}
		if s := rows[1].(map[string]any); s["lot"] != "SOON" || s["location_code"] != "A" || s["expired"] != false || s["days_left"].(float64) != 10 {
			t.Fatalf("second row: %v", s)
		}
		r = e.do("GET", fmt.Sprintf("/api/v1/reports/expiring?within_days=30&location_id=%d", f.b), v, nil).must(200)
		if rows := r.items(); len(rows) != 1 || rows[0].(map[string]any)["lot"] != "SOON" {
			t.Fatalf("under B: %s", r.body)
		}
		if n := len(e.do("GET", "/api/v1/reports/expiring?within_days=0", v, nil).must(200).items()); n != 1 {
			t.Fatalf("within 0 days: %d rows", n)
		}
		if n := len(e.do("GET", "/api/v1/reports/expiring?within_days=100", v, nil).must(200).items()); n != 4 {
			t.Fatalf("within 100 days: %d rows", n)
		}
		// Pages of one, in order.
		var seen []string
		next := ""
		for range 5 {
			q := "/api/v1/reports/expiring?within_days=100&limit=1"
			if next != "" {
				q += "&cursor=" + next
			}
			js := e.do("GET", q, v, nil).must(200).json()
			for _, row := range js["items"].([]any) {
				seen = append(seen, row.(map[string]any)["lot"].(string))
			}
			nc, _ := js["next_cursor"].(string)
			if nc == "" {
				break
			}
			next = nc
		}
		if strings.Join(seen, ",") != "OLD,SOON,SOON,LATE" {
			t.Fatalf("paged: %v", seen)
		}
		e.do("GET", "/api/v1/reports/expiring?within_days=-1", v, nil).must(400)
		e.do("GET", "/api/v1/reports/expiring?cursor=bogus", v, nil).must(400)
		e.do("GET", "/api/v1/reports/expiring?location_id=9999", v, nil).must(404)
	})
}

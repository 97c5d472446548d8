package httpapi_test

import (
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestOrdersHTTP walks an order through the real router on both engines:
// create, confirm, allocate, a refused issue of reserved stock, the pick
// list, a pick by scanning (twice with one key), ship; and the refusals
// (roles, states, bad input) with their problem details.
func TestOrdersHTTP(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		f := e.fixture()
		m, c, v := e.tokens["manager"], e.tokens["clerk"], e.tokens["viewer"]
		e.move(map[string]any{"type": "receipt", "lines": []map[string]any{{"item_id": f.wid, "to_location_id": f.a, "qty": 6}}}).must(201)
		e.move(map[string]any{"type": "receipt", "lines": []map[string]any{{"item_id": f.wid, "to_location_id": f.b, "qty": 6}}}).must(201)

		order := map[string]any{"number": "SO-1001", "customer": "ACME", "lines": []map[string]any{{"sku": "WID", "qty": 8}}}
		e.do("POST", "/api/v1/orders", c, order).must(403)
		r := e.do("POST", "/api/v1/orders", m, order).must(201)
		if r.header.Get("Location") != "/api/v1/orders/SO-1001" || r.header.Get("ETag") == "" || r.json()["state"] != "draft" {
			t.Fatalf("create: %v %s", r.header, r.body)
		}
		e.do("POST", "/api/v1/orders", m, order).must(409)
		e.do("POST", "/api/v1/orders", m, map[string]any{"number": "SO-X", "lines": []map[string]any{{"sku": "NOPE", "qty": 1}}}).must(422)
		e.do("POST", "/api/v1/orders", m, map[string]any{"number": "SO-X", "lines": []map[string]any{{"sku": "WID", "qty": 1.5}}}).must(422)
		e.do("POST", "/api/v1/orders", m, map[string]any{"number": "bad number", "lines": []map[string]any{{"sku": "WID", "qty": 1}}}).must(422)
		e.do("POST", "/api/v1/orders/SO-1001/allocate", m, nil).must(409)

		e.do("PATCH", "/api/v1/orders/SO-1001", m, map[string]any{"lines": []map[string]any{{"sku": "WID", "qty": 9}}}).must(428)
		e.do("PATCH", "/api/v1/orders/SO-1001", m, map[string]any{"lines": []map[string]any{{"sku": "WID", "qty": 9}}}, "If-Match", `"v99"`).must(412)
		e.do("PATCH", "/api/v1/orders/SO-1001", m, map[string]any{"lines": []map[string]any{{"sku": "WID", "qty": 9}}}, "If-Match", r.header.Get("ETag")).must(200)

		e.do("POST", "/api/v1/orders/SO-1001/confirm", m, nil).must(200)
		r = e.do("POST", "/api/v1/orders/SO-1001/allocate", m, nil).must(200)
		if r.json()["state"] != "allocated" {
			t.Fatalf("allocate: %s", r.body)
		}
		e.do("GET", "/api/v1/orders/NOPE", v, nil).must(404)
		e.do("GET", "/api/v1/orders?state=allocated", v, nil).must(200)
		if n := len(e.do("GET", "/api/v1/reservations?order=SO-1001", v, nil).must(200).items()); n != 2 {
			t.Fatalf("%d reservations", n)
		}

		// Reserved stock: an issue that would take it is refused, naming the order.
		r = e.move(map[string]any{"type": "issue", "lines": []map[string]any{{"item_id": f.wid, "from_location_id": f.a, "qty": 1}}}).must(409)
		sh := r.json()["shortages"].([]any)[0].(map[string]any)
		if by := sh["reserved_by"].([]any); len(by) != 1 || by[0] != "SO-1001" {
			t.Fatalf("shortage %s", r.body)
		}

		pl := e.do("GET", "/api/v1/orders/SO-1001/pick-list?pickers=ann,bob&picker=ann", c, nil).must(200).json()
		lines := pl["lines"].([]any)
		if len(lines) != 2 || lines[0].(map[string]any)["location_code"] != "A" {
			t.Fatalf("pick list %v", pl)
		}

		e.do("POST", "/api/v1/orders/SO-1001/picks", c, map[string]any{"location": "A", "item": "WID"}).must(400)
		e.do("POST", "/api/v1/orders/SO-1001/picks", v, map[string]any{"location": "A", "item": "WID"}, "Idempotency-Key", newKey()).must(403)
		e.do("POST", "/api/v1/orders/SO-1001/picks", c, map[string]any{"location": "B", "item": "NOPE"}, "Idempotency-Key", newKey()).must(404)
		key := newKey()
		first := e.do("POST", "/api/v1/orders/SO-1001/picks", c, map[string]any{"location": "A", "item": "WID"}, "Idempotency-Key", key).must(201)
		again := e.do("POST", "/api/v1/orders/SO-1001/picks", c, map[string]any{"location": "A", "item": "WID"}, "Idempotency-Key", key).must(201)
		if again.header.Get("Idempotent-Replayed") != "true" || string(again.body) != string(first.body) {
			t.Fatalf("replay: %v %s vs %s", again.header, again.body, first.body)
		}
		e.do("POST", "/api/v1/orders/SO-1001/ship", c, nil).must(409) // B still reserved
		e.do("POST", "/api/v1/orders/SO-1001/picks", c, map[string]any{"location": "B", "item": "WID", "qty": 2, "short": true}, "Idempotency-Key", newKey()).must(201)
		o := e.do("GET", "/api/v1/orders/SO-1001", v, nil).must(200).json()
		if o["state"] != "partially_allocated" {
			t.Fatalf("after short pick %v", o)
		}
		r = e.do("POST", "/api/v1/orders/SO-1001/ship", c, nil).must(200)
		if r.json()["state"] != "shipped" {
			t.Fatalf("ship %s", r.body)
		}
		e.do("POST", "/api/v1/orders/SO-1001/cancel", m, nil).must(409)

		// Cancel releases: a second order allocated, then cancelled.
		e.do("POST", "/api/v1/orders", m, map[string]any{"number": "SO-1002", "lines": []map[string]any{{"item_id": f.wid, "qty": 1}}}).must(201)
		e.do("POST", "/api/v1/orders/SO-1002/confirm", m, nil).must(200)
		e.do("POST", "/api/v1/orders/SO-1002/allocate", m, map[string]any{}).must(200)
		e.do("POST", "/api/v1/orders/SO-1002/cancel", m, nil).must(200)
		if n := len(e.do("GET", "/api/v1/reservations?order=SO-1002&state=open", v, nil).must(200).items()); n != 0 {
			t.Fatalf("%d open reservations after cancel", n)
		}
	})
}

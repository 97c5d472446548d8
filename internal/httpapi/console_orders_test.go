package httpapi_test

// The console's order pages and pick list through the real router, on
// both engines: the list and its state filter, the buttons each role is
// offered, confirm/allocate/ship/cancel through the orders service, the
// service's refusal as the page's message, and the scanning pick list: a
// wrong location or item says what was expected and posts nothing, the
// right scans post the issue once however often the form is sent, and a
// short pick leaves the order partially allocated.

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

// seedOrders receives 10 WID-RED at A-01 and 4 WID-BLU at B-01 (after
// seedFloor) and creates the draft orders named, each of qty WID-RED.
func seedOrders(ctx context.Context, t *testing.T, db *store.DB, orders map[string]int64) {
	t.Helper()
	for _, r := range []struct {
		sku, loc string
		qty      int64
	}{{"WID-RED", "A-01", 10}, {"WID-BLU", "B-01", 4}} {
		l, err := db.LocationByCode(ctx, r.loc)
		if err != nil {
			t.Fatal(err)
		}
		q := warehouse.Qty(r.qty * warehouse.QtyScale)
		nm := warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{SKU: r.sku, ToLocationID: &l.ID, Qty: &q}}}
		if _, err := db.PostMovement(ctx, nm, "test", nil); err != nil {
			t.Fatal(err)
		}
	}
	for number, qty := range orders {
		no := warehouse.NewOrder{Number: number, Customer: "ACME " + number, Lines: []warehouse.NewOrderLine{{SKU: "WID-RED", Qty: warehouse.Qty(qty * warehouse.QtyScale)}}}
		if _, err := db.CreateOrder(ctx, no, "test"); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	stepRe   = regexp.MustCompile(`name="step" value="([^"]*)"`)
	resRe    = regexp.MustCompile(`name="reservation" value="([^"]*)"`)
	pickedRe = regexp.MustCompile(`picked=([0-9]+)`)
)

// in is b for subtest t: the same cookies, t's failures.
func (b *browserish) in(t *testing.T) *browserish {
	c := *b
	c.t = t
	return &c
}

// act presses an order page's button for action.
func (b *browserish) act(number, action string) *http.Response {
	b.t.Helper()
	page := b.do("GET", "/orders/"+number, nil)
	if page.Code != http.StatusOK {
		b.t.Fatalf("GET /orders/%s: %d %s", number, page.Code, page.Body)
	}
	w := b.do("POST", "/orders/"+number+"/"+action, url.Values{"csrf_token": {hidden(b.t, csrfRe, page.Body.String())}})
	return w.Result()
}

func TestConsoleOrders(t *testing.T) {
	t.Parallel()
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newDomainTestServer(t, engine)
			ctx := context.Background()
			seedFloor(ctx, t, e.db)
			seedOrders(ctx, t, e.db, map[string]int64{"SO-1": 3, "SO-2": 5, "SO-3": 1})

			m := newBrowserish(t, e.srv)
			m.signIn("manager", "manager-password")
			clerk := newBrowserish(t, e.srv)
			clerk.signIn("clerk", "clerk-password")
			viewer := newBrowserish(t, e.srv)
			viewer.signIn("viewer", "viewer-password")

			t.Run("list", func(t *testing.T) {
				viewer := viewer.in(t)
				for _, tc := range []struct {
					path   string
					status int
					want   []string
					not    []string
				}{
					{"/orders", 200, []string{`<a href="/orders">Orders</a>`, `href="/orders/SO-1"`, `href="/orders/SO-3"`, "ACME SO-2", `<option value="partially_allocated">partially allocated</option>`}, nil},
					{"/orders?state=draft", 200, []string{`href="/orders/SO-2"`}, nil},
					{"/orders?state=shipped", 200, []string{"No order is shipped."}, []string{`href="/orders/SO-1"`}},
					{"/orders?state=bogus", 422, []string{`There is no order state &#34;bogus&#34;`}, nil},
				} {
					w := viewer.do("GET", tc.path, nil)
					body := w.Body.String()
					if w.Code != tc.status {
						t.Errorf("GET %s: %d, want %d", tc.path, w.Code, tc.status)
					}
					for _, s := range tc.want {
						if !strings.Contains(body, s) {
							t.Errorf("GET %s lacks %q", tc.path, s)
						}
					}
					for _, s := range tc.not {
						if strings.Contains(body, s) {
							t.Errorf("GET %s has %q", tc.path, s)
						}
					}
				}
				if w := viewer.do("GET", "/orders/NOPE", nil); w.Code != http.StatusNotFound {
					t.Errorf("GET /orders/NOPE: %d", w.Code)
				}
			})

			t.Run("buttons and roles", func(t *testing.T) {
				m, viewer := m.in(t), viewer.in(t)
				page := m.do("GET", "/orders/SO-3", nil).Body.String()
				for _, s := range []string{`action="/orders/SO-3/confirm"`, `action="/orders/SO-3/cancel"`} {
					if !strings.Contains(page, s) {
						t.Errorf("a manager's draft order page lacks %s", s)
					}
				}
				for _, s := range []string{`/orders/SO-3/allocate"`, `/orders/SO-3/ship"`, `/orders/SO-3/pick"`} {
					if strings.Contains(page, s) {
						t.Errorf("a draft order offers %s", s)
					}
				}
				if page := viewer.do("GET", "/orders/SO-3", nil).Body.String(); strings.Contains(page, `method="post" action="/orders/`) {
					t.Errorf("a viewer is offered order actions")
				}
				// Refused by the service: the role, then the state.
				r := viewer.act("SO-3", "confirm")
				if body := readAll(t, r); r.StatusCode != http.StatusForbidden || !strings.Contains(body, "Could not confirm order SO-3: This action requires role manager") {
					t.Errorf("a viewer confirms: %d %s", r.StatusCode, body)
				}
				r = m.act("SO-3", "ship")
				if body := readAll(t, r); r.StatusCode != http.StatusConflict || !strings.Contains(body, "Could not ship order SO-3: order SO-3 is draft: cannot ship it") {
					t.Errorf("ship a draft: %d %s", r.StatusCode, body)
				}
				if r := m.act("SO-3", "bogus"); r.StatusCode != http.StatusNotFound {
					t.Errorf("an unknown action: %d", r.StatusCode)
				}
				// Without the form's CSRF value.
				if w := m.do("POST", "/orders/SO-3/confirm", url.Values{}); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "This form was refused") {
					t.Errorf("no CSRF value: %d", w.Code)
				}
				if r := m.act("SO-3", "cancel"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/orders/SO-3?done=cancel" {
					t.Fatalf("cancel: %d %v", r.StatusCode, r.Header)
				}
				if page := m.do("GET", "/orders/SO-3?done=cancel", nil).Body.String(); !strings.Contains(page, "Cancelled: every reservation of the order was released.") || !strings.Contains(page, `id="order-state">cancelled`) {
					t.Errorf("after cancel: %s", page)
				}
			})

			t.Run("allocate, pick by scanning, ship", func(t *testing.T) {
				m, clerk := m.in(t), clerk.in(t)
				for _, a := range []string{"confirm", "allocate"} {
					if r := m.act("SO-1", a); r.StatusCode != http.StatusSeeOther {
						t.Fatalf("%s: %d %s", a, r.StatusCode, readAll(t, r))
					}
				}
				page := m.do("GET", "/orders/SO-1?done=allocate", nil).Body.String()
				if !strings.Contains(page, "Allocated: the order is allocated.") || !strings.Contains(page, `<a href="/stock?location=`) || !strings.Contains(page, ">A-01</a>") {
					t.Fatalf("after allocate: %s", page)
				}
				cpage := clerk.do("GET", "/orders/SO-1", nil).Body.String()
				if !strings.Contains(cpage, `href="/orders/SO-1/pick"`) || strings.Contains(cpage, `/orders/SO-1/cancel"`) || strings.Contains(cpage, `/orders/SO-1/ship"`) {
					t.Errorf("a clerk's allocated order page: %s", cpage)
				}

				pick := clerk.do("GET", "/orders/SO-1/pick", nil).Body.String()
				if !strings.Contains(pick, `id="stop-location">A-01<`) || !strings.Contains(pick, "3 × WID-RED") || hidden(t, stepRe, pick) != "location" {
					t.Fatalf("the pick list: %s", pick)
				}
				form := url.Values{"csrf_token": {hidden(t, csrfRe, pick)}, "idempotency_key": {hidden(t, keyRe, pick)}, "reservation": {hidden(t, resRe, pick)}}
				with := func(kv ...string) url.Values {
					v := url.Values{}
					for k, vs := range form {
						v[k] = vs
					}
					for i := 0; i < len(kv); i += 2 {
						v.Set(kv[i], kv[i+1])
					}
					return v
				}
				for _, tc := range []struct {
					name   string
					form   url.Values
					status int
					want   string
				}{
					{"wrong location", with("step", "location", "location", "B-01"), 422, "Wrong location: you scanned B-01, this stop is A-01"},
					{"unknown location", with("step", "location", "location", "ZZ-9"), 422, "Wrong location: you scanned ZZ-9, this stop is A-01"},
					{"right location", with("step", "location", "location", "A-01"), 200, `name="item"`},
					{"wrong item", with("step", "item", "location", "A-01", "item", "WID-BLU"), 422, "Wrong item: you scanned WID-BLU, this stop is WID-RED (barcode 4006381333931)."},
					{"item at the wrong location", with("step", "item", "location", "B-01", "item", "WID-RED"), 422, "Wrong location"},
					{"short, bad quantity", with("step", "short", "qty", "x"), 422, "Found:"},
				} {
					w := clerk.do("POST", "/orders/SO-1/pick", tc.form)
					if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
						t.Errorf("%s: %d, want %d with %q:\n%s", tc.name, w.Code, tc.status, tc.want, w.Body)
					}
				}
				if st := stockOf(t, e, "WID-RED", "A-01"); st != "10" {
					t.Fatalf("a mismatched scan moved stock: on hand %s", st)
				}
				// The item's barcode confirms; the same form again (a
				// double submit) replays the same pick.
				confirm := with("step", "item", "location", "A-01", "item", "4006381333931")
				w := clerk.do("POST", "/orders/SO-1/pick", confirm)
				if w.Code != http.StatusSeeOther {
					t.Fatalf("the pick: %d %s", w.Code, w.Body)
				}
				first := pickedRe.FindStringSubmatch(w.Header().Get("Location"))
				w = clerk.do("POST", "/orders/SO-1/pick", confirm)
				again := pickedRe.FindStringSubmatch(w.Header().Get("Location"))
				if w.Code != http.StatusSeeOther || first == nil || again == nil || again[1] != first[1] || !strings.Contains(w.Header().Get("Location"), "again=1") {
					t.Fatalf("the pick again: %d %v, first %v", w.Code, w.Header(), first)
				}
				done := clerk.do("GET", w.Header().Get("Location"), nil).Body.String()
				if !strings.Contains(done, "Picked 3 WID-RED at A-01. (That was a second submit") || !strings.Contains(done, `id="pick-done"`) {
					t.Errorf("after the pick: %s", done)
				}
				if st := stockOf(t, e, "WID-RED", "A-01"); st != "7" {
					t.Errorf("on hand at A-01 after the pick and its double submit: %s, want 7", st)
				}
				issues, _, err := e.db.ListMovements(ctx, warehouse.MovementFilter{Type: warehouse.MoveIssue, Reference: "SO-1"}, warehouse.Page{Limit: 10})
				if err != nil || len(issues) != 1 {
					t.Errorf("issues of SO-1: %d (%v), want 1", len(issues), err)
				}
				if r := clerk.act("SO-1", "ship"); r.StatusCode != http.StatusSeeOther {
					t.Fatalf("ship: %d %s", r.StatusCode, readAll(t, r))
				}
				if page := clerk.do("GET", "/orders/SO-1?done=ship", nil).Body.String(); !strings.Contains(page, "Shipped.") || !strings.Contains(page, `id="order-state">shipped`) {
					t.Errorf("after ship: %s", page)
				}
			})

			t.Run("short pick", func(t *testing.T) {
				m, clerk := m.in(t), clerk.in(t)
				for _, a := range []string{"confirm", "allocate"} {
					if r := m.act("SO-2", a); r.StatusCode != http.StatusSeeOther {
						t.Fatalf("%s: %d %s", a, r.StatusCode, readAll(t, r))
					}
				}
				pick := clerk.do("GET", "/orders/SO-2/pick", nil).Body.String()
				short := url.Values{"csrf_token": {hidden(t, csrfRe, pick)}, "reservation": {hidden(t, resRe, pick)}, "step": {"short"}, "qty": {"2"},
					"idempotency_key": {regexp.MustCompile(`value="(console-short-[^"]*)"`).FindStringSubmatch(pick)[1]}}
				w := clerk.do("POST", "/orders/SO-2/pick", short)
				if w.Code != http.StatusSeeOther {
					t.Fatalf("short: %d %s", w.Code, w.Body)
				}
				done := clerk.do("GET", w.Header().Get("Location"), nil).Body.String()
				if !strings.Contains(done, "Short pick recorded: found 2 WID-RED at A-01, 3 missing and released.") || !strings.Contains(done, "(partially allocated)") {
					t.Errorf("after the short pick: %s", done)
				}
			})

			t.Run("pickers", func(t *testing.T) {
				m, clerk := m.in(t), clerk.in(t)
				no := warehouse.NewOrder{Number: "SO-4", Lines: []warehouse.NewOrderLine{{SKU: "WID-RED", Qty: warehouse.QtyScale}, {SKU: "WID-BLU", Qty: warehouse.QtyScale}}}
				if _, err := e.db.CreateOrder(ctx, no, "test"); err != nil {
					t.Fatal(err)
				}
				for _, a := range []string{"confirm", "allocate"} {
					if r := m.act("SO-4", a); r.StatusCode != http.StatusSeeOther {
						t.Fatalf("%s: %d %s", a, r.StatusCode, readAll(t, r))
					}
				}
				// Zones are dealt in walking order: A-01 to ann, B-01 to bob.
				for _, tc := range []struct{ query, stop, next string }{
					{"", "A-01", "B-01"},
					{"?pickers=ann,bob&picker=ann", "A-01", ""},
					{"?pickers=ann,bob&picker=bob", "B-01", ""},
				} {
					page := clerk.do("GET", "/orders/SO-4/pick"+tc.query, nil).Body.String()
					if !strings.Contains(page, `id="stop-location">`+tc.stop+`<`) {
						t.Errorf("pick list %s: the stop is not %s:\n%s", tc.query, tc.stop, page)
					}
					if has := strings.Contains(page, "Other stops"); has != (tc.next != "") {
						t.Errorf("pick list %s: other stops listed %v, want %v", tc.query, has, tc.next != "")
					}
				}
			})

			t.Run("pages", func(t *testing.T) {
				viewer := viewer.in(t)
				for i := range 50 {
					no := warehouse.NewOrder{Number: fmt.Sprintf("P-%02d", i), Lines: []warehouse.NewOrderLine{{SKU: "WID-BLU", Qty: warehouse.QtyScale}}}
					if _, err := e.db.CreateOrder(ctx, no, "test"); err != nil {
						t.Fatal(err)
					}
				}
				first := viewer.do("GET", "/orders", nil).Body.String()
				next := regexp.MustCompile(`href="(/orders\?state=&amp;after=[^"]+)" rel="next"`).FindStringSubmatch(first)
				if next == nil || !strings.Contains(first, `href="/orders/P-49"`) || strings.Contains(first, `href="/orders/SO-1"`) {
					t.Fatalf("the first page: %s", first)
				}
				second := viewer.do("GET", html.UnescapeString(next[1]), nil).Body.String()
				if !strings.Contains(second, `href="/orders/SO-1"`) || strings.Contains(second, `href="/orders/P-49"`) || strings.Contains(second, `rel="next"`) || !strings.Contains(second, "First page") {
					t.Errorf("the second page: %s", second)
				}
			})
		})
	}
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stockOf is the on-hand quantity of sku at location code, as the store
// reads it.
func stockOf(t *testing.T, e *domainEnv, sku, code string) string {
	t.Helper()
	bs, _, err := e.db.ListStock(context.Background(), warehouse.StockFilter{}, warehouse.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.SKU == sku && b.LocationCode == code {
			return b.OnHand.String()
		}
	}
	return "0"
}

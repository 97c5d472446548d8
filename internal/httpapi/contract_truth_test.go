package httpapi_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// What the document promises but the validator cannot see, because it is
// never sent: these tests ask for it.

// TestContractCSVWhereDeclared asks every GET operation of the document
// for CSV, both ways (Accept: text/csv and ?format=csv). An operation
// whose 200 declares text/csv must answer it, as an attachment; any other
// must answer something its document declares (checked by serve). The
// movement export has one row per movement, as its description says.
func TestContractCSVWhereDeclared(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		d := newDomainTestServer(t, engine)
		f := d.fixture()
		m, admin := d.tokens["manager"], d.tokens["admin"]
		d.move(map[string]any{"type": "receipt", "lines": []any{
			map[string]any{"item_id": f.wid, "to_location_id": f.a, "qty": 10},
			map[string]any{"item_id": f.flour, "to_location_id": f.a, "qty": 2.5},
		}}).must(201)
		mv := d.move(map[string]any{"type": "transfer", "lines": []any{
			map[string]any{"item_id": f.wid, "from_location_id": f.a, "to_location_id": f.b, "qty": 3},
			map[string]any{"item_id": f.flour, "from_location_id": f.a, "to_location_id": f.b, "qty": 1},
		}}).must(201).id()
		ids := map[string]string{"items": strconv.FormatInt(f.wid, 10), "locations": strconv.FormatInt(f.a, 10),
			"movements": strconv.FormatInt(mv, 10), "users": "viewer", "orders": "SO-1", "purchase-orders": "PO-CSV", "webhooks": "999999"}

		c := loadContract(t, d.srv)
		csvOps := 0
		for path, item := range c.doc.Paths.PathItems.FromOldest() {
			op := item.Get
			if op == nil || !strings.HasPrefix(path, "/api/v1/") {
				continue
			}
			target := fillPath(path, ids)
			declared := false
			if ok := op.Responses.Codes.GetOrZero("200"); ok != nil && ok.Content != nil {
				_, declared = ok.Content.Get("text/csv")
			}
			if declared {
				csvOps++
			}
			for _, ask := range []struct{ name, path, accept string }{
				{"Accept", target, "text/csv"},
				{"format", target + "?format=csv", ""},
			} {
				t.Run(strings.TrimPrefix(path, "/api/v1/")+"/"+ask.name, func(t *testing.T) {
					var hdr []string
					if ask.accept != "" {
						hdr = []string{"Accept", ask.accept}
					}
					r := d.do("GET", ask.path, admin, nil, hdr...) // serve checks the answer is documented
					if !declared {
						if r.status >= 500 {
							t.Fatalf("%d %s", r.status, r.body)
						}
						return
					}
					if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
						t.Fatalf("text/csv is declared, but: %d %s %.200s", r.status, r.header.Get("Content-Type"), r.body)
					}
					if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=") || !strings.HasSuffix(cd, `.csv"`) {
						t.Fatalf("Content-Disposition %q", cd)
					}
					if _, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll(); err != nil {
						t.Fatalf("not CSV: %v %q", err, r.body)
					}
				})
			}
		}
		if csvOps < 6 {
			t.Fatalf("only %d operations declare text/csv; expected items, locations, stock, location stock, movements, ledger", csvOps)
		}

		// One row per movement, not per line.
		r := d.do("GET", "/api/v1/movements?format=csv", m, nil).must(200)
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1+2 {
			t.Fatalf("movements CSV: %d rows for 2 movements of 2 lines each (want a header and one row per movement): %q", len(rows), rows)
		}
		desc := ""
		if item := c.doc.Paths.PathItems.GetOrZero("/api/v1/movements"); item != nil && item.Get != nil {
			desc = item.Get.Description
		}
		if !strings.Contains(desc, "one row per movement") {
			t.Fatalf("list-movements description does not say what its CSV has: %q", desc)
		}
	})
}

// fillPath replaces each {param} of an /api/v1 path template by the id in
// ids of the collection it follows (/items/{id} -> ids["items"]).
func fillPath(path string, ids map[string]string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && i > 0 {
			segs[i] = ids[segs[i-1]]
		}
	}
	return strings.Join(segs, "/")
}

// TestQtyFieldErrorsNameTheField: a quantity the server cannot hold (more
// than 3 decimals, or beyond 10^12) in any quantity field of any body is a
// 422 whose errors[].field names that field, as other field errors do
// (lines[1].qty), and whose detail says which. The table must cover every
// number-typed property of every request body in the document.
func TestQtyFieldErrorsNameTheField(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		d := newDomainTestServer(t, engine)
		f := d.fixture()
		c, m := d.tokens["clerk"], d.tokens["manager"]
		lines := func(typ, line string) string {
			return fmt.Sprintf(`{"type":%q,"lines":[{"item_id":%d,"to_location_id":%d,"qty":1},%s]}`, typ, f.flour, f.a, line)
		}
		type tc struct {
			name, method, path, token, body, field string
			hdr                                    []string
		}
		var cases []tc
		for _, bad := range []struct{ name, v string }{
			{"4 decimals", "1.0005"},
			{"beyond 10^12", "1000000000000.001"},
			{"exponent beyond 10^12", "1e13"},
			{"negative beyond 10^12", "-1000000000001"},
		} {
			cases = append(cases,
				tc{bad.name + ": receipt qty", "POST", "/api/v1/movements", c,
					lines("receipt", fmt.Sprintf(`{"item_id":%d,"to_location_id":%d,"qty":%s}`, f.wid, f.a, bad.v)), "lines[1].qty", nil},
				tc{bad.name + ": adjustment qty_delta", "POST", "/api/v1/movements", m,
					fmt.Sprintf(`{"type":"adjustment","reason":"found","lines":[{"item_id":%d,"location_id":%d,"qty_delta":%s}]}`, f.wid, f.a, bad.v), "lines[0].qty_delta", nil},
				tc{bad.name + ": count counted_qty", "POST", "/api/v1/movements", c,
					fmt.Sprintf(`{"type":"count","lines":[{"item_id":%d,"location_id":%d,"counted_qty":%s}]}`, f.wid, f.a, bad.v), "lines[0].counted_qty", nil},
				tc{bad.name + ": count expected_qty", "POST", "/api/v1/movements", c,
					fmt.Sprintf(`{"type":"count","lines":[{"item_id":%d,"location_id":%d,"counted_qty":1,"expected_qty":%s}]}`, f.wid, f.a, bad.v), "lines[0].expected_qty", nil},
				tc{bad.name + ": order line qty", "POST", "/api/v1/orders", m,
					fmt.Sprintf(`{"number":"SO-1","lines":[{"item_id":%d,"qty":%s}]}`, f.wid, bad.v), "lines[0].qty", nil},
				tc{bad.name + ": order patch line qty", "PATCH", "/api/v1/orders/SO-1", m,
					fmt.Sprintf(`{"lines":[{"item_id":%d,"qty":%s}]}`, f.wid, bad.v), "lines[0].qty", []string{"If-Match", `"v1"`}},
				tc{bad.name + ": pick qty", "POST", "/api/v1/orders/SO-1/picks", c,
					fmt.Sprintf(`{"reservation_id":1,"qty":%s}`, bad.v), "qty", nil},
				tc{bad.name + ": item reorder_point", "POST", "/api/v1/items", m,
					fmt.Sprintf(`{"sku":"NEW","name":"New","uom":"ea","reorder_point":%s}`, bad.v), "reorder_point", nil},
				tc{bad.name + ": item patch reorder_point", "PATCH", fmt.Sprintf("/api/v1/items/%d", f.wid), m,
					fmt.Sprintf(`{"reorder_point":%s}`, bad.v), "reorder_point", []string{"If-Match", `"v1"`}},
				tc{bad.name + ": purchase order expected_qty", "POST", "/api/v1/purchase-orders", m,
					fmt.Sprintf(`{"number":"PO-Q","supplier":"S","lines":[{"sku":"WID","expected_qty":1},{"sku":"WID","expected_qty":%s}]}`, bad.v), "lines[1].expected_qty", nil},
				tc{bad.name + ": receipt line qty", "POST", "/api/v1/purchase-orders/PO-Q/receipts", c,
					fmt.Sprintf(`{"lines":[{"line":1,"location_id":%d,"qty":%s}]}`, f.a, bad.v), "lines[0].qty", nil},
			)
		}
		// A negative reorder point is refused by the schema, in a change as
		// in a create (the document's minimum).
		cases = append(cases, tc{"negative: item patch reorder_point", "PATCH", fmt.Sprintf("/api/v1/items/%d", f.wid), m,
			`{"reorder_point":-1}`, "reorder_point", []string{"If-Match", `"v1"`}})
		covered := map[string]bool{}
		for _, tc := range cases {
			covered[tc.method+" "+tc.path+" "+stripIndexes(tc.field)] = true
			t.Run(tc.name, func(t *testing.T) {
				hdr := append([]string{"Idempotency-Key", newKey()}, tc.hdr...)
				r := d.do(tc.method, tc.path, tc.token, tc.body, hdr...)
				if r.status != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, want 422: %s", r.status, r.body)
				}
				var p struct {
					Detail string
					Errors []struct{ Field, Message, In string }
				}
				if err := json.Unmarshal(r.body, &p); err != nil {
					t.Fatal(err)
				}
				// Every error names the field (a negative reorder_point is
				// also below its minimum: two errors, both on it).
				if len(p.Errors) == 0 {
					t.Fatalf("no errors, want one on field %q: %s", tc.field, r.body)
				}
				for _, fe := range p.Errors {
					if fe.Field != tc.field || fe.In != "body" || fe.Message == "" {
						t.Fatalf("errors %+v, want each on field %q in the body: %s", p.Errors, tc.field, r.body)
					}
				}
				if !strings.Contains(p.Detail, tc.field+": ") {
					t.Fatalf("detail %q does not name %s", p.Detail, tc.field)
				}
			})
		}

		// Every number in a request body is a quantity: each must be in the table.
		cl := loadContract(t, d.srv)
		ids := map[string]string{"items": strconv.FormatInt(f.wid, 10), "orders": "SO-1", "purchase-orders": "PO-Q"}
		for path, item := range cl.doc.Paths.PathItems.FromOldest() {
			for method, op := range item.GetOperations().FromOldest() {
				if op.RequestBody == nil || op.RequestBody.Content == nil {
					continue
				}
				mt, ok := op.RequestBody.Content.Get("application/json")
				if !ok || mt.Schema == nil {
					continue
				}
				for _, field := range numberFields(mt.Schema.Schema(), "") {
					key := strings.ToUpper(method) + " " + fillPath(path, ids) + " " + field
					if !covered[key] {
						t.Errorf("%s: a number field of a request body the table does not try", key)
					}
				}
			}
		}
	})
}

// numberFields lists the number-typed properties of s, as lines[].qty.
func numberFields(s *base.Schema, prefix string) []string {
	var out []string
	eachNumber(s, prefix, func(path string, _ *base.Schema) { out = append(out, path) })
	return out
}

// eachNumber calls fn for each number-typed schema in s, with its path.
func eachNumber(s *base.Schema, prefix string, fn func(string, *base.Schema)) {
	if s == nil {
		return
	}
	if slices.Contains(s.Type, "number") {
		fn(prefix, s)
	}
	if s.Items != nil && s.Items.IsA() {
		eachNumber(s.Items.A.Schema(), prefix+"[]", fn)
	}
	if s.Properties != nil {
		for name, p := range s.Properties.FromOldest() {
			eachNumber(p.Schema(), strings.TrimPrefix(prefix+"."+name, "."), fn)
		}
	}
}

// TestContractQuantitiesAreDecimals: every number in the document is a
// quantity, and is documented as one: no "double" (a float is not exact
// enough for what the server reads exactly), bounded by 10^12.
func TestContractQuantitiesAreDecimals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	c := loadContract(t, e.srv)
	n := 0
	for name, proxy := range c.doc.Components.Schemas.FromOldest() {
		eachNumber(proxy.Schema(), name, func(path string, s *base.Schema) {
			n++
			if s.Format != "" {
				t.Errorf("%s: format %q; quantities are exact decimals", path, s.Format)
			}
			if s.Maximum == nil || *s.Maximum != 1e12 || s.Minimum == nil || *s.Minimum < -1e12 {
				t.Errorf("%s: not bounded by 10^12 (minimum %v, maximum %v)", path, s.Minimum, s.Maximum)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d numbers in the document's schemas", n)
	}
}

// stripIndexes turns lines[1].qty into lines[].qty.
func stripIndexes(field string) string {
	var b strings.Builder
	skip := false
	for _, r := range field {
		switch {
		case r == '[':
			skip = true
			b.WriteString("[]")
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestContractBodylessWarehouseRoutesAnswer400: a body-less /api/v1
// operation (GET, DELETE) answers a bad path or query parameter with 400
// bad_parameter naming it, never Huma's 422, so the document declares no
// 422 there. Each constrained parameter of each such operation gets a value
// its schema refuses.
func TestContractBodylessWarehouseRoutesAnswer400(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		d := newDomainTestServer(t, engine)
		f := d.fixture()
		admin := d.tokens["admin"]
		ids := map[string]string{"items": strconv.FormatInt(f.wid, 10), "locations": strconv.FormatInt(f.a, 10), "movements": "1", "users": "viewer", "orders": "SO-1", "purchase-orders": "PO-Q", "webhooks": "999999"}
		c := loadContract(t, d.srv)
		tried := 0
		for path, item := range c.doc.Paths.PathItems.FromOldest() {
			if !strings.HasPrefix(path, "/api/v1/") {
				continue
			}
			for method, op := range item.GetOperations().FromOldest() {
				if op.RequestBody != nil {
					continue
				}
				method = strings.ToUpper(method)
				if _, ok := op.Responses.Codes.Get("422"); ok {
					t.Errorf("%s %s declares 422, which a body-less warehouse route never sends", method, path)
				}
				for _, p := range op.Parameters {
					if p.In != "path" && p.In != "query" {
						continue
					}
					bad, ok := refusedValue(p.Schema.Schema())
					if !ok {
						continue
					}
					target := fillPath(path, ids)
					if p.In == "path" {
						target = strings.Replace(path, "{"+p.Name+"}", bad, 1)
						target = fillPath(target, ids)
					} else {
						target += "?" + p.Name + "=" + bad
						if p.Name != "barcode" && strings.HasSuffix(path, "/lookup") {
							target += "&barcode=x"
						}
					}
					tried++
					t.Run(method+" "+strings.TrimPrefix(path, "/api/v1/")+" "+p.Name, func(t *testing.T) {
						r := d.do(method, target, admin, nil, "If-Match", `"v1"`)
						if r.status != http.StatusBadRequest {
							t.Fatalf("%s %s: %d, want 400: %s", method, target, r.status, r.body)
						}
						if js := r.json(); js["code"] != "bad_parameter" || !strings.Contains(js["detail"].(string), p.Name) {
							t.Fatalf("%s %s: want bad_parameter naming %s: %s", method, target, p.Name, r.body)
						}
					})
				}
			}
		}
		if tried < 20 {
			t.Fatalf("only %d parameters tried", tried)
		}
	})
}

// refusedValue is a value (URL-encoded) that schema s refuses, if the
// schema constrains it.
func refusedValue(s *base.Schema) (string, bool) {
	switch {
	case s == nil:
		return "", false
	case len(s.Enum) > 0:
		return "zzz", true
	case slices.Contains(s.Type, "integer"):
		return "abc", true
	case slices.Contains(s.Type, "boolean"):
		return "maybe", true
	case s.Format == "date-time":
		return "yesterday", true
	case s.MaxLength != nil:
		return strings.Repeat("x", int(*s.MaxLength)+1), true
	}
	return "", false
}

// TestContractLoginDescribesConfiguredLifetimes: the login's description
// states the token lifetimes this server issues, not the defaults.
func TestContractLoginDescribesConfiguredLifetimes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		access, refresh time.Duration
		want            []string
	}{
		{0, 0, []string{"access token (15 minutes)", "refresh token (30 days)"}},
		{5 * time.Minute, 36 * time.Hour, []string{"access token (5 minutes)", "refresh token (36 hours)"}},
		{time.Hour, 24 * time.Hour, []string{"access token (1 hour)", "refresh token (1 day)"}},
	} {
		e := newEnv(t, "sqlite", func(c *httpapi.Config) { c.AccessTTL, c.RefreshTTL = tc.access, tc.refresh })
		r := e.do("GET", "/openapi.json", "")
		var doc struct {
			Paths map[string]map[string]struct{ Description string }
		}
		if err := json.Unmarshal(r.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		desc := doc.Paths["/login"]["post"].Description
		for _, w := range tc.want {
			if !strings.Contains(desc, w) {
				t.Errorf("access %v, refresh %v: login description %q does not say %q", tc.access, tc.refresh, desc, w)
			}
		}
		if tc.access != 0 {
			r := e.do("POST", "/login", `{"username":"joevu","password":"glinteco"}`)
			if got := r.body["expires_in"]; got != tc.access.Seconds() {
				t.Errorf("expires_in %v, want %v", got, tc.access.Seconds())
			}
		}
	}
}

// TestContractOtherParametersAre422: outside /api/v1, Huma answers a path
// or query parameter its schema refuses with 422 naming it (a parameter
// that is not text is 400, as everywhere). The docs, served by the mux,
// declare no 400: nothing there sends one.
func TestContractOtherParametersAre422(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		d := newDomainTestServer(t, engine)
		tok := d.tokens["viewer"]
		c := loadContract(t, d.srv)
		tried := 0
		for path, item := range c.doc.Paths.PathItems.FromOldest() {
			if strings.HasPrefix(path, "/docs") {
				for method, op := range item.GetOperations().FromOldest() {
					if _, ok := op.Responses.Codes.Get("400"); ok {
						t.Errorf("%s %s declares 400, which it never sends", strings.ToUpper(method), path)
					}
				}
				continue
			}
			if strings.HasPrefix(path, "/api/v1/") {
				continue
			}
			for method, op := range item.GetOperations().FromOldest() {
				method = strings.ToUpper(method)
				for _, p := range op.Parameters {
					if p.In != "path" && p.In != "query" {
						continue
					}
					bad, ok := refusedValue(p.Schema.Schema())
					if !ok {
						continue
					}
					target := path + "?" + p.Name + "=" + bad
					if p.In == "path" {
						target = strings.Replace(path, "{"+p.Name+"}", bad, 1)
					}
					tried++
					t.Run(method+" "+path+" "+p.Name, func(t *testing.T) {
						// The body, where there is one, is valid: only the parameter is at fault.
						var body any
						if path == "/login" {
							body = map[string]string{"username": "viewer", "password": "viewer-password"}
						}
						r := d.do(method, target, tok, body)
						if r.status != http.StatusUnprocessableEntity {
							t.Fatalf("%s %s: %d, want 422: %s", method, target, r.status, r.body)
						}
						if !strings.Contains(r.json()["detail"].(string), p.Name) {
							t.Fatalf("detail does not name %s: %s", p.Name, r.body)
						}
					})
				}
			}
		}
		if tried < 3 {
			t.Fatalf("only %d parameters tried", tried)
		}
	})
}

// TestContractRequiredRequestHeaders: the headers a handler cannot do
// without are required in the document, and a request without one is
// refused with the handler's own code (which the validator then holds
// against the document).
func TestContractRequiredRequestHeaders(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		d := newDomainTestServer(t, engine)
		f := d.fixture()
		m, admin := d.tokens["manager"], d.tokens["admin"]
		rec := d.move(map[string]any{"type": "receipt", "lines": []any{map[string]any{"item_id": f.wid, "to_location_id": f.a, "qty": 1}}}).must(201).id()
		c := loadContract(t, d.srv)
		for _, tc := range []struct {
			method, template, path, token, header string
			body                                  any
			status                                int
			code                                  string
		}{
			{"POST", "/api/v1/movements", "/api/v1/movements", m, "Idempotency-Key",
				map[string]any{"type": "receipt", "lines": []any{map[string]any{"item_id": f.wid, "to_location_id": f.a, "qty": 1}}}, 400, "idempotency_key_required"},
			{"POST", "/api/v1/movements/{id}/reverse", fmt.Sprintf("/api/v1/movements/%d/reverse", rec), m, "Idempotency-Key", map[string]any{}, 400, "idempotency_key_required"},
			{"PATCH", "/api/v1/items/{id}", fmt.Sprintf("/api/v1/items/%d", f.wid), m, "If-Match", map[string]any{"name": "x"}, 428, "precondition_required"},
			{"DELETE", "/api/v1/items/{id}", fmt.Sprintf("/api/v1/items/%d", f.flour), m, "If-Match", nil, 428, "precondition_required"},
			{"PATCH", "/api/v1/locations/{id}", fmt.Sprintf("/api/v1/locations/%d", f.b), m, "If-Match", map[string]any{"name": "x"}, 428, "precondition_required"},
			{"DELETE", "/api/v1/locations/{id}", fmt.Sprintf("/api/v1/locations/%d", f.b), m, "If-Match", nil, 428, "precondition_required"},
			{"PATCH", "/api/v1/users/{username}", "/api/v1/users/viewer", admin, "If-Match", map[string]any{"active": true}, 428, "precondition_required"},
			{"DELETE", "/api/v1/users/{username}", "/api/v1/users/viewer", admin, "If-Match", nil, 428, "precondition_required"},
		} {
			t.Run(tc.method+" "+tc.template, func(t *testing.T) {
				item := c.doc.Paths.PathItems.GetOrZero(tc.template)
				if item == nil {
					t.Fatalf("%s not in the document", tc.template)
				}
				op := item.GetOperations().GetOrZero(strings.ToLower(tc.method))
				required := false
				for _, p := range op.Parameters {
					if p.In == "header" && p.Name == tc.header && p.Required != nil && *p.Required {
						required = true
					}
				}
				if !required {
					t.Errorf("%s is not a required header of %s %s", tc.header, tc.method, tc.template)
				}
				r := d.do(tc.method, tc.path, tc.token, tc.body)
				if r.status != tc.status || r.json()["code"] != tc.code {
					t.Fatalf("without %s: %d %s, want %d %s", tc.header, r.status, r.body, tc.status, tc.code)
				}
			})
		}
	})
}

// TestContractDocsAssetRanges: the docs' assets are served by
// http.FileServer, which answers Range requests; those answers (206, 416)
// are documented like the others.
func TestContractDocsAssetRanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	for _, tc := range []struct {
		rng    string
		status int
	}{
		{"bytes=0-9", http.StatusPartialContent},
		{"bytes=0-1,5-6", http.StatusPartialContent}, // multipart/byteranges
		{"bytes=999999999-", http.StatusRequestedRangeNotSatisfiable},
	} {
		r := e.do("GET", "/docs/swagger-ui.css", "", "Range: "+tc.rng)
		if r.Code != tc.status {
			t.Errorf("Range %s: %d, want %d", tc.rng, r.Code, tc.status)
		}
	}
}

// TestContractNoDatabaseNo503: with the database gone, an operation that
// still answers 200 cannot fail for the database, so its document must not
// promise a 503 (and one that answers 503 must declare it: serve checks).
// Every public GET without path parameters, and GET /user, is asked.
func TestContractNoDatabaseNo503(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		d := newDomainTestServer(t, engine)
		tok := d.tokens["viewer"]
		c := loadContract(t, d.srv)
		d.db.Close()
		for path, item := range c.doc.Paths.PathItems.FromOldest() {
			op := item.Get
			if op == nil || strings.Contains(path, "{") || (len(op.Security) > 0 && path != "/user") {
				continue
			}
			t.Run(path, func(t *testing.T) {
				r := d.do("GET", path, tok, nil)
				_, declared := op.Responses.Codes.Get("503")
				switch {
				case r.status == http.StatusOK && declared:
					t.Errorf("GET %s answers 200 without a database, yet declares 503", path)
				case r.status >= 500 && r.status != http.StatusServiceUnavailable:
					t.Errorf("GET %s without a database: %d %s", path, r.status, r.body)
				}
			})
		}
	})
}

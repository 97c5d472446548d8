package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestHostileText: a NUL character (%00 in a URL, \u0000 in JSON) or
// invalid UTF-8 in any string input is refused the same way on both
// engines (PostgreSQL cannot store either; SQLite would): a path, query or
// header parameter is a 400 bad_parameter, a body field a 422
// validation_failed, each naming the field and where it was, never a 500.
func TestHostileText(t *testing.T) {
	t.Parallel()
	type outcome struct {
		Status int
		Code   string
		Detail string
	}
	var mu sync.Mutex
	got := map[string]map[string]outcome{} // case -> engine -> outcome
	t.Cleanup(func() {
		for name, by := range got {
			if len(by) == len(pgtest.Engines) && by[pgtest.SQLite] != by[pgtest.Postgres] {
				t.Errorf("%s: the engines disagree: sqlite %+v, postgres %+v", name, by[pgtest.SQLite], by[pgtest.Postgres])
			}
		}
	})
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		f := e.fixture()
		a, m, c := e.tokens["admin"], e.tokens["manager"], e.tokens["clerk"]
		item := fmt.Sprintf("/api/v1/items/%d", f.wid)
		loc := fmt.Sprintf("/api/v1/locations/%d", f.a)
		mv := e.move(map[string]any{"type": "receipt", "lines": []any{map[string]any{"sku": "WID", "to_location_id": f.a, "qty": 1}}}).must(201).id()

		type tc struct {
			method, path, token string
			body                string // JSON with %s where the hostile string goes
			hdr                 []string
			field, in           string
		}
		var cases []tc
		for _, q := range []struct{ path, param, token string }{
			{"/api/v1/items", "q", m}, {"/api/v1/items", "sku", m}, {"/api/v1/items", "barcode", m}, {"/api/v1/items", "cursor", m},
			{"/api/v1/locations", "q", m}, {"/api/v1/locations", "cursor", m},
			{"/api/v1/stock", "sku", m}, {"/api/v1/stock", "lot", m},
			{"/api/v1/lookup", "barcode", m},
			{"/api/v1/movements", "reference", m}, {"/api/v1/movements", "created_by", m}, {"/api/v1/movements", "cursor", m},
			{"/api/v1/ledger", "lot", m}, {"/api/v1/ledger", "created_by", m},
			{"/api/v1/reports/low-stock", "cursor", m},
			{"/api/v1/audit-events", "entity_id", m},
			{"/api/v1/users", "cursor", a},
		} {
			cases = append(cases, tc{method: "GET", path: q.path + "?" + q.param + "=%s", token: q.token, field: q.param, in: "query"})
		}
		cases = append(cases,
			tc{method: "GET", path: "/api/v1/users/%s", token: a, field: "username", in: "path"},
			tc{method: "PATCH", path: "/api/v1/users/%s", token: a, body: `{"active":true}`, hdr: []string{"If-Match", `"v1"`}, field: "username", in: "path"},
			tc{method: "DELETE", path: "/api/v1/users/%s", token: a, hdr: []string{"If-Match", `"v1"`}, field: "username", in: "path"},
			tc{method: "POST", path: "/api/v1/users/%s/unlock", token: a, field: "username", in: "path"},
			tc{method: "DELETE", path: "/sessions/%s", token: c, field: "id", in: "path"},
		)
		for _, b := range []struct{ method, path, token, body, field string }{
			{"POST", "/login", "", `{"username":"%s","password":"x"}`, "username"},
			{"POST", "/login", "", `{"username":"clerk","password":"%s"}`, "password"},
			{"POST", "/api/v1/items", m, `{"sku":"%s","name":"n","uom":"ea"}`, "sku"},
			{"POST", "/api/v1/items", m, `{"sku":"S","name":"n","uom":"ea","description":"%s"}`, "description"},
			{"PATCH", item, m, `{"name":"%s"}`, "name"},
			{"POST", "/api/v1/locations", m, `{"code":"%s","name":"n"}`, "code"},
			{"PATCH", loc, m, `{"name":"%s"}`, "name"},
			{"POST", "/api/v1/movements", c, `{"type":"receipt","reference":"%s","lines":[{"sku":"WID","to_location_id":1,"qty":1}]}`, "reference"},
			{"POST", "/api/v1/movements", c, `{"type":"receipt","lines":[{"sku":"WID","to_location_id":1,"qty":1},{"sku":"%s","to_location_id":1,"qty":1}]}`, "lines[1].sku"},
			{"POST", "/api/v1/movements", c, `{"type":"receipt","lines":[{"sku":"MILK","lot":"%s","to_location_id":1,"qty":1}]}`, "lines[0].lot"},
			{"POST", fmt.Sprintf("/api/v1/movements/%d/reverse", mv), m, `{"note":"%s"}`, "note"},
			{"POST", "/api/v1/users", a, `{"username":"%s","password":"long-enough","roles":["viewer"]}`, "username"},
			{"POST", "/api/v1/users", a, `{"username":"zed","password":"long-enough","roles":["%s"]}`, "roles[0]"},
			{"PATCH", "/api/v1/users/clerk", a, `{"password":"long-enough-%s"}`, "password"},
			{"POST", "/user/password", c, `{"current_password":"%s","new_password":"long-enough"}`, "current_password"},
		} {
			cases = append(cases, tc{method: b.method, path: b.path, token: b.token, body: b.body, field: b.field, in: "body",
				hdr: []string{"Idempotency-Key", newKey(), "If-Match", `"v1"`}})
		}

		for _, x := range cases {
			hostile := []struct{ name, url, json string }{{"NUL", "a%00b", `a\u0000b`}, {"invalid UTF-8", "a%FFb", ""}}
			for _, h := range hostile {
				path, body := x.path, x.body
				if x.in == "body" {
					if h.json == "" {
						continue // encoding/json turns invalid UTF-8 into U+FFFD
					}
					body = fmt.Sprintf(body, h.json)
				} else {
					path = fmt.Sprintf(path, h.url)
				}
				name := fmt.Sprintf("%s %s %s %s", x.method, x.path, x.field, h.name)
				var rd *strings.Reader
				if body != "" {
					rd = strings.NewReader(body)
				} else {
					rd = strings.NewReader("")
				}
				req := httptest.NewRequest(x.method, path, rd)
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				if x.token != "" {
					req.Header.Set("Authorization", "Bearer "+x.token)
				}
				for i := 0; i+1 < len(x.hdr); i += 2 {
					req.Header.Set(x.hdr[i], x.hdr[i+1])
				}
				rec := serve(t, e.srv, req)
				var p struct {
					Code   string `json:"code"`
					Detail string `json:"detail"`
					Errors []struct {
						Field, In string
					} `json:"errors"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &p)
				want := http.StatusBadRequest
				if x.in == "body" {
					want = http.StatusUnprocessableEntity
				}
				if rec.Code != want || len(p.Errors) != 1 || p.Errors[0].Field != x.field || p.Errors[0].In != x.in || !strings.Contains(p.Detail, x.field) {
					t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
				}
				mu.Lock()
				if got[name] == nil {
					got[name] = map[string]outcome{}
				}
				got[name][engine] = outcome{rec.Code, p.Code, p.Detail}
				mu.Unlock()
			}
		}

		// A forged cursor whose key holds a NUL is a bad cursor, like any other.
		for _, fc := range []struct{ path, list, key string }{
			{"/api/v1/items", "items", `["a\u0000"]`},
			{"/api/v1/locations", "locations", `["a\u0000"]`},
			{"/api/v1/stock", "stock", `["a\u0000","b","c"]`},
			{"/api/v1/reports/low-stock", "low-stock", `["a\u0000"]`},
		} {
			cur := base64.RawURLEncoding.EncodeToString([]byte(`{"l":"` + fc.list + `","k":` + fc.key + `}`))
			r := e.do("GET", fc.path+"?cursor="+cur, m, nil)
			if r.status != 400 || !strings.Contains(string(r.body), "bad_cursor") {
				t.Errorf("forged cursor on %s: %d %s", fc.path, r.status, r.body)
			}
		}

		// A header parameter, and the form-encoded token endpoint.
		r := e.do("POST", "/api/v1/movements", c, map[string]any{"type": "receipt", "lines": []any{map[string]any{"sku": "WID", "to_location_id": f.a, "qty": 1}}},
			"Idempotency-Key", "key-\xff")
		if r.status != 400 || !strings.Contains(string(r.body), `"in":"header"`) || !strings.Contains(string(r.body), "Idempotency-Key") {
			t.Errorf("Idempotency-Key with invalid UTF-8: %d %s", r.status, r.body)
		}
		for _, form := range []url.Values{
			{"grant_type": {"password"}, "username": {"a\x00b"}, "password": {"x"}},
			{"grant_type": {"password"}, "username": {"a\xffb"}, "password": {"x"}},
			{"grant_type": {"refresh_token"}, "refresh_token": {"a\x00b"}},
		} {
			req := httptest.NewRequest("POST", "/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := serve(t, e.srv, req)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), "invalid_request") {
				t.Errorf("/token %v: %d %s", form, rec.Code, rec.Body)
			}
		}
		// The User-Agent a session records is kept as valid UTF-8: invalid
		// bytes replaced, a long one cut at a character boundary.
		for _, ua := range []string{"curl\xff/8", "a" + strings.Repeat("é", 400)} {
			req := httptest.NewRequest("POST", "/login", strings.NewReader(`{"username":"clerk","password":"clerk-password"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", ua)
			rec := serve(t, e.srv, req)
			if rec.Code != 200 {
				t.Errorf("login with User-Agent %.8q: %d %s", ua, rec.Code, rec.Body)
			}
		}
	})
}

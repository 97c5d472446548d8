package httpapi_test

// The web console (internal/console) through the real router, on both
// engines: sign-in in the API's cookie mode, the CSRF rule on its forms,
// refresh rotation when the access cookie is gone, movements by code with
// the shortage sentence, idempotent posting, and the role rules. The
// console's pages are not API operations, so they are not held against
// the OpenAPI document; the API calls made alongside are (serve).

import (
	"bytes"
	"context"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/console"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

// browserish is a cookie jar in front of the router: what a browser keeps
// between console pages.
type browserish struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]string
}

func newBrowserish(t *testing.T, h http.Handler) *browserish {
	return &browserish{t: t, h: h, cookies: map[string]string{}}
}

// do sends one request (a form when form is not nil) and keeps the
// cookies the answer sets; redirects are not followed.
func (b *browserish) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.Header.Set("Accept", "text/html")
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	if w.Code >= 500 {
		b.t.Fatalf("%s %s -> %d: %s", method, path, w.Code, w.Body)
	}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") && w.Header().Get("Content-Security-Policy") != console.Policy {
		b.t.Errorf("%s %s: CSP %q", method, path, w.Header().Get("Content-Security-Policy"))
	}
	return w
}

// upload posts a multipart form with one file, as the upload page does.
func (b *browserish) upload(path string, fields url.Values, name, content string) *httptest.ResponseRecorder {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		b.t.Fatal(err)
	}
	_, _ = fw.Write([]byte(content))
	if err := mw.Close(); err != nil {
		b.t.Fatal(err)
	}
	req := httptest.NewRequest("POST", path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "text/html")
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, req)
	if w.Code >= 500 {
		b.t.Fatalf("upload %s -> %d: %s", path, w.Code, w.Body)
	}
	if w.Header().Get("Content-Security-Policy") != console.Policy {
		b.t.Errorf("upload %s: CSP %q", path, w.Header().Get("Content-Security-Policy"))
	}
	return w
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

var (
	csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	keyRe  = regexp.MustCompile(`name="idempotency_key" value="([^"]*)"`)
)

// hidden reads a hidden field's value from a page.
func hidden(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in the page:\n%s", re, body)
	}
	return html.UnescapeString(m[1])
}

func (b *browserish) signIn(user, pw string) {
	b.t.Helper()
	w := b.do("POST", "/signin", url.Values{"username": {user}, "password": {pw}, "next": {"/stock"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/stock" {
		b.t.Fatalf("sign in %s: %d %s", user, w.Code, w.Body)
	}
}

// form fetches a form page and returns its CSRF value and idempotency key.
func (b *browserish) form(path string) (csrf, key string) {
	b.t.Helper()
	w := b.do("GET", path, nil)
	if w.Code != http.StatusOK {
		b.t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	return hidden(b.t, csrfRe, w.Body.String()), hidden(b.t, keyRe, w.Body.String())
}

func seedFloor(ctx context.Context, t *testing.T, db *store.DB) {
	t.Helper()
	rp := warehouse.Qty(5 * warehouse.QtyScale)
	if err := db.CreateItem(ctx, &warehouse.Item{SKU: "WID-RED", Name: "Red widget", UOM: "ea", Barcode: "4006381333931", ReorderPoint: &rp, Active: true}, "test"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateItem(ctx, &warehouse.Item{SKU: "WID-BLU", Name: "Blue widget", UOM: "ea", ReorderPoint: &rp, Active: true}, "test"); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"A-01", "B-01"} {
		if err := db.CreateLocation(ctx, &warehouse.Location{Code: code, Name: "Bin " + code, Active: true}, "test"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConsole(t *testing.T) {
	t.Parallel()
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newDomainTestServer(t, engine)
			seedFloor(context.Background(), t, e.db)

			t.Run("signed out", func(t *testing.T) {
				b := newBrowserish(t, e.srv)
				w := b.do("GET", "/stock", nil)
				if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/signin?next=") {
					t.Fatalf("GET /stock signed out: %d %v", w.Code, w.Header())
				}
				w = b.do("POST", "/signin", url.Values{"username": {"clerk"}, "password": {"wrong"}})
				if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "Bad username or password.") {
					t.Fatalf("wrong password: %d %s", w.Code, w.Body)
				}
				w = b.do("POST", "/signin", url.Values{"username": {"clerk"}, "password": {"clerk-password"}, "next": {"//evil.example/"}})
				if w.Header().Get("Location") != "/stock" {
					t.Errorf("next=//evil.example/ redirected to %q", w.Header().Get("Location"))
				}
			})

			t.Run("session is the API's", func(t *testing.T) {
				b := newBrowserish(t, e.srv)
				b.signIn("clerk", "clerk-password")
				for _, name := range []string{"access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"} {
					if b.cookies[name] == "" {
						t.Errorf("no %s cookie", name)
					}
				}
				req := httptest.NewRequest("GET", "/sessions", nil)
				req.AddCookie(&http.Cookie{Name: "access_token_cookie", Value: b.cookies["access_token_cookie"]})
				if w := serve(t, e.srv, req); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"via_cookies":true`) {
					t.Fatalf("GET /sessions with the console's cookie: %d %s", w.Code, w.Body)
				}
				// The access cookie gone (it lives as long as its token):
				// the console rotates through the refresh cookie.
				oldRefresh := b.cookies["refresh_token_cookie"]
				delete(b.cookies, "access_token_cookie")
				if w := b.do("GET", "/stock", nil); w.Code != http.StatusOK {
					t.Fatalf("GET /stock after the access cookie expired: %d %s", w.Code, w.Body)
				}
				if b.cookies["access_token_cookie"] == "" || b.cookies["refresh_token_cookie"] == oldRefresh {
					t.Errorf("no rotation: %v", b.cookies)
				}
				// Sign out ends the session: the refresh cookie kept by a
				// thief no longer works.
				kept := b.cookies["refresh_token_cookie"]
				csrf := hidden(t, csrfRe, b.do("GET", "/stock", nil).Body.String())
				if w := b.do("POST", "/signout", url.Values{"csrf_token": {csrf}}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "You are signed out.") {
					t.Fatalf("sign out: %d %s", w.Code, w.Body)
				}
				thief := newBrowserish(t, e.srv)
				thief.cookies["refresh_token_cookie"] = kept
				if w := thief.do("GET", "/stock", nil); w.Code != http.StatusSeeOther {
					t.Errorf("a signed-out session's refresh cookie still opens the console: %d", w.Code)
				}
			})

			t.Run("movements", func(t *testing.T) {
				b := newBrowserish(t, e.srv)
				b.signIn("clerk", "clerk-password")
				csrf, key := b.form("/post/receipt")
				receipt := url.Values{"csrf_token": {csrf}, "idempotency_key": {key}, "item": {"4006381333931"}, "to": {"A-01"}, "qty": {"10"}, "reference": {"PO-1"}}
				w := b.do("POST", "/post/receipt", receipt)
				if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/movement/") {
					t.Fatalf("receipt: %d %s", w.Code, w.Body)
				}
				first := w.Header().Get("Location")
				// A double click (the same form again) posts once.
				if w := b.do("POST", "/post/receipt", receipt); w.Header().Get("Location") != first {
					t.Errorf("the same form posted twice: %d %s, first %s", w.Code, w.Header().Get("Location"), first)
				}
				csrf, key = b.form("/post/issue")
				w = b.do("POST", "/post/issue", url.Values{"csrf_token": {csrf}, "idempotency_key": {key}, "item": {"WID-RED"}, "from": {"A-01"}, "qty": {"12"}})
				if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "Not enough WID-RED at A-01: requested 12, available 10.") {
					t.Fatalf("shortage: %d %s", w.Code, w.Body)
				}
				w = b.do("POST", "/post/issue", url.Values{"csrf_token": {csrf}, "idempotency_key": {key}, "item": {"WID-RED"}, "from": {"NOPE"}, "qty": {"1.2345"}})
				body := w.Body.String()
				if w.Code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="from-error">no location has the code &#34;NOPE&#34;`) || !strings.Contains(body, `id="qty-error">quantity has more than 3 decimals`) {
					t.Fatalf("field errors: %d %s", w.Code, body)
				}
				// Without the form's CSRF value (a form from elsewhere).
				w = b.do("POST", "/post/receipt", url.Values{"idempotency_key": {"evil-1"}, "item": {"WID-RED"}, "to": {"A-01"}, "qty": {"1"}})
				if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "This form was refused") {
					t.Fatalf("no CSRF value: %d %s", w.Code, w.Body)
				}
				// Adjustments need a manager: the domain's rule.
				if w := b.do("GET", "/post/adjustment", nil); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "requires role manager") {
					t.Errorf("clerk adjustment: %d %s", w.Code, w.Body)
				}
				// The stock page: the item below its reorder point? 10 >= 5: no.
				if w := b.do("GET", "/stock?q=red", nil); !strings.Contains(w.Body.String(), "WID-RED") || strings.Contains(w.Body.String(), `class="low"`) {
					t.Errorf("stock search: %s", w.Body)
				}
				// A viewer may not post.
				v := newBrowserish(t, e.srv)
				v.signIn("viewer", "viewer-password")
				if w := v.do("GET", "/post/receipt", nil); w.Code != http.StatusForbidden {
					t.Errorf("viewer receipt form: %d", w.Code)
				}
				// The access token expired between rendering the form and
				// posting it: the console rotates, posts nothing, and asks
				// again with the new token's CSRF value.
				csrf, key = b.form("/post/transfer")
				transfer := url.Values{"csrf_token": {csrf}, "idempotency_key": {key}, "item": {"WID-RED"}, "from": {"A-01"}, "to": {"B-01"}, "qty": {"2"}}
				delete(b.cookies, "access_token_cookie")
				w = b.do("POST", "/post/transfer", transfer)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Your sign-in was renewed") {
					t.Fatalf("post after expiry: %d %s", w.Code, w.Body)
				}
				transfer.Set("csrf_token", hidden(t, csrfRe, w.Body.String()))
				if hidden(t, keyRe, w.Body.String()) != key {
					t.Errorf("the renewed form has a new idempotency key")
				}
				if w := b.do("POST", "/post/transfer", transfer); w.Code != http.StatusSeeOther {
					t.Fatalf("transfer after renewal: %d %s", w.Code, w.Body)
				}
				// A manager reverses the receipt.
				m := newBrowserish(t, e.srv)
				m.signIn("manager", "manager-password")
				csrf, key = m.form("/post/adjustment")
				adj := url.Values{"csrf_token": {csrf}, "idempotency_key": {key}, "item": {"WID-RED"}, "location": {"B-01"}, "qty": {"-1"}}
				if w := m.do("POST", "/post/adjustment", adj); w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `id="reason-error">required, one of damaged`) {
					t.Fatalf("adjustment without a reason: %d %s", w.Code, w.Body)
				}
				adj.Set("reason", "damaged")
				if w := m.do("POST", "/post/adjustment", adj); w.Code != http.StatusSeeOther {
					t.Fatalf("adjustment: %d %s", w.Code, w.Body)
				}
				// The receipt's stock has partly moved on: its reversal is
				// refused with the shortage sentence.
				page := m.do("GET", first, nil).Body.String()
				path, _, _ := strings.Cut(first, "?")
				w = m.do("POST", path+"/reverse", url.Values{"csrf_token": {hidden(t, csrfRe, page)}, "idempotency_key": {hidden(t, keyRe, page)}})
				if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "Not enough WID-RED at A-01 to reverse this movement: requested 10, available 8.") {
					t.Fatalf("reverse the receipt: %d %s", w.Code, w.Body)
				}
				// The adjustment can be reversed.
				w = m.do("POST", "/post/adjustment", adj) // a replay: answers the same movement
				adjPath := w.Header().Get("Location")
				adjPath, _, _ = strings.Cut(adjPath, "?")
				page = m.do("GET", adjPath, nil).Body.String()
				w = m.do("POST", adjPath+"/reverse", url.Values{"csrf_token": {hidden(t, csrfRe, page)}, "idempotency_key": {hidden(t, keyRe, page)}})
				if w.Code != http.StatusSeeOther {
					t.Fatalf("reverse: %d %s", w.Code, w.Body)
				}
				if body := m.do("GET", w.Header().Get("Location"), nil).Body.String(); !strings.Contains(body, "This movement reverses") {
					t.Errorf("reversal page: %s", body)
				}
			})

			t.Run("scan", func(t *testing.T) {
				b := newBrowserish(t, e.srv)
				b.signIn("viewer", "viewer-password")
				// WID-BLU has none, under its reorder point: highlighted;
				// WID-RED has 10, over its 5: not.
				if w := b.do("GET", "/stock", nil); strings.Count(w.Body.String(), `<tr class="low">`) != 1 ||
					!regexp.MustCompile(`<tr class="low">\s*<td><a href="/stock\?item=\d+">WID-BLU</a>`).MatchString(w.Body.String()) {
					t.Errorf("low-stock rows: %s", w.Body)
				}
				for code, want := range map[string]string{"4006381333931": "/stock?item=", "WID-RED": "/stock?item=", "B-01": "/stock?location=", "nothing": "/stock?notfound="} {
					if w := b.do("GET", "/scan?code="+url.QueryEscape(code), nil); !strings.HasPrefix(w.Header().Get("Location"), want) {
						t.Errorf("scan %s -> %s, want %s...", code, w.Header().Get("Location"), want)
					}
				}
			})

			t.Run("sessions", func(t *testing.T) {
				phone, desk := newBrowserish(t, e.srv), newBrowserish(t, e.srv)
				phone.signIn("clerk", "clerk-password")
				desk.signIn("clerk", "clerk-password")
				page := desk.do("GET", "/my/sessions", nil).Body.String()
				ends := regexp.MustCompile(`action="(/my/sessions/[^"]+/end)"`).FindAllStringSubmatch(page, -1)
				if len(ends) < 2 || !strings.Contains(page, "(this one)") {
					t.Fatalf("my sessions: %s", page)
				}
				// End the phone's session, named by its token's sid.
				var claims struct {
					SID string `json:"sid"`
				}
				if err := jsonUnmarshal([]byte(decodeSegment(t, phone.cookies["access_token_cookie"], 1)), &claims); err != nil || claims.SID == "" {
					t.Fatalf("the phone's sid: %v", err)
				}
				other := "/my/sessions/" + claims.SID + "/end"
				if !strings.Contains(page, `action="`+other+`"`) {
					t.Fatalf("the phone's session is not listed: %s", page)
				}
				w := desk.do("POST", other, url.Values{"csrf_token": {hidden(t, csrfRe, page)}})
				if w.Code != http.StatusSeeOther {
					t.Fatalf("end session: %d %s", w.Code, w.Body)
				}
				if w := phone.do("GET", "/stock", nil); w.Code != http.StatusSeeOther {
					t.Errorf("the ended session still opens the console: %d", w.Code)
				}
				if w := desk.do("GET", "/stock", nil); w.Code != http.StatusOK {
					t.Errorf("ending another session ended this one: %d", w.Code)
				}
			})

			t.Run("users", func(t *testing.T) {
				a := newBrowserish(t, e.srv)
				a.signIn("admin", "admin-password")
				csrf := hidden(t, csrfRe, a.do("GET", "/admin/users", nil).Body.String())
				w := a.do("POST", "/admin/users", url.Values{"csrf_token": {csrf}, "username": {"nina"}, "password": {"a-long-password-1"}, "roles": {"clerk"}})
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "User nina was created.") {
					t.Fatalf("create user: %d %s", w.Code, w.Body)
				}
				n := newBrowserish(t, e.srv)
				n.signIn("nina", "a-long-password-1")
				for _, step := range []url.Values{
					{"action": {"roles"}, "roles": {"clerk", "manager"}},
					{"action": {"password"}, "password": {"another-password-2"}},
					{"action": {"disable"}},
					{"action": {"enable"}},
					{"action": {"unlock"}},
				} {
					step.Set("csrf_token", csrf)
					if w := a.do("POST", "/admin/users/nina", step); w.Code != http.StatusSeeOther {
						t.Fatalf("%v: %d %s", step, w.Code, w.Body)
					}
				}
				u, err := e.db.UserByName(context.Background(), "nina")
				if err != nil || !u.Active || !strings.Contains(strings.Join(u.Roles, ","), "manager") {
					t.Errorf("nina after the changes: %+v %v", u, err)
				}
				n2 := newBrowserish(t, e.srv)
				n2.signIn("nina", "another-password-2")
				// An admin may not lock themself out.
				if w := a.do("POST", "/admin/users/admin", url.Values{"csrf_token": {csrf}, "action": {"disable"}}); w.Code != http.StatusConflict {
					t.Errorf("admin disables themself: %d %s", w.Code, w.Body)
				}
				// Not an admin: no users page.
				if w := n2.do("GET", "/admin/users", nil); w.Code != http.StatusForbidden {
					t.Errorf("a manager opens the users page: %d", w.Code)
				}
			})

			t.Run("imports", func(t *testing.T) {
				ctx := context.Background()
				exists := func(sku string) bool {
					t.Helper()
					items, _, err := e.db.ListItems(ctx, warehouse.ItemFilter{SKU: sku}, warehouse.Page{Limit: 1})
					if err != nil {
						t.Fatal(err)
					}
					return len(items) == 1
				}
				m := newBrowserish(t, e.srv)
				m.signIn("manager", "manager-password")
				page := m.do("GET", "/imports", nil)
				body := page.Body.String()
				for _, want := range []string{`<label for="file">File</label>`, `<label for="kind">Kind</label>`, `name="dry_run"`, `> Dry run</label>`,
					`enctype="multipart/form-data"`, `>Import</button>`, `<a href="/imports">Import</a>`, `<option value="stock">`} {
					if page.Code != http.StatusOK || !strings.Contains(body, want) {
						t.Fatalf("GET /imports: %d, no %s:\n%s", page.Code, want, body)
					}
				}
				csrf := hidden(t, csrfRe, body)

				// A good file: the summary, and the items exist.
				good := "sku,name,uom,qty_precision,barcode,reorder_point\nUP-1,Uploaded one,ea,0,,5\nUP-2,Uploaded two,kg,3,,0.25\n"
				w := m.upload("/imports", url.Values{"csrf_token": {csrf}, "kind": {"items"}}, "items.csv", good)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "2 rows: 2 created, 0 updated, 0 unchanged.") ||
					!strings.Contains(w.Body.String(), "The file items.csv was imported.") || !strings.Contains(w.Body.String(), "items.csv (") {
					t.Fatalf("good file: %d %s", w.Code, w.Body)
				}
				if !exists("UP-1") || !exists("UP-2") {
					t.Fatalf("the imported items are missing")
				}
				// Again: unchanged.
				w = m.upload("/imports", url.Values{"csrf_token": {csrf}, "kind": {"items"}}, "items.csv", good)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "2 rows: 0 created, 0 updated, 2 unchanged.") {
					t.Fatalf("the same file again: %d %s", w.Code, w.Body)
				}

				// A bad file: every error listed, nothing imported.
				bad := "sku,name,uom,reorder_point\nBAD-1,A,ea,1\nBAD-2,B,ea,-1\nBAD-1,C,ea,2\nBAD-3,D,ea,x\n"
				w = m.upload("/imports", url.Values{"csrf_token": {csrf}, "kind": {"items"}}, "bad.csv", bad)
				body = w.Body.String()
				if w.Code != http.StatusUnprocessableEntity || !strings.Contains(body, "The file bad.csv was refused whole: nothing was imported.") {
					t.Fatalf("bad file: %d %s", w.Code, body)
				}
				items := regexp.MustCompile(`(?s)<ul class="import-errors" id="import-errors">(.*?)</ul>`).FindStringSubmatch(body)
				if items == nil {
					t.Fatalf("no error list: %s", body)
				}
				listed := regexp.MustCompile(`<li>(.*?)</li>`).FindAllStringSubmatch(items[1], -1)
				var got []string
				for _, l := range listed {
					got = append(got, html.UnescapeString(l[1]))
				}
				want := []string{"line 3, reorder_point: must be >= 0", `line 4, sku: "BAD-1" is already on line 2`, "line 5, reorder_point: quantity must be a number"}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("the errors listed: %q, want %q", got, want)
				}
				if exists("BAD-1") || exists("BAD-2") {
					t.Errorf("a refused file imported rows")
				}

				// A dry run writes nothing.
				w = m.upload("/imports", url.Values{"csrf_token": {csrf}, "kind": {"items"}, "dry_run": {"1"}}, "dry.csv", "sku,name,uom\nDRY-1,Dry,ea\n")
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "1 rows: 1 created, 0 updated, 0 unchanged.") ||
					!strings.Contains(w.Body.String(), "Dry run of dry.csv: nothing was written") {
					t.Fatalf("dry run: %d %s", w.Code, w.Body)
				}
				if exists("DRY-1") {
					t.Errorf("a dry run wrote the item")
				}

				// Stock: a count movement, linked.
				w = m.upload("/imports", url.Values{"csrf_token": {csrf}, "kind": {"stock"}}, "stock.csv", "sku,location_code,qty\nUP-1,A-01,7\n")
				if w.Code != http.StatusOK || !regexp.MustCompile(`Movements: <a href="/movement/\d+">`).MatchString(w.Body.String()) {
					t.Fatalf("stock import: %d %s", w.Code, w.Body)
				}

				// Without the form's CSRF value (a form from elsewhere).
				w = m.upload("/imports", url.Values{"kind": {"items"}}, "evil.csv", "sku,name,uom\nEVIL-1,Evil,ea\n")
				if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "This form was refused") || exists("EVIL-1") {
					t.Fatalf("no CSRF value: %d %s", w.Code, w.Body)
				}

				// A clerk is refused, and is offered no link.
				c := newBrowserish(t, e.srv)
				c.signIn("clerk", "clerk-password")
				cpage := c.do("GET", "/imports", nil)
				if cpage.Code != http.StatusForbidden || !strings.Contains(cpage.Body.String(), "This page needs the manager role") || strings.Contains(cpage.Body.String(), `href="/imports"`) {
					t.Fatalf("clerk GET /imports: %d %s", cpage.Code, cpage.Body)
				}
				ccsrf := hidden(t, csrfRe, c.do("GET", "/stock", nil).Body.String())
				w = c.upload("/imports", url.Values{"csrf_token": {ccsrf}, "kind": {"items"}}, "clerk.csv", "sku,name,uom\nCLERK-1,Clerk,ea\n")
				if w.Code != http.StatusForbidden || exists("CLERK-1") {
					t.Fatalf("clerk upload: %d %s", w.Code, w.Body)
				}

				// Without a session, and as a clerk, the upload is refused
				// before its body is read: nobody who may not import can
				// make the server spool a file to disk.
				for _, who := range []struct {
					name    string
					cookies map[string]string
					status  int
				}{{"anonymous", nil, http.StatusUnauthorized}, {"clerk", c.cookies, http.StatusForbidden}} {
					var body bytes.Buffer
					mw := multipart.NewWriter(&body)
					fw, _ := mw.CreateFormFile("file", "big.csv")
					_, _ = fw.Write(bytes.Repeat([]byte("sku,name,uom\n"), 300_000))
					_ = mw.Close()
					cr := &countingReader{r: &body}
					req := httptest.NewRequest("POST", "/imports", cr)
					req.Header.Set("Content-Type", mw.FormDataContentType())
					for k, v := range who.cookies {
						req.AddCookie(&http.Cookie{Name: k, Value: v})
					}
					rec := httptest.NewRecorder()
					e.srv.ServeHTTP(rec, req)
					if rec.Code != who.status || cr.n > 64<<10 {
						t.Errorf("%s upload: %d after reading %d bytes of the body: %s", who.name, rec.Code, cr.n, rec.Body)
					}
				}
			})

			t.Run("lockout", func(t *testing.T) {
				b := newBrowserish(t, e.srv)
				var w *httptest.ResponseRecorder
				for range 12 {
					w = b.do("POST", "/signin", url.Values{"username": {"viewer"}, "password": {"wrong"}})
					if w.Code == http.StatusTooManyRequests {
						break
					}
				}
				if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "Too many failed logins for this account; try again in ") {
					t.Errorf("lockout: %d %s", w.Code, w.Body)
				}
			})
		})
	}
}

package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// The HTTP fuzzers send what the fuzzer makes through the real router of
// one server per fuzz process (a domainEnv on SQLite, built before
// f.Fuzz), through serve, which holds every answer against the OpenAPI
// document. Whatever comes in, the answer is a 2xx or a 4xx with a detail,
// never a 5xx, a panic or a hang.

// maxFuzzBody bounds a fuzzed body or header: the limits the server
// enforces (413, 431) are tested elsewhere; the fuzzer looks for parsing
// bugs, which small inputs find.
const maxFuzzBody = 8 << 10

// fuzzServer is the server one fuzz process sends every input to, with
// the domain fixture (items, locations) in place.
type fuzzServer struct {
	*domainEnv
	fx domainFixture
	// vars fill the {name} placeholders of the seeds: a live token, the
	// fixture's ids, so that seeds can be valid requests.
	vars *strings.Replacer
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	e := newDomainTestServer(f, pgtest.SQLite)
	fs := &fuzzServer{domainEnv: e, fx: e.fixture()}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	fs.vars = strings.NewReplacer("{token}", e.tokens["clerk"], "{wid}", id(fs.fx.wid), "{flour}", id(fs.fx.flour),
		"{lot}", id(fs.fx.lotIt), "{a}", id(fs.fx.a), "{b}", id(fs.fx.b), "{wh}", id(fs.fx.wh))
	return fs
}

// send serves one request and checks what every answer must be: no 5xx,
// and an error is problem+json with a detail and a code (or, for
// problemJSON false, an RFC 6749 error with error and error_description).
func (fs *fuzzServer) send(t *testing.T, req *http.Request, problemJSON bool) *httptest.ResponseRecorder {
	t.Helper()
	w := serve(t, fs.srv, req)
	if w.Code >= 500 {
		t.Fatalf("%s %s: %d: %s", req.Method, req.URL, w.Code, w.Body)
	}
	if w.Code >= 400 {
		var p struct {
			Detail, Code, Error, ErrorDescription string `json:",omitempty"`
		}
		var raw map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
			t.Fatalf("%s %s: %d without a JSON body: %v: %s", req.Method, req.URL, w.Code, err, w.Body)
		}
		p.Detail, _ = raw["detail"].(string)
		p.Code, _ = raw["code"].(string)
		p.Error, _ = raw["error"].(string)
		p.ErrorDescription, _ = raw["error_description"].(string)
		switch {
		case p.Detail == "":
			t.Fatalf("%s %s: %d without a detail: %s", req.Method, req.URL, w.Code, w.Body)
		case problemJSON && (p.Code == "" || w.Header().Get("Content-Type") != "application/problem+json"):
			t.Fatalf("%s %s: %d is not problem+json with a code: %s %s", req.Method, req.URL, w.Code, w.Header().Get("Content-Type"), w.Body)
		case !problemJSON && (p.Error == "" || p.ErrorDescription == ""):
			t.Fatalf("%s %s: %d is not an RFC 6749 error: %s", req.Method, req.URL, w.Code, w.Body)
		}
	}
	return w
}

// validHeaderValue reports whether net/http would let v through as a
// header value at all (a server never sees the others).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzAuthorizationHeader sends arbitrary Authorization headers to the
// fast path (GET /user) and to Huma's (GET /api/v1/items, GET /sessions):
// each is a 401 with RFC 6750's challenge, except exactly "Bearer <the
// live token>" (the scheme in any case), which is a 200.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{
		"Bearer {token}", "bearer {token}", "BEARER {token}", "Bearer  {token}", "Bearer {token} ", " Bearer {token}",
		"Bearer\t{token}", "Bearer {token}\t", "Bearer {token}x", "Bearer x{token}", "{token}", "Token {token}",
		"Basic am9ldnU6Z2xpbnRlY28=", "Bearer", "Bearer ", "Bearer  ", "", " ", "Bearer a.b.c", "Bearer ...",
		"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJqb2V2dSJ9.", "Bearer {token},Bearer {token}", "Bearer \u00e9",
		"Bearer " + strings.Repeat("A", 4000), "Bearer " + strings.Repeat(".", 100), "Bearer \xff\xfe",
	} {
		f.Add(s)
	}
	fs := newFuzzServer(f)
	tok := fs.tokens["clerk"]
	f.Fuzz(func(t *testing.T, h string) {
		if len(h) > maxFuzzBody {
			return
		}
		h = fs.vars.Replace(h)
		if !validHeaderValue(h) {
			return
		}
		wantOK := len(h) > 7 && strings.EqualFold(h[:6], "bearer") && h[6] == ' ' && h[7:] == tok
		for _, path := range []string{"/user", "/api/v1/items", "/sessions"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", h)
			w := fs.send(t, req, true)
			switch {
			case wantOK && w.Code != http.StatusOK:
				t.Fatalf("GET %s with %q: %d, want 200: %s", path, h, w.Code, w.Body)
			case !wantOK && w.Code != http.StatusUnauthorized:
				t.Fatalf("GET %s with %q: %d, want 401: %s", path, h, w.Code, w.Body)
			case !wantOK && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer"):
				t.Fatalf("GET %s with %q: 401 without a Bearer challenge", path, h)
			}
		}
	})
}

// FuzzLoginBody posts arbitrary JSON to POST /login (and with
// ?cookies=true): a 200 carries a token pair (or its cookies), anything
// else is a 4xx problem with a detail.
func FuzzLoginBody(f *testing.F) {
	for _, s := range []string{
		`{"username":"clerk","password":"clerk-password"}`, `{"username":"clerk","password":"wrong-password"}`,
		`{"username":"nobody-at-all","password":"x"}`, `{"username":"","password":""}`, `{"username":"clerk"}`,
		`{"password":"clerk-password"}`, `{}`, `[]`, `null`, `""`, ``, `{`, `{"username":1,"password":true}`,
		`{"username":"clerk","password":"clerk-password","extra":1}`, `{"username":"clerk","username":"viewer","password":"clerk-password"}`,
		`{"username":"` + strings.Repeat("u", 300) + `","password":"x"}`, `{"username":"clerk","password":"` + strings.Repeat("p", 5000) + `"}`,
		`{"username":"cl\u0000erk","password":"x"}`, `{"username":"\ud800","password":"\udfff"}`, "{\"username\":\"\xff\",\"password\":\"x\"}",
		`{"username":"clerk","password":"clerk-password"}garbage`, ` {"username" : "CLERK" , "password" : "clerk-password" } `,
	} {
		f.Add(s, false)
	}
	f.Add(`{"username":"clerk","password":"clerk-password"}`, true)
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body string, cookies bool) {
		if len(body) > maxFuzzBody {
			return
		}
		path := "/login"
		if cookies {
			path += "?cookies=true"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := fs.send(t, req, true)
		if w.Code == http.StatusOK {
			var pair struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &pair)
			if !cookies && (pair.AccessToken == "" || pair.RefreshToken == "") {
				t.Fatalf("login 200 without a token pair: %s", w.Body)
			}
			if cookies && len(w.Result().Cookies()) < 4 {
				t.Fatalf("cookie login 200 with %d cookies", len(w.Result().Cookies()))
			}
		} else if w.Code != http.StatusUnauthorized && w.Code != http.StatusUnprocessableEntity && w.Code != http.StatusBadRequest &&
			w.Code != http.StatusTooManyRequests && w.Code != http.StatusUnsupportedMediaType {
			t.Fatalf("login: unexpected %d: %s", w.Code, w.Body)
		}
	})
}

// FuzzTokenForm posts an arbitrary form body to the OAuth2 token endpoint
// (POST /token): a 200 carries a token pair, anything else is an RFC 6749
// error (error, error_description) with our detail, never a 5xx.
func FuzzTokenForm(f *testing.F) {
	for _, s := range []string{
		"grant_type=password&username=clerk&password=clerk-password", "grant_type=password&username=clerk&password=nope",
		"grant_type=password&username=clerk", "grant_type=refresh_token&refresh_token=a.b.c", "grant_type=refresh_token",
		"grant_type=client_credentials", "grant_type=", "", "&&&", "=", "%", "%zz", "grant_type=password&grant_type=refresh_token",
		"grant_type=password&username=clerk&password=clerk-password&scope=admin", "username=clerk&password=clerk-password",
		"grant_type=password&username=%00&password=%FF", "grant_type=password;username=clerk", "grant_type=password&username=clerk&password=" + strings.Repeat("x", 3000),
	} {
		f.Add(s)
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		if len(body) > maxFuzzBody {
			return
		}
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := fs.send(t, req, false)
		if w.Code == http.StatusOK {
			var m map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m["access_token"] == nil || m["token_type"] != "bearer" {
				t.Fatalf("token 200 without a bearer token: %s", w.Body)
			}
			if v, err := url.ParseQuery(body); err == nil && v.Get("grant_type") != "password" && v.Get("grant_type") != "refresh_token" {
				t.Fatalf("grant_type %q granted a token", v.Get("grant_type"))
			}
		}
	})
}

// FuzzMovementBody posts arbitrary JSON as a movement (as the clerk, a
// fresh Idempotency-Key each): a 201 is a posted movement whose answer
// is replayed byte for byte under the same key; anything else is a 4xx
// problem with a detail (409 for a shortage, 422 for a body the rules
// refuse), never a 5xx, never a negative balance.
func FuzzMovementBody(f *testing.F) {
	for _, s := range []string{
		`{"type":"receipt","lines":[{"item_id":{wid},"to_location_id":{a},"qty":20}]}`,
		`{"type":"receipt","reference":"PO-1","note":"n","lines":[{"item_id":{flour},"to_location_id":{b},"qty":0.125}]}`,
		`{"type":"receipt","lines":[{"item_id":{lot},"to_location_id":{a},"qty":1,"lot":"L1"}]}`,
		`{"type":"issue","lines":[{"item_id":{wid},"from_location_id":{a},"qty":1}]}`,
		`{"type":"issue","lines":[{"item_id":{wid},"from_location_id":{a},"qty":1000000}]}`,
		`{"type":"transfer","lines":[{"item_id":{wid},"from_location_id":{a},"to_location_id":{b},"qty":2}]}`,
		`{"type":"count","lines":[{"item_id":{wid},"to_location_id":{b},"qty":3}]}`,
		`{"type":"adjustment","reason":"damage","lines":[{"item_id":{wid},"from_location_id":{a},"qty":1}]}`,
		`{"type":"receipt","lines":[{"item_id":{wid},"to_location_id":{wh},"qty":1}]}`,
		`{"type":"receipt","lines":[{"item_id":{wid},"to_location_id":{a},"qty":0.5}]}`,
		`{"type":"receipt","lines":[{"item_id":{flour},"to_location_id":{a},"qty":0.0001}]}`,
		`{"type":"receipt","lines":[{"item_id":{wid},"to_location_id":{a},"qty":1e400}]}`,
		`{"type":"receipt","lines":[{"item_id":{wid},"to_location_id":{a},"qty":-1}]}`,
		`{"type":"receipt","lines":[{"item_id":{wid},"to_location_id":{a},"qty":"1"}]}`,
		`{"type":"receipt","lines":[{"item_id":{wid},"to_location_id":{a},"qty":1e999999}]}`,
		`{"type":"receipt","lines":[{"item_id":999999,"to_location_id":{a},"qty":1}]}`,
		`{"type":"receipt","lines":[{"item_id":{wid},"from_location_id":{a},"to_location_id":{a},"qty":1}]}`,
		`{"type":"receipt","lines":[]}`, `{"type":"receipt"}`, `{"type":"teleport","lines":[{"item_id":{wid},"to_location_id":{a},"qty":1}]}`,
		`{"type":"receipt","lines":[{"item_id":-1,"to_location_id":0,"qty":0}]}`, `{"type":"receipt","lines":[{"item_id":1.5,"to_location_id":{a},"qty":1}]}`,
		`{"type":"receipt","lines":[{"item_id":9223372036854775808,"to_location_id":{a},"qty":1}]}`,
		`{"type":"receipt","lines":[{"item_id":{wid},"to_location_id":{a},"qty":1}],"extra":true}`,
		`{"type":"receipt","lines":[{"item_id":{wid},"to_location_id":{a},"qty":1},{"item_id":{wid},"to_location_id":{a},"qty":1}]}`,
		`{}`, `[]`, `null`, ``, `{`, `{"type":"receipt","lines":{}}`, `{"type":"receipt","lines":[null]}`,
		`{"type":"receipt","note":"` + strings.Repeat("n", 2000) + `","lines":[{"item_id":{wid},"to_location_id":{a},"qty":1}]}`,
		`{"type":"receipt","reference":"\u0000","lines":[{"item_id":{wid},"to_location_id":{a},"qty":1}]}`,
	} {
		f.Add(s)
	}
	fs := newFuzzServer(f)
	clerk := fs.tokens["clerk"]
	f.Fuzz(func(t *testing.T, body string) {
		if len(body) > maxFuzzBody {
			return
		}
		body = fs.vars.Replace(body)
		key := newKey()
		post := func() *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/movements", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+clerk)
			req.Header.Set("Idempotency-Key", key)
			return fs.send(t, req, true)
		}
		w := post()
		switch {
		case w.Code == http.StatusCreated:
			var m struct {
				ID    int64            `json:"id"`
				Lines []map[string]any `json:"lines"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m.ID <= 0 || len(m.Lines) == 0 {
				t.Fatalf("201 is not a movement: %v: %s", err, w.Body)
			}
			if loc := w.Header().Get("Location"); loc != "/api/v1/movements/"+strconv.FormatInt(m.ID, 10) {
				t.Fatalf("201 with Location %q for movement %d", loc, m.ID)
			}
			again := post()
			if again.Code != http.StatusCreated || again.Header().Get("Idempotent-Replayed") != "true" || again.Body.String() != w.Body.String() {
				t.Fatalf("the retry under the same key: %d %q:\n%s\nfirst:\n%s", again.Code, again.Header().Get("Idempotent-Replayed"), again.Body, w.Body)
			}
		case w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden:
			// The clerk's token is fine: only an adjustment is a manager's.
			if w.Code == http.StatusUnauthorized {
				t.Fatalf("the clerk's token refused: %s", w.Body)
			}
		case w.Code < 400:
			t.Fatalf("unexpected %d: %s", w.Code, w.Body)
		}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/stock?limit=200", nil)
		req.Header.Set("Authorization", "Bearer "+clerk)
		st := fs.send(t, req, true)
		if strings.Contains(st.Body.String(), `"on_hand":-`) {
			t.Fatalf("a negative balance after %s: %s", body, st.Body)
		}
	})
}

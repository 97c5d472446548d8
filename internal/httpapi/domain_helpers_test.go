package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/app"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

// domainEnv is a server on a real database with one logged-in user
// per role: tokens["viewer"], ["clerk"], ["manager"], ["admin"]. It is an
// App, as `warehouse serve` opens it (see harness_test.go).
type domainEnv struct {
	t      testing.TB
	app    *app.App
	db     *store.DB
	srv    *httpapi.Server
	state  *authstate.State
	hasher *auth.Hasher
	tokens map[string]string
}

// newDomainTestServer starts a server on a new database on engine (see
// pgtest.Engines).
func newDomainTestServer(t testing.TB, engine string, configure ...func(*app.Config)) *domainEnv {
	t.Helper()
	e := &domainEnv{t: t, hasher: auth.NewHasher(auth.TestParams(), 0), tokens: map[string]string{}}
	cfg := testSettings(pgtest.URL(t, engine))
	// A signing secret of the test's own, and the settings these tests
	// always had: no leeway, no refresh grace, no inactivity timeout.
	cfg.Secret = rand.Text() + rand.Text()
	logcheck.Secret(t, cfg.Secret)
	cfg.Leeway, cfg.RefreshReuse, cfg.SessionInactivity = 0, 0, 0
	cfg.SessionLifetime = cfg.RefreshTTL
	for _, f := range configure {
		f(&cfg)
	}
	e.app = openApp(t, cfg, app.Deps{
		Log: logcheck.New(t), Hasher: e.hasher,
		Seed: func(ctx context.Context, db *store.DB) error {
			for _, r := range warehouse.Roles {
				if err := e.createUser(ctx, db, string(r), []string{string(r)}); err != nil {
					return err
				}
			}
			return e.createUser(ctx, db, "nobody", []string{})
		},
	})
	e.db, e.srv, e.state = e.app.DB(), e.app.Server(), e.app.State()
	for _, r := range append([]string{"nobody"}, rolesStrings()...) {
		e.tokens[r] = e.login(r)
	}
	return e
}

func rolesStrings() []string {
	var out []string
	for _, r := range warehouse.Roles {
		out = append(out, string(r))
	}
	return out
}

func (e *domainEnv) createUser(ctx context.Context, db *store.DB, name string, roles []string) error {
	logcheck.Secret(e.t, name+"-password")
	h, err := e.hasher.Hash(ctx, name+"-password")
	if err != nil {
		return err
	}
	return db.CreateUser(ctx, &warehouse.User{Username: name, PasswordHash: h, Roles: roles, Active: true, CreatedBy: "test"})
}

func (e *domainEnv) login(name string) string {
	e.t.Helper()
	r := e.do("POST", "/login", "", map[string]string{"username": name, "password": name + "-password"})
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", name, r.status, r.body)
	}
	return r.json()["access_token"].(string)
}

// domainResp is a recorded response.
type domainResp struct {
	t      testing.TB
	status int
	header http.Header
	body   []byte
}

func (r *domainResp) json() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		r.t.Fatalf("not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

func (r *domainResp) items() []any {
	r.t.Helper()
	items, ok := r.json()["items"].([]any)
	if !ok {
		r.t.Fatalf("no items in %s", r.body)
	}
	return items
}

// do sends a request through the real router. body is JSON-encoded unless
// it is a string (sent as is). hdr is name, value pairs.
func (e *domainEnv) do(method, path, token string, body any, hdr ...string) *domainResp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := serve(e.t, e.srv, req)
	return &domainResp{t: e.t, status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// must fails the test unless r has status want.
func (r *domainResp) must(want int) *domainResp {
	r.t.Helper()
	if r.status != want {
		r.t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

// id returns the "id" of a JSON object response.
func (r *domainResp) id() int64 {
	r.t.Helper()
	return int64(r.json()["id"].(float64))
}

var domainKeySeq = make(chan int, 1)

func init() { domainKeySeq <- 0 }

// newKey returns a fresh Idempotency-Key.
func newKey() string {
	n := <-domainKeySeq
	domainKeySeq <- n + 1
	return fmt.Sprintf("key-%d-%s", n, rand.Text())
}

// domainFixture is a small warehouse: WH1 (structural) with bins A and B,
// and items WID (ea, 0 decimals) and FLOUR (kg, 3 decimals), LOT (lot-tracked).
type domainFixture struct {
	wh, a, b          int64
	wid, flour, lotIt int64
}

func (e *domainEnv) fixture() domainFixture {
	e.t.Helper()
	m := e.tokens["manager"]
	var f domainFixture
	f.wh = e.do("POST", "/api/v1/locations", m, map[string]any{"code": "WH1", "name": "Main warehouse", "structural": true}).must(201).id()
	f.a = e.do("POST", "/api/v1/locations", m, map[string]any{"code": "A", "name": "Bin A", "parent_id": f.wh}).must(201).id()
	f.b = e.do("POST", "/api/v1/locations", m, map[string]any{"code": "B", "name": "Bin B", "parent_id": f.wh}).must(201).id()
	f.wid = e.do("POST", "/api/v1/items", m, map[string]any{"sku": "WID", "name": "Widget", "uom": "ea", "reorder_point": 5}).must(201).id()
	f.flour = e.do("POST", "/api/v1/items", m, map[string]any{"sku": "FLOUR", "name": "Flour", "uom": "kg", "qty_precision": 3, "barcode": "4006381333931"}).must(201).id()
	f.lotIt = e.do("POST", "/api/v1/items", m, map[string]any{"sku": "MILK", "name": "Milk", "uom": "l", "lot_tracked": true}).must(201).id()
	return f
}

// move posts a movement with a fresh key as clerk (manager for adjustments).
func (e *domainEnv) move(body map[string]any) *domainResp {
	tok := e.tokens["clerk"]
	if body["type"] == "adjustment" {
		tok = e.tokens["manager"]
	}
	return e.do("POST", "/api/v1/movements", tok, body, "Idempotency-Key", newKey())
}

package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/app"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// env is a server on a real database (a SQLite file in a temp dir, or a
// fresh PostgreSQL database), opened as `warehouse serve` opens it (an
// app.App; see harness_test.go).
type env struct {
	t     *testing.T
	clock *fakeClock
	// url is the database; a second env on the same url is a second
	// instance of the server.
	url    string
	db     *store.DB
	keys   *auth.Keyring
	secret []byte
	state  *authstate.State
	hasher *auth.Hasher
	srv    *httpapi.Server
	cfg    httpapi.Config
	// algorithm signs tokens (default HS256).
	algorithm string
	// configure, if set before open, adjusts the server's settings.
	configure func(*httpapi.Config)
	// seed, if set before open, creates the users of a new database.
	seed func(context.Context, *store.DB) error
	app  *app.App
}

// fakeClock is the real time plus an offset the test can move forward.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// newEnv starts a server on a new database on engine (see pgtest.Engines)
// with the users joevu (admin), vera (viewer) and gone (disabled).
func newEnv(t *testing.T, engine string, configure ...func(*httpapi.Config)) *env {
	t.Helper()
	e := &env{t: t, url: pgtest.URL(t, engine), hasher: auth.NewHasher(auth.TestParams(), 0), clock: &fakeClock{}}
	if len(configure) > 0 {
		e.configure = configure[0]
	}
	logcheck.Secret(t, "glinteco", "viewer-pass", "gone-pass")
	e.seed = func(ctx context.Context, db *store.DB) error {
		for _, u := range []struct {
			name, pw string
			roles    []string
			active   bool
		}{
			{"joevu", "glinteco", []string{"admin"}, true},
			{"vera", "viewer-pass", []string{"viewer"}, true},
			{"gone", "gone-pass", []string{"clerk"}, false},
		} {
			h, err := e.hasher.Hash(ctx, u.pw)
			if err != nil {
				return err
			}
			if err := db.CreateUser(ctx, &warehouse.User{Username: u.name, PasswordHash: h, Roles: u.roles, Active: u.active}); err != nil {
				return err
			}
		}
		return nil
	}
	e.open()
	return e
}

// open (re)opens the database and builds a fresh server on it, as a
// process restart does: nothing survives but the database file. The
// server is an App, as `warehouse serve` builds it.
func (e *env) open() {
	t := e.t
	cfg := testSettings(e.url)
	cfg.DataDir = t.TempDir() // a first start's file (the admin password) stays the test's
	if e.algorithm != "" {
		cfg.Algorithm = e.algorithm
	}
	seed := e.seed
	e.seed = nil // a restart finds the users in the database
	e.app = openApp(t, cfg, app.Deps{
		Log: logcheck.New(t), Now: e.clock.now, Hasher: e.hasher, Seed: seed,
		HTTP: func(c *httpapi.Config) {
			if e.configure != nil {
				e.configure(c)
			}
			e.cfg = *c
		},
	})
	e.db, e.keys, e.secret, e.state, e.srv = e.app.DB(), e.app.Keys(), e.app.Keys().Current().Secret, e.app.State(), e.app.Server()
	logcheck.Secret(t, string(e.secret))
}

// restart stops the server (its loops, then its database) and opens
// everything again.
func (e *env) restart() {
	if err := e.app.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.open()
}

type resp struct {
	*httptest.ResponseRecorder
	body map[string]any
}

func (r resp) str(k string) string { s, _ := r.body[k].(string); return s }

// do sends a request through the real router. headers are "Name: value".
func (e *env) do(method, path, body string, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimPrefix(v, " "))
	}
	w := serve(e.t, e.srv, req)
	r := resp{ResponseRecorder: w}
	if strings.Contains(w.Header().Get("Content-Type"), "json") && method != http.MethodHead && !strings.HasPrefix(w.Body.String(), "[") {
		if err := json.Unmarshal(w.Body.Bytes(), &r.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, w.Body.String())
		}
	}
	return r
}

func bearer(tok string) string { return "Authorization: Bearer " + tok }

// login returns an access and a refresh token for the user.
func (e *env) login(user, pw string) (access, refresh string) {
	e.t.Helper()
	r := e.do("POST", "/login", `{"username":"`+user+`","password":"`+pw+`"}`)
	if r.Code != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", user, r.Code, r.Body)
	}
	return r.str("access_token"), r.str("refresh_token")
}

// craft signs a hand-made token: header and payload are raw JSON, so any
// malformation can be expressed. alg picks the HMAC ("" = HS256).
func craft(secret []byte, alg, header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	input := enc([]byte(header)) + "." + enc([]byte(payload))
	var h func() hash.Hash = sha256.New
	switch alg {
	case "HS512":
		h = sha512.New
	case "HS384":
		h = sha512.New384
	}
	m := hmac.New(h, secret)
	m.Write([]byte(input))
	return input + "." + enc(m.Sum(nil))
}

// claimsJSON is a valid access-token payload with fields overridden; a
// value of nil removes the field.
func claimsJSON(t *testing.T, over map[string]any) string {
	now := time.Now().Unix()
	c := map[string]any{"sub": "joevu", "iat": now, "nbf": now, "jti": "5b4d7c3e-0d7a-4a53-9a43-6a2b1c9d8e7f", "exp": now + 900, "type": "access", "fresh": false}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// decodeSegment returns a token segment's JSON.
func decodeSegment(t *testing.T, tok string, i int) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newHasherWithMemory(kib uint32) *auth.Hasher {
	p := auth.TestParams()
	p.Memory = kib
	return auth.NewHasher(p, 0)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// dbQueryRow reads one row straight from the database, for checks the API
// does not expose.
func (e *env) dbQueryRow(query string, dest ...any) error {
	driver, dsn := "pgx", e.url
	if path, ok := strings.CutPrefix(e.url, "sqlite:"); ok {
		driver, dsn = "sqlite", "file:"+path+"?_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.QueryRow(query).Scan(dest...)
}

// seedUser creates a user directly in the database and refreshes the state.
func seedUser(t *testing.T, e *env, name, pw string, roles ...string) {
	t.Helper()
	ctx := context.Background()
	logcheck.Secret(t, pw)
	h, err := e.hasher.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.CreateUser(ctx, &warehouse.User{Username: name, PasswordHash: h, Roles: roles, Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.state.Poll(ctx); err != nil {
		t.Fatal(err)
	}
}

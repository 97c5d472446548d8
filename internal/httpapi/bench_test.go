package httpapi_test

// Benchmarks of the hot paths through the real router (no network): a
// GET /user with a valid token, GET /welcome, and a 401 problem. They use
// their own small setup (an App, see harness_test.go), not env. Numbers
// are never asserted; CI runs them at -benchtime=100x so they keep working.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/app"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/store"
)

// hot is a server on a temp SQLite database with the user joevu, for the
// benchmarks and the fast-path tests.
type hot struct {
	srv   *httpapi.Server
	keys  *auth.Keyring
	state *authstate.State
}

// token signs a token of typ for sub in a session of its own.
func (h hot) token(tb testing.TB, sub, typ string) (string, auth.Claims) {
	tb.Helper()
	c := auth.NewClaims(sub, typ, time.Now(), 15*time.Minute)
	c.Roles, c.SessionID = []string{"admin"}, "bench-session"
	tok, err := h.keys.Sign(c)
	if err != nil {
		tb.Fatal(err)
	}
	return tok, c
}

// benchServer returns a hot server and an access token of joevu.
func benchServer(b *testing.B) (*httpapi.Server, string) {
	h := newHot(b)
	tok, _ := h.token(b, "joevu", auth.TypeAccess)
	return h.srv, tok
}

func newHot(b testing.TB, configure ...func(*app.Config)) hot {
	b.Helper()
	cfg := testSettings("sqlite:" + filepath.Join(b.TempDir(), "warehouse.db"))
	// The settings these benchmarks always had: no refresh grace, no
	// inactivity timeout.
	cfg.RefreshReuse, cfg.SessionInactivity, cfg.Version = 0, 0, "bench"
	for _, c := range configure {
		c(&cfg)
	}
	hasher := auth.NewHasher(auth.TestParams(), 0)
	a := openApp(b, cfg, app.Deps{
		Log: logcheck.New(b), Hasher: hasher,
		Seed: func(ctx context.Context, db *store.DB) error {
			h, err := hasher.Hash(ctx, "glinteco")
			if err != nil {
				return err
			}
			return db.CreateUser(ctx, &warehouse.User{Username: "joevu", PasswordHash: h, Roles: []string{"admin"}, Active: true})
		},
	})
	return hot{srv: a.Server(), keys: a.Keys(), state: a.State()}
}

// discard is a ResponseWriter that keeps nothing, so the benchmark
// measures the server rather than a recorder.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.status = code }

func benchRoute(b *testing.B, srv *httpapi.Server, path, authorization string, want int) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	w := &discard{h: http.Header{}}
	srv.ServeHTTP(w, req)
	if w.status != want && !(w.status == 0 && want == http.StatusOK) {
		b.Fatalf("GET %s: status %d, want %d", path, w.status, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		srv.ServeHTTP(w, req)
	}
}

// BenchmarkGetUser is a full GET /user with a valid (repeated) token:
// edge middleware, routing, auth middleware with the verified-token cache
// and the in-memory revocation, session and user checks, and the answer.
func BenchmarkGetUser(b *testing.B) {
	srv, tok := benchServer(b)
	benchRoute(b, srv, "/user", "Bearer "+tok, http.StatusOK)
}

// BenchmarkGetUserMetrics is BenchmarkGetUser with --metrics-addr: the
// request counted by route, method and status, and its duration observed.
// (BenchmarkGetUser has metrics off and the access log on, at info into a
// discarding text handler; BenchmarkGetUserQuiet has neither.)
func BenchmarkGetUserMetrics(b *testing.B) {
	h := newHot(b, func(c *app.Config) { c.MetricsAddr = "127.0.0.1:0" })
	tok, _ := h.token(b, "joevu", auth.TypeAccess)
	benchRoute(b, h.srv, "/user", "Bearer "+tok, http.StatusOK)
}

// BenchmarkGetUserQuiet is BenchmarkGetUser with --access-log off and no
// metrics: the edge as it was before either.
func BenchmarkGetUserQuiet(b *testing.B) {
	h := newHot(b, func(c *app.Config) { c.AccessLog = httpapi.AccessLogOff })
	tok, _ := h.token(b, "joevu", auth.TypeAccess)
	benchRoute(b, h.srv, "/user", "Bearer "+tok, http.StatusOK)
}

// BenchmarkGetUserIssuer is BenchmarkGetUser with the token a default
// server mints: its iss is the URL of the request (compared with the
// request's origin on every request).
func BenchmarkGetUserIssuer(b *testing.B) {
	h := newHot(b)
	c := auth.NewClaims("joevu", auth.TypeAccess, time.Now(), 15*time.Minute)
	c.Roles, c.SessionID, c.Issuer = []string{"admin"}, "bench-session", "http://example.com"
	tok, err := h.keys.Sign(c)
	if err != nil {
		b.Fatal(err)
	}
	benchRoute(b, h.srv, "/user", "Bearer "+tok, http.StatusOK)
}

// BenchmarkGetWelcome is the same without auth.
func BenchmarkGetWelcome(b *testing.B) {
	srv, _ := benchServer(b)
	benchRoute(b, srv, "/welcome", "", http.StatusOK)
}

// BenchmarkUnauthorizedProblem renders the 401 problem+json of a token
// with a bad signature (the error renderer, on the path an attacker drives).
func BenchmarkUnauthorizedProblem(b *testing.B) {
	srv, tok := benchServer(b)
	forged := tok[:len(tok)-4] + "AAAA"
	benchRoute(b, srv, "/user", "Bearer "+forged, http.StatusUnauthorized)
}

// BenchmarkMissingTokenProblem renders the 401 of a request without a token.
func BenchmarkMissingTokenProblem(b *testing.B) {
	srv, _ := benchServer(b)
	benchRoute(b, srv, "/user", "", http.StatusUnauthorized)
}

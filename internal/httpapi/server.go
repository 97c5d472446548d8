// Package httpapi is the HTTP edge of warehouse: the tutorial's routes, the
// OAuth2 token endpoint, the docs, and the middleware around them (request
// ids, logs, panics, JSON 404/405). Handlers turn requests into calls on the
// store and auth packages, and every error into one problem+json shape.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"go.opentelemetry.io/otel/trace"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/events"
	"github.com/warehouse-api/warehouse/internal/importer"
	"github.com/warehouse-api/warehouse/internal/inventory"
	"github.com/warehouse-api/warehouse/internal/orders"
	"github.com/warehouse-api/warehouse/internal/receiving"
	"github.com/warehouse-api/warehouse/internal/session"
)

// Config is what the HTTP layer needs to know of the settings.
type Config struct {
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	Leeway     time.Duration
	Issuer     string
	Audience   string
	Version    string

	// RefreshReuseInterval is the grace in which a just-rotated refresh
	// token still gets the same new pair (0: none).
	RefreshReuseInterval time.Duration
	// SessionLifetime ends sessions that old; SessionInactivity ends
	// sessions not refreshed for that long (0: no inactivity timeout).
	SessionLifetime   time.Duration
	SessionInactivity time.Duration

	// Cookie mode (POST /login?cookies=true).
	CookieSecure   bool
	CookieSameSite http.SameSite
	CookieDomain   string

	// ExtraClaims are static custom claims added to every access token.
	ExtraClaims map[string]any
	// PublicURL is the server's external base URL for discovery, and the
	// issuer when Issuer is empty (default: the URL each request came to;
	// see issuer.go).
	PublicURL string
	// LoginThrottle locks out usernames after repeated failed logins.
	LoginThrottle LoginThrottle
	// LoginRatePerIP and LoginBurstPerIP bound password logins per client
	// address on this instance (0: no limit).
	LoginRatePerIP  float64
	LoginBurstPerIP int
	// TrustedProxies are the peers whose X-Forwarded-For/-Proto/-Host are
	// believed (see origin); none by default.
	TrustedProxies []netip.Prefix
	// ImportMaxBytes bounds an uploaded import file (0: 64 MiB).
	ImportMaxBytes int64
	// HSTS sends Strict-Transport-Security on every answer: the server
	// is served over TLS (--tls-cert).
	HSTS bool
	// CORSOrigins are the exact origins browsers may call the API from
	// with credentials (ParseCORSOrigins); none: CORS off.
	CORSOrigins []string
	// AccessLog is the --access-log mode: AccessLogOn (""), AccessLogOff
	// or AccessLogErrors.
	AccessLog string
}

// Server serves the API.
type Server struct {
	cfg Config
	// ipLimit bounds password logins per client address (nil: no limit).
	ipLimit *ipLimiter
	db      Store
	// sessions is the token lifecycle (login, refresh, revoke, logout,
	// password and user changes); handlers for those routes call it.
	sessions *session.Service
	keys     *auth.Keyring
	state    *authstate.State
	// inventory posts and reverses movements: handlers call it, not db.
	inventory *inventory.Service
	// orders runs the outbound order use cases (api_orders.go).
	orders *orders.Service
	// imports runs bulk imports (POST /api/v1/imports/{kind}).
	imports *importer.Service
	// receiving runs purchase orders, receipts and lots.
	receiving *receiving.Service
	// feed serves GET /api/v1/events; webhooks /api/v1/webhooks.
	feed     *events.Feed
	webhooks *events.Webhooks
	// console is the web console's pages (nil: none, GET / is the static
	// home page).
	console Console
	// tokens answers repeated tokens from memory (see auth.VerifyCache);
	// revocation, sessions and users are still checked on every request.
	tokens *auth.VerifyCache
	// verifyOpt are the keyring's options for our tokens (verifyOptions).
	verifyOpt auth.VerifyOptions
	fixed     fixedHeaders // shared response header values
	log       *slog.Logger
	now       func() time.Time

	api     huma.API
	handler http.Handler
	// adapter is kept for the check that every fast path found its
	// operation, and for the tests' hook on Huma's handler.
	adapter *fastAdapter
	// metrics counts requests and edge-refused logins (nopMetrics without).
	metrics Metrics
	// patterns are every mux pattern registered (plain routes, and the
	// adapter's), for the edge's per-route metrics and log (observe.go).
	patterns []string
}

// Deps are the parts the server is wired from.
type Deps struct {
	DB    Store
	Keys  *auth.Keyring
	State *authstate.State
	// Sessions is the token lifecycle service, built on the same store,
	// keys, state and clock (see SessionConfig).
	Sessions *session.Service
	// Inventory posts and reverses movements.
	Inventory *inventory.Service
	// Orders runs outbound orders, allocation and picking.
	Orders *orders.Service
	// Imports runs bulk imports of CSV files.
	Imports *importer.Service
	// Receiving runs purchase orders, receipts and lots.
	Receiving *receiving.Service
	// Events streams the event log; Webhooks manages the webhooks.
	Events   *events.Feed
	Webhooks *events.Webhooks
	// Console, if set, builds the web console on the server's cookie
	// mode; its pages are lines of the route table.
	Console func(*CookieAuth) Console
	Log     *slog.Logger
	Now     func() time.Time // nil: time.Now
	// Metrics, if set, is told of every request (observe.go).
	Metrics Metrics
	// Tracer, if set and not a no-op, traces every request (trace.go).
	Tracer trace.TracerProvider
}

// SessionConfig is the session service's part of cfg, with the same
// defaults, so that a server and its service agree on TTLs and the
// verification of our own tokens.
func SessionConfig(cfg Config) session.Config {
	return session.Config{AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, RefreshReuseInterval: cfg.RefreshReuseInterval,
		SessionLifetime: cfg.SessionLifetime, SessionInactivity: cfg.SessionInactivity,
		Audience: cfg.Audience, ExtraClaims: cfg.ExtraClaims, Throttle: cfg.LoginThrottle,
		Verify: verifyOptions(cfg)}
}

// New builds the server and its routes.
func New(cfg Config, d Deps) *Server {
	useProblems()
	if d.Now == nil {
		d.Now = time.Now
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = session.DefaultAccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = session.DefaultRefreshTTL
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = cfg.RefreshTTL
	}
	if cfg.Version == "" {
		cfg.Version = "dev" // the document's info.version is required
	}
	if cfg.CookieSameSite == 0 {
		cfg.CookieSameSite = http.SameSiteLaxMode
	}
	// One spelling of the base URL, for discovery and for the issuer.
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, ipLimit: newIPLimiter(cfg.LoginRatePerIP, cfg.LoginBurstPerIP), db: d.DB, keys: d.Keys, state: d.State, sessions: d.Sessions, inventory: d.Inventory, orders: d.Orders, imports: d.Imports, receiving: d.Receiving, feed: d.Events, webhooks: d.Webhooks, log: d.Log, now: d.Now,
		tokens: auth.NewVerifyCache(d.Keys, 0), fixed: newFixedHeaders(cfg.HSTS)}
	s.verifyOpt = verifyOptions(cfg)
	if d.Console != nil {
		s.console = d.Console(&CookieAuth{s: s})
	}

	mux := http.NewServeMux()
	hc := huma.DefaultConfig("Warehouse Management API", cfg.Version)
	hc.Info.Description = "The warehouse server: the FastAPI JWT tutorial's endpoints, persisted and hardened. " +
		"Log in at POST /login (or Authorize with the OAuth2 password flow), then call protected routes with `Authorization: Bearer <access_token>`."
	hc.DocsPath = ""     // our own offline Swagger UI is mounted at /docs
	hc.SchemasPath = ""  // schemas are inline in /openapi.json
	hc.CreateHooks = nil // no $schema links in response bodies: keep the tutorial's shapes
	hc.Transformers = append(hc.Transformers, s.logProblems)
	hc.OpenAPIPath = "/openapi"
	hc.Components.SecuritySchemes = securitySchemes(cfg.ExtraClaims)
	// The repository grants no license yet; the document says so rather
	// than invent one.
	hc.Info.License = &huma.License{Name: "Proprietary: no license granted", Identifier: "LicenseRef-Proprietary"}
	hc.Info.Contact = &huma.Contact{Name: "warehouse maintainers"}
	hc.Servers = []*huma.Server{{URL: "/", Description: "This server"}}
	if cfg.PublicURL != "" {
		hc.Servers = []*huma.Server{{URL: cfg.PublicURL + "/", Description: "This server"}}
	}
	// The fast paths are filled in by the route table, next to their routes.
	s.adapter = &fastAdapter{Adapter: humago.NewAdapter(mux, ""), mux: mux, fast: map[string]func(http.Handler) http.Handler{}}
	s.api = huma.NewAPI(hc, s.adapter)
	// Quantities are int64 thousandths in Go but decimal numbers on the wire;
	// registered before any schema that holds one
	// (the Problem's shortages) is generated.
	s.api.OpenAPI().Components.Schemas.RegisterTypeAlias(reflect.TypeFor[warehouse.Qty](), reflect.TypeFor[qtyNumber]())
	s.api.OpenAPI().Components.Schemas.RegisterTypeAlias(reflect.TypeFor[BodyQty](), reflect.TypeFor[qtyNumber]())
	s.api.UseMiddleware(s.authMiddleware, checkText)
	s.registerRoutes(mux) // every route: routeTable in routes.go
	s.completeDocument()
	// Each fast path is set on its route's line; one whose operation Huma
	// never handed to the adapter would switch itself off without a word.
	// Like Huma's own registration errors, that is a programming error.
	if err := s.adapter.checkFast(); err != nil {
		panic(err)
	}

	s.patterns = append(s.patterns, s.adapter.patterns...)
	obs := newObserver(s.log, cfg.AccessLog, d.Metrics, s.patterns)
	if s.metrics = d.Metrics; s.metrics == nil {
		s.metrics = nopMetrics{}
	}
	s.handler = edge(s.log, obs, newIDs(), s.fixed, newCORS(cfg.CORSOrigins), bodyLimits{body: maxBodyBytes, upload: s.importLimit() + maxBodyBytes}, mux)
	s.handler = traceRequests(d.Tracer, s.handler)
	return s
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// fallback answers what no route matched: 405 with Allow when the path
// exists under another method, else 404, both as JSON like the tutorial.
func (s *Server) fallback(mux *http.ServeMux) http.Handler {
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(context.Background())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", joinComma(allow))
			s.writeError(w, warehouse.Errorf(codeMethodNotAllowed, "Method Not Allowed"))
			return
		}
		s.writeError(w, warehouse.Errorf(warehouse.ENOTFOUND, "Not Found"))
	})
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

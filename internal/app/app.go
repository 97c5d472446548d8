// Package app is one warehouse server: it opens the database, the keys,
// the password hasher and the auth state, builds the HTTP server on them,
// runs the background loops, and closes it all again in order. `warehouse
// serve` and the test harnesses start servers only through it (after
// benbjohnson/wtf's cmd/wtfd Main: Open, Run, Close).
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/console"
	"github.com/warehouse-api/warehouse/internal/events"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/importer"
	"github.com/warehouse-api/warehouse/internal/inventory"
	"github.com/warehouse-api/warehouse/internal/keystore"
	"github.com/warehouse-api/warehouse/internal/metrics"
	"github.com/warehouse-api/warehouse/internal/orders"
	"github.com/warehouse-api/warehouse/internal/receiving"
	"github.com/warehouse-api/warehouse/internal/session"
	"github.com/warehouse-api/warehouse/internal/store"
	"github.com/warehouse-api/warehouse/internal/tracing"
)

// Deps are what an App is given rather than configured with: where it
// logs, and the seams tests use.
type Deps struct {
	// Log receives the server's logs (nil: discarded).
	Log *slog.Logger
	// Stderr receives the hash worker processes' own output (nil: discarded).
	Stderr io.Writer
	// Now replaces the clock of the database and the server (tests).
	Now func() time.Time
	// Hasher replaces the password hasher built from the argon2 settings
	// (tests use cheap parameters).
	Hasher *auth.Hasher
	// Seed, if set, runs once the database is migrated and before the
	// first admin is created, which it then is not if Seed created users
	// (tests bring their own).
	Seed func(ctx context.Context, db *store.DB) error
	// HTTP, if set, adjusts the HTTP settings derived from the Config,
	// for settings no flag expresses (tests).
	HTTP func(*httpapi.Config)
	// Tracer, if set, replaces the tracer provider built from the OTEL_*
	// environment (tests pass one with an in-memory exporter); the App
	// does not shut it down.
	Tracer trace.TracerProvider
	// WebhookSender, if set, replaces the webhook sender's settings
	// (tests shorten its retries and timeouts).
	WebhookSender *events.SenderConfig
}

// App is a server opened on its database. Open it, Run it, Close it.
type App struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener // nil without Addr: the caller serves Server itself
	pprof  *http.Server
	db     *store.DB
	keys   *auth.Keyring
	state  *authstate.State
	hasher *auth.Hasher
	// sessions is the token lifecycle service every surface calls.
	sessions *session.Service
	// imports is the bulk import service, for every surface that imports.
	imports *importer.Service
	// feed serves the event streams; Close (and the HTTP shutdown) ends them.
	feed *events.Feed
	srv  *httpapi.Server
	hs   *http.Server
	// certs is the TLS certificate (nil without --tls-cert).
	certs *certReloader
	// metrics is the Prometheus registry, served on metricsLn by
	// metricsSrv (all nil without --metrics-addr; metrics.go).
	metrics    *metrics.Metrics
	metricsLn  net.Listener
	metricsSrv *http.Server
	// tracing is the tracer provider built from the environment, shut
	// down (flushed) by Close; tracer is what the server traces with (nil:
	// tracing is off).
	tracing *tracing.Provider
	tracer  trace.TracerProvider
	// readTimeout bounds the reading of a request (0: 30 s); the tests
	// shorten it.
	readTimeout time.Duration

	stopHasher func()
	// stop ends the background loops; loops counts those still running.
	stop  context.CancelFunc
	loops sync.WaitGroup

	mu sync.Mutex
	// started and stopped name the loops, and closed says the database
	// has been closed: what the test of Close looks at.
	started, stopped []string
	closed           bool

	closeOnce sync.Once
	closeErr  error
}

// Open validates cfg and opens a server: the listeners, the database
// (migrated), the password hasher, the signing keys, the first users, the
// auth state, the background loops and the HTTP server. On error it
// closes what it opened.
func Open(ctx context.Context, cfg Config, deps Deps) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: deps.Log, stopHasher: func() {}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if deps.Stderr == nil {
		deps.Stderr = io.Discard
	}
	if err := a.openTracing(ctx, deps.Tracer); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if cfg.KeyPublishDelay < 5*time.Minute {
		a.log.Warn("--key-publish-delay is shorter than the JWKS cache time (5m): after a rotation, services that cached the key set may refuse new tokens until they fetch it again", "key_publish_delay", cfg.KeyPublishDelay.String())
	}
	keyPolicy := keystore.Policy{PublishDelay: cfg.KeyPublishDelay}
	hc, err := cfg.httpConfig()
	if err != nil {
		return nil, err
	}

	// The listeners first: a start that cannot bind must fail before it
	// creates anything (the first admin's password, printed once, would
	// be lost with it). Connections that arrive meanwhile wait in the
	// backlog until the server is ready.
	if cfg.Addr != "" {
		if a.ln, err = Listen("--addr", cfg.Addr); err != nil {
			return nil, err
		}
	}
	if cfg.PprofAddr != "" {
		if err := a.servePprof(cfg.PprofAddr); err != nil {
			return nil, err
		}
	}
	if cfg.MetricsAddr != "" {
		if err := a.listenMetrics(cfg.MetricsAddr); err != nil {
			return nil, err
		}
	}

	if cfg.TLSCert != "" {
		if a.certs, err = newCertReloader(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
	}

	opt := cfg.StoreOptions()
	opt.Now = deps.Now
	opt.Logger = a.log
	opt.Metrics = a.storeMetrics()
	if a.db, err = store.Open(ctx, cfg.DatabaseURL, cfg.DataDir, opt); err != nil {
		return nil, err
	}
	if a.hasher = deps.Hasher; a.hasher == nil {
		if a.hasher, a.stopHasher, err = serveHasher(ctx, &cfg, deps.Stderr, a.log); err != nil {
			a.stopHasher = func() {}
			return nil, err
		}
	}
	if a.keys, err = signingKeys(ctx, a.db, &cfg, keyPolicy); err != nil {
		return nil, err
	}
	if deps.Seed != nil {
		if err := deps.Seed(ctx, a.db); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	if err := bootstrapUsers(ctx, a.db, a.hasher, &cfg, a.log); err != nil {
		return nil, err
	}
	a.state = authstate.New(a.db, a.log)
	if err := a.state.Load(ctx); err != nil {
		return nil, err
	}
	if cfg.Secret == "" && cfg.SecretFile == "" {
		// A rotation on any instance (warehouse keys rotate) reaches this
		// one; the follower also switches when a published key's delay ends.
		follower := keystore.NewFollower(a.db, cfg.Algorithm, keyPolicy, a.keys)
		if err := follower.Reload(ctx); err != nil {
			return nil, err
		}
		a.state.OnKeyChange(func(ctx context.Context) error {
			if err := follower.Reload(ctx); err != nil {
				return err
			}
			a.log.Info("signing keys reloaded", "kid", a.keys.Current().ID)
			return nil
		})
		a.goLoop(bg, "key follower", func(ctx context.Context) { follower.Run(ctx, a.log) })
	}
	a.goLoop(bg, "auth state sync", func(ctx context.Context) { a.state.Run(ctx, cfg.SyncInterval) })
	a.goLoop(bg, "purge", a.purgeLoop)
	if a.db.IsPostgres() {
		a.followAuthEvents(bg)
	}

	if deps.HTTP != nil {
		deps.HTTP(&hc)
	}
	a.imports = importer.New(a.db)
	a.sessions = session.New(httpapi.SessionConfig(hc), session.Deps{Store: a.db, Keys: a.keys, Hasher: a.hasher, State: a.state, Log: a.log, Now: deps.Now, Metrics: a.sessionMetrics()})
	inv := inventory.New(a.db, a.inventoryOptions()...)
	ords := orders.New(a.db)
	a.goLoop(bg, "order expiry", func(ctx context.Context) { a.expiryLoop(ctx, ords) })
	recv := receiving.New(a.db)
	a.startEvents(bg, deps)
	// The console is built by the server, which hands it its cookie mode
	// (CookieAuth): the console's sign-in, CSRF and refresh are the
	// API's, and its reads are the store's through console.Reader.
	mkConsole := func(ca *httpapi.CookieAuth) httpapi.Console {
		return console.New(console.Deps{Auth: ca, Sessions: a.sessions, Inventory: inv, Imports: a.imports, Orders: ords, Receiving: recv, Read: a.db, Log: a.log, Version: cfg.Version})
	}
	a.srv = httpapi.New(hc, httpapi.Deps{DB: a.db, Keys: a.keys, State: a.state, Sessions: a.sessions, Inventory: inv, Orders: ords, Imports: a.imports, Receiving: recv, Events: a.feed, Webhooks: events.NewWebhooks(a.db), Console: mkConsole, Log: a.log, Now: deps.Now, Metrics: a.httpMetrics(), Tracer: a.tracer})
	if a.metrics != nil {
		a.serveMetrics()
	}
	return a, nil
}

// Run serves HTTP on the listener until ctx ends, then lets the requests
// in flight finish (--shutdown-timeout). Close the App after it returns.
func (a *App) Run(ctx context.Context) error {
	if a.ln == nil {
		return errors.New("run: no listen address (--addr)")
	}
	const maxHeaderBytes = 64 << 10
	a.hs = &http.Server{
		Handler:           a.srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cmp.Or(a.readTimeout, 30*time.Second),
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	// Event streams never go idle by themselves: the shutdown ends them.
	a.hs.RegisterOnShutdown(a.feed.Close)
	// Every request head is inspected for ambiguous framing before
	// net/http reads it (httpapi.FramingListener); net/http allows 4 KiB
	// over MaxHeaderBytes, so a head the inspector gives up on is one
	// net/http refuses too.
	ln := httpapi.FramingListener(a.ln, maxHeaderBytes+8<<10)
	scheme := "http"
	serve := func() error { return a.hs.Serve(ln) }
	if a.certs != nil {
		// Under TLS the inspector reads the decrypted stream: the listener
		// does the handshakes (within the header timeout, as net/http
		// would) and hands HTTP/2 connections, which have no such
		// framing, to net/http as they are. hs.TLSConfig stays nil so
		// that Serve sets HTTP/2 up for them.
		scheme = "https"
		tc := a.certs.tlsConfig()
		tc.NextProtos = []string{"h2", "http/1.1"}
		ln = httpapi.TLSFramingListener(a.ln, tc, maxHeaderBytes+8<<10, a.hs.ReadHeaderTimeout, a.log)
	}
	a.log.Info("warehouse listening", "addr", a.ln.Addr().String(), "database", a.db.Path, "version", a.cfg.Version,
		"docs", scheme+"://"+displayAddr(a.ln.Addr())+"/docs", "tls", a.certs != nil)
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := a.hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close stops the background loops and waits for them, then stops the
// hash workers and closes the database and the listeners: no loop ever
// meets a closed database. Call it after Run has returned (requests are
// served until then); it is safe to call more than once.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		// Metrics first: a scrape reads the database and the hasher.
		if a.metricsSrv != nil {
			_ = a.metricsSrv.Close()
		} else if a.metricsLn != nil {
			_ = a.metricsLn.Close() // Open failed before serving it
		}
		if a.feed != nil {
			a.feed.Close()
		}
		a.stop()
		a.loops.Wait()
		a.stopHasher()
		var errs []error
		if a.db != nil {
			a.mu.Lock()
			a.closed = true
			a.mu.Unlock()
			errs = append(errs, a.db.Close())
		}
		if a.ln != nil {
			_ = a.ln.Close() // already closed if Run served it
		}
		if a.pprof != nil {
			_ = a.pprof.Close()
		}
		a.closeTracing()
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

// Server is the HTTP handler of the API.
func (a *App) Server() *httpapi.Server { return a.srv }

// DB is the database.
func (a *App) DB() *store.DB { return a.db }

// Imports is the bulk import service (the JSON API's and the console's).
func (a *App) Imports() *importer.Service { return a.imports }

// State is the in-memory auth state.
func (a *App) State() *authstate.State { return a.state }

// Keys is the signing keyring.
func (a *App) Keys() *auth.Keyring { return a.keys }

// Hasher is the password hasher.
func (a *App) Hasher() *auth.Hasher { return a.hasher }

// Addr is the address the server listens on (nil without --addr).
func (a *App) Addr() net.Addr {
	if a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}

// goLoop runs fn in the background until Close; Close waits for it.
func (a *App) goLoop(ctx context.Context, name string, fn func(context.Context)) {
	a.mu.Lock()
	a.started = append(a.started, name)
	a.mu.Unlock()
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		fn(ctx)
		a.mu.Lock()
		if a.closed {
			// Close waits for the loops before it closes the database;
			// a loop that outlived it would be a bug in Close.
			name += " (after the database closed)"
		}
		a.stopped = append(a.stopped, name)
		a.mu.Unlock()
	}()
}

// purgeLoop deletes expired revocations, refresh tokens, old events and
// idempotency keys hourly.
func (a *App) purgeLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := a.db.Purge(ctx, 7*24*time.Hour)
			if err == nil {
				// Idempotency keys are kept at least 24 h (domain-api.md).
				var m int64
				m, err = a.db.PurgeIdempotencyKeys(ctx, 48*time.Hour)
				n += m
			}
			if err != nil && ctx.Err() == nil {
				a.log.Warn("purge failed; will retry", "err", err)
			} else if n > 0 {
				a.log.Info("purged expired auth records", "rows", n)
			}
		}
	}
}

// expiryLoop cancels the orders whose hold expired, every minute, so that
// their reservations are released: a reservation never outlives its
// order's hold by more than that.
func (a *App) expiryLoop(ctx context.Context, ords *orders.Service) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := ords.Expire(ctx)
			if err != nil && ctx.Err() == nil {
				a.log.Warn("order expiry failed; will retry", "err", err)
			} else if n > 0 {
				a.log.Info("cancelled expired orders", "orders", n)
			}
		}
	}
}

// followAuthEvents applies other instances' auth events as soon as they
// commit, on PostgreSQL (LISTEN/NOTIFY), so that a revocation made on one
// instance is enforced by all within milliseconds. Notifications only
// say "look": the events themselves are read from auth_events by Poll, and
// the periodic poll (--sync-interval) still runs, so an event is never
// lost to a broken listening connection, only delayed. A burst of
// notifications is coalesced into one poll at a time.
func (a *App) followAuthEvents(ctx context.Context) {
	kick := make(chan struct{}, 1)
	a.goLoop(ctx, "listen", func(ctx context.Context) {
		a.db.ListenAuthEvents(ctx, a.log, func() {
			select {
			case kick <- struct{}{}:
			default: // a poll is already due; it will see this event too
			}
		})
	})
	a.goLoop(ctx, "auth events", func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				if err := a.state.Poll(ctx); err != nil && ctx.Err() == nil {
					a.log.Warn("auth state poll failed; will retry", "err", err)
				}
			}
		}
	})
}

// Listen binds addr for flagName, saying which setting to change when it
// cannot: the port is taken, or not ours to take.
func Listen(flagName, addr string) (net.Listener, error) {
	if err := CheckAddr(flagName, addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	env := EnvName(strings.TrimPrefix(flagName, "--"))
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("cannot listen on %s %s (%s): address already in use: another process has that port; stop it, or choose another port, e.g. %s :8001", flagName, addr, env, flagName)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("cannot listen on %s %s (%s): permission denied: ports below 1024 need privileges; choose another, e.g. %s :8000", flagName, addr, env, flagName)
	}
	return nil, fmt.Errorf("cannot listen on %s %s (%s): %w", flagName, addr, env, err)
}

// servePprof serves runtime profiles on a loopback address until Close.
func (a *App) servePprof(addr string) error {
	addr, err := httpapi.LoopbackAddr(addr)
	if err != nil {
		return err
	}
	ln, err := Listen("--pprof-addr", addr)
	if err != nil {
		return err
	}
	a.pprof = &http.Server{Handler: httpapi.PprofHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := a.pprof.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Warn("pprof server stopped", "err", err)
		}
	}()
	a.log.Info("serving profiles", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}

func displayAddr(a net.Addr) string {
	s := a.String()
	if strings.HasPrefix(s, "[::]:") {
		return "localhost:" + strings.TrimPrefix(s, "[::]:")
	}
	if strings.HasPrefix(s, "0.0.0.0:") {
		return "localhost:" + strings.TrimPrefix(s, "0.0.0.0:")
	}
	return s
}

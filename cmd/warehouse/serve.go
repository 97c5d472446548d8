package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/inventory"
	"github.com/warehouse-api/warehouse/internal/keystore"
	"github.com/warehouse-api/warehouse/internal/store"
)

func newLogger(w io.Writer, c *config) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be json or text, not %q", c.LogFormat)
}

func hasherFor(c *config, opts ...auth.HasherOption) (*auth.Hasher, error) {
	if c.ArgonMemory < 8 || c.ArgonMemory > 4<<20 || c.ArgonIterations < 1 || c.ArgonIterations > 100 || c.ArgonThreads < 1 || c.ArgonThreads > 255 {
		return nil, errors.New("argon2 parameters out of range (memory 8..4194304 KiB, iterations 1..100, parallelism 1..255)")
	}
	p := auth.DefaultParams()
	p.Memory, p.Iterations, p.Parallelism = uint32(c.ArgonMemory), uint32(c.ArgonIterations), uint8(c.ArgonThreads)
	return auth.NewHasher(p, c.HashConcurrency, opts...), nil
}

// checkServe reports the first setting of c that serve would refuse, so
// that --print-config refuses it too, before anything is opened.
func checkServe(c *config) error {
	if _, err := newLogger(io.Discard, c); err != nil {
		return err
	}
	if err := checkAddr("--addr", c.Addr); err != nil {
		return err
	}
	if err := store.CheckURL(c.DatabaseURL); err != nil {
		return fmt.Errorf("--database-url: %w", err)
	}
	if !supportedAlgorithm(c.Algorithm) {
		return fmt.Errorf("--jwt-algorithm %q is not supported; use one of %s", c.Algorithm, strings.Join(algorithms, ", "))
	}
	if (c.Secret != "" || c.SecretFile != "") && !strings.HasPrefix(c.Algorithm, "HS") {
		return fmt.Errorf("--jwt-secret is an HMAC key; --jwt-algorithm %s uses keys generated and kept in the database", c.Algorithm)
	}
	if c.AccessTTL < time.Second || c.RefreshTTL < c.AccessTTL {
		return errors.New("--access-ttl must be at least 1s and --refresh-ttl at least --access-ttl")
	}
	if c.SyncInterval < 10*time.Millisecond {
		return errors.New("--sync-interval must be at least 10ms")
	}
	if _, err := hasherFor(c); err != nil {
		return err
	}
	if c.HashWorkers != "process" && c.HashWorkers != "inline" {
		return fmt.Errorf("--hash-workers must be process or inline, not %q", c.HashWorkers)
	}
	if c.HashNice < 0 || c.HashNice > 19 {
		return fmt.Errorf("--hash-nice must be in 0..19, not %d", c.HashNice)
	}
	sameSite, err := parseSameSite(c.CookieSameSite)
	if err != nil {
		return err
	}
	if sameSite == http.SameSiteNoneMode && !c.CookieSecure {
		return errors.New("--cookie-samesite none needs --cookie-secure (browsers refuse it otherwise)")
	}
	if _, err := parseClaims(c.Claims); err != nil {
		return err
	}
	if c.RefreshReuse < 0 || c.SessionInactivity < 0 || c.SessionLifetime < c.AccessTTL {
		return errors.New("--refresh-reuse-interval and --session-inactivity must not be negative, --session-lifetime at least --access-ttl")
	}
	if _, err := httpapi.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	if c.KeyPublishDelay < 0 {
		return errors.New("--key-publish-delay must not be negative")
	}
	if c.DBMaxConns < 1 || c.DBStmtTimeout < 0 || c.LoginMaxFail < 0 || c.LoginLockout < time.Second {
		return errors.New("--db-max-conns must be at least 1, --db-statement-timeout and --login-max-failures not negative, --login-lockout at least 1s")
	}
	if c.PprofAddr != "" {
		if _, err := httpapi.LoopbackAddr(c.PprofAddr); err != nil {
			return err
		}
	}
	return nil
}

// checkAddr catches the usual mistakes in a listen address before
// net.Listen gives its terse message: a bare port, a missing colon.
func checkAddr(flagName, addr string) error {
	if _, err := strconv.Atoi(addr); err == nil {
		return fmt.Errorf("%s %s (%s): a listen address is HOST:PORT; did you mean %s (every interface) or 127.0.0.1:%s (this machine only)?",
			flagName, addr, envName(strings.TrimPrefix(flagName, "--")), ":"+addr, addr)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s %q (%s): a listen address is HOST:PORT, e.g. :8000 or 127.0.0.1:8000", flagName, addr, envName(strings.TrimPrefix(flagName, "--")))
	}
	return nil
}

// listen binds addr for flagName, saying which setting to change when it
// cannot: the port is taken, or not ours to take.
func listen(flagName, addr string) (net.Listener, error) {
	if err := checkAddr(flagName, addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	env := envName(strings.TrimPrefix(flagName, "--"))
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("cannot listen on %s %s (%s): address already in use: another process has that port; stop it, or choose another port, e.g. %s :8001", flagName, addr, env, flagName)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("cannot listen on %s %s (%s): permission denied: ports below 1024 need privileges; choose another, e.g. %s :8000", flagName, addr, env, flagName)
	}
	return nil, fmt.Errorf("cannot listen on %s %s (%s): %w", flagName, addr, env, err)
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := flag.NewFlagSet("warehouse serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serveFlags(fs, &c)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v; see `warehouse serve --help`", fs.Args())
	}
	if err := checkServe(&c); err != nil {
		return err
	}
	if c.PrintConfig {
		printConfig(stdout, fs)
		return nil
	}
	log, err := newLogger(stderr, &c)
	if err != nil {
		return err
	}
	if _, err := tuneGC(getenv, log); err != nil {
		return err
	}
	sameSite, err := parseSameSite(c.CookieSameSite)
	if err != nil {
		return err
	}
	extra, err := parseClaims(c.Claims)
	if err != nil {
		return err
	}
	trusted, err := httpapi.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	if c.KeyPublishDelay < 5*time.Minute {
		log.Warn("--key-publish-delay is shorter than the JWKS cache time (5m): after a rotation, services that cached the key set may refuse new tokens until they fetch it again", "key_publish_delay", c.KeyPublishDelay.String())
	}
	keyPolicy := keystore.Policy{PublishDelay: c.KeyPublishDelay}

	// The listeners first: a start that cannot bind must fail before it
	// creates anything (the first admin's password, printed once, would
	// be lost with it). Connections that arrive meanwhile wait in the
	// backlog until the server is ready.
	ln, err := listen("--addr", c.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	bg, cancel := context.WithCancel(ctx)
	defer cancel()
	if c.PprofAddr != "" {
		if err := servePprof(bg, c.PprofAddr, log); err != nil {
			return err
		}
	}

	db, err := store.Open(ctx, c.DatabaseURL, c.DataDir, c.storeOptions())
	if err != nil {
		return err
	}
	defer db.Close()
	defer cancel() // the background loops stop before the database closes
	hasher, stopHashWorkers, err := serveHasher(ctx, &c, stderr, log)
	if err != nil {
		return err
	}
	defer stopHashWorkers()

	keys, err := signingKeys(ctx, db, &c, keyPolicy)
	if err != nil {
		return err
	}
	if err := bootstrapUsers(ctx, db, hasher, &c, log); err != nil {
		return err
	}
	state := authstate.New(db, log)
	if err := state.Load(ctx); err != nil {
		return err
	}
	if c.Secret == "" && c.SecretFile == "" {
		// A rotation on any instance (warehouse keys rotate) reaches this
		// one; the follower also switches when a published key's delay ends.
		follower := keystore.NewFollower(db, c.Algorithm, keyPolicy, keys)
		if err := follower.Reload(ctx); err != nil {
			return err
		}
		state.OnKeyChange(func(ctx context.Context) error {
			if err := follower.Reload(ctx); err != nil {
				return err
			}
			log.Info("signing keys reloaded", "kid", keys.Current().ID)
			return nil
		})
		go follower.Run(bg, log)
	}
	go state.Run(bg, c.SyncInterval)
	go followAuthEvents(bg, db, state, log)
	go purgeLoop(bg, db, log)

	srv := httpapi.New(httpapi.Config{
		AccessTTL: c.AccessTTL, RefreshTTL: c.RefreshTTL, Leeway: c.Leeway,
		Issuer: c.Issuer, Audience: c.Audience, Version: versionString(),
		RefreshReuseInterval: c.RefreshReuse, SessionLifetime: c.SessionLifetime, SessionInactivity: c.SessionInactivity,
		CookieSecure: c.CookieSecure, CookieSameSite: sameSite, CookieDomain: c.CookieDomain, ExtraClaims: extra, PublicURL: c.PublicURL,
		LoginRatePerIP: c.LoginRatePerIP, LoginBurstPerIP: c.LoginBurstPerIP, TrustedProxies: trusted,
		LoginThrottle: loginThrottle(&c),
	}, httpapi.Deps{DB: db, Inventory: inventory.New(db), Keys: keys, State: state, Hasher: hasher, Log: log})

	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("warehouse listening", "addr", ln.Addr().String(), "database", db.Path, "version", versionString(),
		"docs", "http://"+displayAddr(ln.Addr())+"/docs")
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// servePprof serves runtime profiles on a loopback address until ctx ends.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	addr, err := httpapi.LoopbackAddr(addr)
	if err != nil {
		return err
	}
	ln, err := listen("--pprof-addr", addr)
	if err != nil {
		return err
	}
	ps := &http.Server{Handler: httpapi.PprofHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		ps.Close()
	}()
	go func() {
		if err := ps.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server stopped", "err", err)
		}
	}()
	log.Info("serving profiles", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
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

// signingKeys builds the keyring: the operator's secret if given, else the
// key kept in the database (generated on first start), shared by every
// instance on that database.
func signingKeys(ctx context.Context, db *store.DB, c *config, policy keystore.Policy) (*auth.Keyring, error) {
	secret := []byte(c.Secret)
	if c.SecretFile != "" {
		b, err := os.ReadFile(c.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("--jwt-secret-file: %w", err)
		}
		secret = []byte(strings.TrimRight(string(b), "\r\n"))
	}
	if len(secret) > 0 {
		if err := auth.CheckSecret(secret); err != nil && !c.InsecureDevKey {
			return nil, fmt.Errorf("refusing the signing secret: %w (use a random secret of at least 32 bytes, e.g. `openssl rand -base64 48`, or --insecure-dev-key for development)", err)
		}
		// The kid names the key without revealing it.
		sum := sha256.Sum256(append([]byte("warehouse-kid:"), secret...))
		kid := base64.RawURLEncoding.EncodeToString(sum[:9])
		return auth.NewKeyring(auth.Key{ID: kid, Algorithm: c.Algorithm, Secret: secret})
	}
	if err := keystore.Ensure(ctx, db, c.Algorithm); err != nil {
		return nil, err
	}
	return policy.Keyring(ctx, db, c.Algorithm)
}

// bootstrapUsers creates the first admin on an empty database and, with
// --demo, the tutorial's user.
func bootstrapUsers(ctx context.Context, db *store.DB, hasher *auth.Hasher, c *config, log *slog.Logger) error {
	n, err := db.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		pw := c.AdminPassword
		generated := pw == ""
		if generated {
			pw = randomPassword()
		} else if err := warehouse.ValidatePassword(pw); err != nil {
			return fmt.Errorf("--admin-password: %w", err)
		}
		if err := createUser(ctx, db, hasher, "admin", pw, []string{string(warehouse.RoleAdmin)}); err != nil {
			return err
		}
		if generated {
			// Printed once, on purpose: this is the only way to learn it.
			log.Warn("created user 'admin' with a random password; change it with `warehouse users set-password admin`",
				"username", "admin", "password", pw)
		} else {
			log.Info("created user 'admin'")
		}
	}
	if c.Demo {
		_, err := db.UserByName(ctx, "joevu")
		if warehouse.ErrorCode(err) == warehouse.ENOTFOUND {
			if err := createUser(ctx, db, hasher, "joevu", "glinteco", []string{string(warehouse.RoleAdmin)}); err != nil {
				return err
			}
			log.Warn("demo mode: created the tutorial's user joevu (password glinteco, role admin); do not use --demo in production")
		} else if err != nil {
			return err
		}
		if err := seedDemo(ctx, db, log); err != nil {
			return err
		}
	}
	return nil
}

func createUser(ctx context.Context, db *store.DB, hasher *auth.Hasher, name, pw string, roles []string) error {
	h, err := hasher.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	err = db.CreateUser(ctx, &warehouse.User{Username: name, PasswordHash: h, Roles: roles, Active: true, CreatedBy: "system"})
	if err != nil && warehouse.ErrorCode(err) == warehouse.ECONFLICT {
		return nil // another instance created it first
	}
	return err
}

func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// purgeLoop deletes expired revocations, refresh tokens, old events and
// idempotency keys hourly.
func purgeLoop(ctx context.Context, db *store.DB, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := db.Purge(ctx, 7*24*time.Hour)
			if err == nil {
				// Idempotency keys are kept at least 24 h (domain-api.md).
				var m int64
				m, err = db.PurgeIdempotencyKeys(ctx, 48*time.Hour)
				n += m
			}
			if err != nil && ctx.Err() == nil {
				log.Warn("purge failed; will retry", "err", err)
			} else if n > 0 {
				log.Info("purged expired auth records", "rows", n)
			}
		}
	}
}

func parseSameSite(v string) (http.SameSite, error) {
	switch strings.ToLower(v) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, fmt.Errorf("--cookie-samesite must be lax, strict or none, not %q", v)
}

// parseClaims reads --claims: a JSON object whose names must not clash with
// the claims warehouse sets itself.
func parseClaims(v string) (map[string]any, error) {
	if v == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, fmt.Errorf("--claims must be a JSON object: %w", err)
	}
	for k := range m {
		switch k {
		case "sub", "iat", "nbf", "jti", "exp", "type", "fresh", "roles", "sid", "csrf", "iss", "aud":
			return nil, fmt.Errorf("--claims may not set %q: warehouse sets it", k)
		}
	}
	return m, nil
}

// algorithms are the --jwt-algorithm values.
var algorithms = []string{"HS256", "HS384", "HS512", "EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

func supportedAlgorithm(alg string) bool {
	for _, a := range algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// followAuthEvents applies other instances' auth events as soon as they
// commit, on PostgreSQL (LISTEN/NOTIFY), so that a revocation made on one
// instance is enforced by all within milliseconds. Notifications only
// say "look": the events themselves are read from auth_events by Poll, and
// the periodic poll (--sync-interval) still runs, so an event is never
// lost to a broken listening connection, only delayed. A burst of
// notifications is coalesced into one poll at a time.
func followAuthEvents(ctx context.Context, db *store.DB, state *authstate.State, log *slog.Logger) {
	if !db.IsPostgres() {
		return
	}
	kick := make(chan struct{}, 1)
	go db.ListenAuthEvents(ctx, log, func() {
		select {
		case kick <- struct{}{}:
		default: // a poll is already due; it will see this event too
		}
	})
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			if err := state.Poll(ctx); err != nil && ctx.Err() == nil {
				log.Warn("auth state poll failed; will retry", "err", err)
			}
		}
	}
}

// loginThrottle is the per-account lockout from the flags.
func loginThrottle(c *config) httpapi.LoginThrottle {
	if c.LoginMaxFail == 0 {
		return httpapi.LoginThrottle{MaxFailures: -1}
	}
	return httpapi.LoginThrottle{MaxFailures: c.LoginMaxFail, Lockout: c.LoginLockout}
}

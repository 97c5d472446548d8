package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/keystore"
	"github.com/warehouse-api/warehouse/internal/session"
	"github.com/warehouse-api/warehouse/internal/store"
)

// Config is every setting of a server, as the operator gives them (one
// field per `warehouse serve` flag). Defaults returns the defaults;
// Validate checks a Config; Open refuses one Validate refuses.
type Config struct {
	// Addr is where Run listens; empty, Open binds nothing and the caller
	// serves App.Server itself (the tests).
	Addr            string
	DataDir         string
	DatabaseURL     string
	Demo            bool
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	Leeway          time.Duration
	Algorithm       string
	Secret          string
	SecretFile      string
	InsecureDevKey  bool
	Issuer          string
	Audience        string
	AdminPassword   string
	LogLevel        string
	LogFormat       string
	ArgonMemory     uint
	ArgonIterations uint
	ArgonThreads    uint
	HashConcurrency int
	HashWorkers     string
	HashNice        int
	DBMaxConns      int
	DBStmtTimeout   time.Duration
	LoginMaxFail    int
	LoginLockout    time.Duration
	SyncInterval    time.Duration
	ShutdownTimeout time.Duration

	RefreshReuse      time.Duration
	SessionLifetime   time.Duration
	SessionInactivity time.Duration
	CookieSecure      bool
	CookieSameSite    string
	CookieDomain      string
	Claims            string
	PublicURL         string
	PprofAddr         string
	LoginRatePerIP    float64
	LoginBurstPerIP   int
	// ImportMaxBytes bounds a file uploaded to POST /api/v1/imports.
	ImportMaxBytes  int64
	TrustedProxies  string
	KeyPublishDelay time.Duration
	// TLSCert and TLSKey are PEM files: both set, the server speaks
	// HTTPS only (and sends HSTS); the pair is reloaded on SIGHUP.
	TLSCert string
	TLSKey  string
	// CORSOrigins is a comma-separated allowlist of exact origins
	// (scheme://host[:port]) that browsers may call the API from; empty:
	// CORS off.
	CORSOrigins string
	// MetricsAddr is where Prometheus metrics are served (/metrics), on a
	// listener of their own; empty: no metrics.
	MetricsAddr string
	// AccessLog is on (a line per request), off, or errors (status >= 400).
	AccessLog string

	// Version is the build's version, shown in the document and the logs.
	Version string
}

// Defaults is the default of every setting: the one place they are
// written (the flags of cmd/warehouse take theirs from here).
func Defaults() Config {
	return Config{
		Addr:              ":8000",
		DataDir:           "./data",
		AccessTTL:         session.DefaultAccessTTL,
		RefreshTTL:        session.DefaultRefreshTTL,
		Leeway:            10 * time.Second,
		Algorithm:         auth.AlgHS256,
		LogLevel:          "info",
		LogFormat:         "json",
		ArgonMemory:       19456, // OWASP's argon2id parameters
		ArgonIterations:   2,
		ArgonThreads:      1,
		HashWorkers:       "process",
		HashNice:          10,
		DBMaxConns:        10,
		DBStmtTimeout:     10 * time.Second,
		LoginMaxFail:      10,
		LoginLockout:      5 * time.Minute,
		SyncInterval:      time.Second,
		ShutdownTimeout:   10 * time.Second,
		RefreshReuse:      10 * time.Second,
		SessionLifetime:   session.DefaultRefreshTTL,
		SessionInactivity: 7 * 24 * time.Hour,
		CookieSecure:      true,
		CookieSameSite:    "lax",
		LoginRatePerIP:    1,
		LoginBurstPerIP:   20,
		ImportMaxBytes:    64 << 20,
		KeyPublishDelay:   keystore.DefaultPublishDelay,
		AccessLog:         httpapi.AccessLogOn,
		Version:           "dev",
	}
}

// EnvName is the environment variable behind a flag: operator messages
// name both, so that whoever set it finds it.
func EnvName(flagName string) string {
	return "WAREHOUSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Algorithms are the --jwt-algorithm values.
var Algorithms = []string{"HS256", "HS384", "HS512", "EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// SupportedAlgorithm reports whether alg is one of Algorithms.
func SupportedAlgorithm(alg string) bool { return slices.Contains(Algorithms, alg) }

// Validate reports the first setting of c that Open would refuse, before
// anything is opened, in the operator's terms (the flag and its variable).
func (c *Config) Validate() error {
	if _, err := c.Logger(io.Discard); err != nil {
		return err
	}
	if c.ImportMaxBytes < 0 {
		return fmt.Errorf("--import-max-bytes must be >= 0 (0: the default, 64 MiB)")
	}
	if c.Addr != "" { // empty: no listener (see Open)
		if err := CheckAddr("--addr", c.Addr); err != nil {
			return err
		}
	}
	if err := store.CheckURL(c.DatabaseURL); err != nil {
		return fmt.Errorf("--database-url: %w", err)
	}
	if !SupportedAlgorithm(c.Algorithm) {
		return fmt.Errorf("--jwt-algorithm %q is not supported; use one of %s", c.Algorithm, strings.Join(Algorithms, ", "))
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
	if _, err := c.Hasher(); err != nil {
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
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key (%s, %s) go together: give both, or neither for plain HTTP", EnvName("tls-cert"), EnvName("tls-key"))
	}
	if c.TLSCert != "" {
		if _, err := loadPair(c.TLSCert, c.TLSKey); err != nil {
			return err
		}
	}
	if _, err := httpapi.ParseCORSOrigins(c.CORSOrigins); err != nil {
		return fmt.Errorf("--cors-origins (%s): %w", EnvName("cors-origins"), err)
	}
	if c.MetricsAddr != "" {
		if err := CheckAddr("--metrics-addr", c.MetricsAddr); err != nil {
			return err
		}
	}
	if err := httpapi.CheckAccessLog(c.AccessLog); err != nil {
		return fmt.Errorf("%w (%s)", err, EnvName("access-log"))
	}
	return nil
}

// Logger is the logger --log-level and --log-format ask for, writing to w.
func (c *Config) Logger(w io.Writer) (*slog.Logger, error) {
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

// Hasher is the in-process password hasher of the argon2 settings.
func (c *Config) Hasher(opts ...auth.HasherOption) (*auth.Hasher, error) {
	if c.ArgonMemory < 8 || c.ArgonMemory > 4<<20 || c.ArgonIterations < 1 || c.ArgonIterations > 100 || c.ArgonThreads < 1 || c.ArgonThreads > 255 {
		return nil, errors.New("argon2 parameters out of range (memory 8..4194304 KiB, iterations 1..100, parallelism 1..255)")
	}
	p := auth.DefaultParams()
	p.Memory, p.Iterations, p.Parallelism = uint32(c.ArgonMemory), uint32(c.ArgonIterations), uint8(c.ArgonThreads)
	return auth.NewHasher(p, c.HashConcurrency, opts...), nil
}

// StoreOptions are the database settings of c.
func (c *Config) StoreOptions() store.Options {
	return store.Options{MaxConns: c.DBMaxConns, StatementTimeout: c.DBStmtTimeout}
}

// httpConfig is what the HTTP layer needs of c; c has been validated.
func (c *Config) httpConfig() (httpapi.Config, error) {
	sameSite, err := parseSameSite(c.CookieSameSite)
	if err != nil {
		return httpapi.Config{}, err
	}
	extra, err := parseClaims(c.Claims)
	if err != nil {
		return httpapi.Config{}, err
	}
	trusted, err := httpapi.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return httpapi.Config{}, fmt.Errorf("--trusted-proxies: %w", err)
	}
	cors, err := httpapi.ParseCORSOrigins(c.CORSOrigins)
	if err != nil {
		return httpapi.Config{}, fmt.Errorf("--cors-origins: %w", err)
	}
	throttle := httpapi.LoginThrottle{MaxFailures: c.LoginMaxFail, Lockout: c.LoginLockout}
	if c.LoginMaxFail == 0 {
		throttle = httpapi.LoginThrottle{MaxFailures: -1}
	}
	return httpapi.Config{
		AccessTTL: c.AccessTTL, RefreshTTL: c.RefreshTTL, Leeway: c.Leeway,
		Issuer: c.Issuer, Audience: c.Audience, Version: c.Version,
		RefreshReuseInterval: c.RefreshReuse, SessionLifetime: c.SessionLifetime, SessionInactivity: c.SessionInactivity,
		CookieSecure: c.CookieSecure, CookieSameSite: sameSite, CookieDomain: c.CookieDomain, ExtraClaims: extra, PublicURL: c.PublicURL,
		LoginRatePerIP: c.LoginRatePerIP, LoginBurstPerIP: c.LoginBurstPerIP, TrustedProxies: trusted,
		LoginThrottle: throttle, ImportMaxBytes: c.ImportMaxBytes,
		HSTS: c.TLSCert != "", CORSOrigins: cors, AccessLog: c.AccessLog,
	}, nil
}

// CheckAddr catches the usual mistakes in a listen address before
// net.Listen gives its terse message: a bare port, a missing colon.
func CheckAddr(flagName, addr string) error {
	if _, err := strconv.Atoi(addr); err == nil {
		return fmt.Errorf("%s %s (%s): a listen address is HOST:PORT; did you mean %s (every interface) or 127.0.0.1:%s (this machine only)?",
			flagName, addr, EnvName(strings.TrimPrefix(flagName, "--")), ":"+addr, addr)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s %q (%s): a listen address is HOST:PORT, e.g. :8000 or 127.0.0.1:8000", flagName, addr, EnvName(strings.TrimPrefix(flagName, "--")))
	}
	return nil
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

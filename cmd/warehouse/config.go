package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse/internal/store"
)

// config is every setting of `serve`. Each is a flag, and each flag may
// come from the environment as WAREHOUSE_<FLAG> (dashes as underscores),
// which in turn may come from a .env file. Flags beat env, env beats .env.
type config struct {
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
	PrintConfig     bool

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
	TrustedProxies    string
	KeyPublishDelay   time.Duration
}

// secretFlags are redacted by --print-config.
var secretFlags = map[string]bool{"jwt-secret": true, "admin-password": true}

// commonFlags are the settings every command that opens the database needs.
func commonFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.DataDir, "data", "./data", "directory for the embedded SQLite database")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "database URL (default: SQLite file warehouse.db in --data; sqlite:PATH also accepted)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
	fs.UintVar(&c.ArgonMemory, "argon2-memory", 19456, "argon2id memory per hash in KiB (OWASP: 19456)")
	fs.UintVar(&c.ArgonIterations, "argon2-iterations", 2, "argon2id iterations (OWASP: 2)")
	fs.UintVar(&c.ArgonThreads, "argon2-parallelism", 1, "argon2id parallelism (OWASP: 1)")
	fs.IntVar(&c.HashConcurrency, "hash-concurrency", 0, "password hashes computed at once, bounding memory under a login flood (0: GOMAXPROCS-1, at least 1, so hashes never take every core the server uses)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 10, "PostgreSQL: connections in this instance's pool (all instances together must stay under the server's max_connections)")
	fs.DurationVar(&c.DBStmtTimeout, "db-statement-timeout", 10*time.Second, "PostgreSQL: cancel statements running longer (the request gets a 503); 0s: the server's setting")
}

func serveFlags(fs *flag.FlagSet, c *config) {
	commonFlags(fs, c)
	fs.StringVar(&c.HashWorkers, "hash-workers", "process", "where password hashes run: process (--hash-concurrency worker processes at --hash-nice, so requests keep the CPU during a login flood, even on one core) or inline (in the server process)")
	fs.IntVar(&c.HashNice, "hash-nice", 10, "nice value (0..19) of the hash worker processes: higher gives other requests more of the CPU while passwords are hashed")
	fs.StringVar(&c.Addr, "addr", ":8000", "address to listen on")
	fs.IntVar(&c.LoginMaxFail, "login-max-failures", 10, "failed logins for one username, within --login-lockout, that lock it out for --login-lockout (counted in the database: shared by every instance; 0: no lockout)")
	fs.DurationVar(&c.LoginLockout, "login-lockout", 5*time.Minute, "how long a username stays locked out, and the window its failures are counted in")
	fs.BoolVar(&c.Demo, "demo", false, "create the tutorial's user joevu/glinteco (role admin) so its curl session works")
	fs.DurationVar(&c.AccessTTL, "access-ttl", 15*time.Minute, "access token lifetime")
	fs.DurationVar(&c.RefreshTTL, "refresh-ttl", 30*24*time.Hour, "refresh token lifetime")
	fs.DurationVar(&c.Leeway, "leeway", 10*time.Second, "clock skew allowed when checking exp, nbf and iat")
	fs.StringVar(&c.Algorithm, "jwt-algorithm", "HS256", "token signing algorithm: HS256, HS384, HS512 (shared secret); EdDSA, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512 (public key, published at /.well-known/jwks.json)")
	fs.StringVar(&c.Secret, "jwt-secret", "", "HMAC signing secret, at least 32 bytes (default: a random key generated once and kept in the database)")
	fs.StringVar(&c.SecretFile, "jwt-secret-file", "", "file holding the HMAC signing secret")
	fs.BoolVar(&c.InsecureDevKey, "insecure-dev-key", false, "allow a short or well-known signing secret (development only)")
	fs.StringVar(&c.Issuer, "issuer", "", "iss claim to set and require (empty: --public-url, else the URL each login or refresh came to; tokens without iss are then still accepted)")
	fs.StringVar(&c.Audience, "audience", "", "aud claim to set and require (empty: none)")
	fs.StringVar(&c.AdminPassword, "admin-password", "", "password of the first user 'admin', created on an empty database (default: random, printed once to the log)")
	fs.DurationVar(&c.SyncInterval, "sync-interval", time.Second, "how often revocations and user changes made by other instances are picked up")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to let requests finish on shutdown")
	fs.BoolVar(&c.PrintConfig, "print-config", false, "print the effective configuration (secrets redacted) and exit")
	fs.DurationVar(&c.RefreshReuse, "refresh-reuse-interval", 10*time.Second, "grace in which a just-rotated refresh token gets the same new pair (concurrent tabs); after it, reuse revokes the session (0s: no grace)")
	fs.DurationVar(&c.SessionLifetime, "session-lifetime", 30*24*time.Hour, "absolute lifetime of a session, however often it is refreshed")
	fs.DurationVar(&c.SessionInactivity, "session-inactivity", 7*24*time.Hour, "end a session not refreshed for this long (0s: never)")
	fs.BoolVar(&c.CookieSecure, "cookie-secure", true, "mark cookies Secure (browsers still send them to http://localhost)")
	fs.StringVar(&c.CookieSameSite, "cookie-samesite", "lax", "SameSite of the cookies: lax, strict or none")
	fs.StringVar(&c.CookieDomain, "cookie-domain", "", "Domain of the cookies (default: the host that set them)")
	fs.Float64Var(&c.LoginRatePerIP, "login-rate-per-ip", 1, "password logins per second allowed from one client address on one instance, sustained (0: no limit)")
	fs.IntVar(&c.LoginBurstPerIP, "login-burst-per-ip", 20, "password logins one client address may make at once before --login-rate-per-ip applies")
	fs.StringVar(&c.PublicURL, "public-url", "", "external base URL, for /.well-known/openid-configuration and, without --issuer, the tokens' iss (default: the URL each request came to; see --trusted-proxies)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For/-Proto/-Host are believed, e.g. 10.0.0.0/8,::1 (default: none)")
	keyPublishDelayVar(fs, &c.KeyPublishDelay)
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve runtime profiles (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060 (default: off)")
	fs.StringVar(&c.Claims, "claims", "", `static custom claims added to every access token, as a JSON object, e.g. {"tenant":"acme"}`)
}

// envName is the environment variable behind a flag.
func envName(flagName string) string {
	return "WAREHOUSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags applies the environment, then the command line. A bad value
// is one line that names the flag or variable, the value and an example; an
// unknown flag is one line that points to --help, which alone prints the
// usage (fs.Usage, or the flag list) and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var errs []string
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" {
			if err := hinted(fs, func() error { return fs.Set(f.Name, v) }); err != nil {
				var ve *valueError
				if errors.As(err, &ve) {
					err = ve.err
				}
				errs = append(errs, fmt.Sprintf("%s=%q (from the environment or .env): %v", envName(f.Name), v, err))
			}
		}
		f.Usage += fmt.Sprintf(" [$%s]", envName(f.Name))
	})
	if len(errs) > 0 {
		return fmt.Errorf("invalid environment: %s", strings.Join(errs, "; "))
	}
	return parseArgs(fs, args)
}

// parseArgs is fs.Parse(args) with parseFlags' messages.
func parseArgs(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	if usage == nil {
		usage = func() {
			fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
	}
	// flag prints the error and the whole usage on any error; only --help
	// asks for the usage, and the caller prints the error.
	out := fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := hinted(fs, func() error { return fs.Parse(args) })
	fs.Usage = usage
	fs.SetOutput(out)
	var ve *valueError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	case errors.As(err, &ve):
		return err
	}
	return fmt.Errorf("%v; see `%s --help`", err, fs.Name())
}

// valueError is a flag value that did not parse, with an example of a
// good one (flag's own message says "parse error").
type valueError struct {
	flag, value string
	err         error
}

func (e *valueError) Error() string { return fmt.Sprintf("--%s %q: %v", e.flag, e.value, e.err) }
func (e *valueError) Unwrap() error { return e.err }

// hinted runs parse with every flag's value wrapped so that a value that
// does not parse is reported as a valueError. The wrappers are removed
// again before anything prints the usage, which reads the value types.
func hinted(fs *flag.FlagSet, parse func() error) error {
	var bad *valueError
	orig := map[*flag.Flag]flag.Value{}
	fs.VisitAll(func(f *flag.Flag) {
		orig[f] = f.Value
		f.Value = hintValue(f.Name, f.Value, &bad)
	})
	err := parse()
	for f, v := range orig {
		f.Value = v
	}
	if err != nil && bad != nil {
		return bad
	}
	return err
}

type hintedValue struct {
	flag.Value
	name string
	bad  **valueError
}

func (v *hintedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		*v.bad = &valueError{flag: v.name, value: s, err: valueHint(v.Value, err)}
		return err
	}
	return nil
}

// hintedBool is hintedValue for bool flags, which take no argument.
type hintedBool struct{ hintedValue }

func (v *hintedBool) IsBoolFlag() bool { return true }

func hintValue(name string, v flag.Value, bad **valueError) flag.Value {
	if b, ok := v.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return &hintedBool{hintedValue{v, name, bad}}
	}
	return &hintedValue{v, name, bad}
}

// valueHint is a parse error of v with an example of a good value.
func valueHint(v flag.Value, err error) error {
	g, ok := v.(flag.Getter)
	if !ok {
		return err
	}
	switch g.Get().(type) {
	case time.Duration:
		return errors.New("not a duration: write a number with a unit, e.g. 15m, 720h or 90s")
	case bool:
		return errors.New("not a boolean: write true or false")
	case int, int64, uint, uint64:
		return errors.New("not a whole number, e.g. 10")
	case float64:
		return errors.New("not a number, e.g. 1 or 0.5")
	}
	return err
}

// parseInterspersed is parseFlags for commands with positional arguments,
// which may come before, between or after the flags (flag stops at the
// first non-flag). It returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	var pos []string
	for fs.NArg() > 0 {
		pos = append(pos, fs.Arg(0))
		if err := parseArgs(fs, fs.Args()[1:]); err != nil {
			return nil, err
		}
	}
	return pos, nil
}

// printConfig writes the effective settings, one per line, secrets redacted.
func printConfig(w io.Writer, fs *flag.FlagSet) {
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "print-config" {
			return
		}
		v := f.Value.String()
		if secretFlags[f.Name] && v != "" {
			v = "[redacted]"
		}
		if f.Name == "database-url" {
			v = store.Redact(v)
		}
		lines = append(lines, fmt.Sprintf("%-22s %s", f.Name, v))
	})
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// loadDotEnv reads KEY=VALUE lines from path into the environment lookup,
// without overriding variables already set. A missing file is fine.
func loadDotEnv(path string, getenv func(string) string) (func(string) string, error) {
	vals, err := readDotEnv(path)
	if err != nil {
		if os.IsNotExist(err) {
			return getenv, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return vals[k]
	}, nil
}

// storeOptions are the database settings of c.
func (c *config) storeOptions() store.Options {
	return store.Options{MaxConns: c.DBMaxConns, StatementTimeout: c.DBStmtTimeout}
}

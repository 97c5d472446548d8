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

	"github.com/warehouse-api/warehouse/internal/app"
	"github.com/warehouse-api/warehouse/internal/store"
)

// config is every setting of `serve` (app.Config) and of the commands
// that share its flags. Each is a flag, and each flag may come from the
// environment as WAREHOUSE_<FLAG> (dashes as underscores), which in turn
// may come from a .env file. Flags beat env, env beats .env. The defaults
// are app.Defaults.
type config struct {
	app.Config
	PrintConfig bool
}

// secretFlags are redacted by --print-config.
var secretFlags = map[string]bool{"jwt-secret": true, "admin-password": true}

// commonFlags are the settings every command that opens the database needs.
func commonFlags(fs *flag.FlagSet, c *config) {
	d := app.Defaults()
	fs.StringVar(&c.DataDir, "data", d.DataDir, "directory for the embedded SQLite database")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "database URL (default: SQLite file warehouse.db in --data; sqlite:PATH also accepted)")
	fs.StringVar(&c.LogLevel, "log-level", d.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", d.LogFormat, "log format: json or text")
	fs.UintVar(&c.ArgonMemory, "argon2-memory", d.ArgonMemory, "argon2id memory per hash in KiB (OWASP: 19456)")
	fs.UintVar(&c.ArgonIterations, "argon2-iterations", d.ArgonIterations, "argon2id iterations (OWASP: 2)")
	fs.UintVar(&c.ArgonThreads, "argon2-parallelism", d.ArgonThreads, "argon2id parallelism (OWASP: 1)")
	fs.IntVar(&c.HashConcurrency, "hash-concurrency", d.HashConcurrency, "password hashes computed at once, bounding memory under a login flood (0: GOMAXPROCS-1, at least 1, so hashes never take every core the server uses)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", d.DBMaxConns, "PostgreSQL: connections in this instance's pool (all instances together must stay under the server's max_connections)")
	fs.DurationVar(&c.DBStmtTimeout, "db-statement-timeout", d.DBStmtTimeout, "PostgreSQL: cancel statements running longer (the request gets a 503); 0s: the server's setting")
}

func serveFlags(fs *flag.FlagSet, c *config) {
	commonFlags(fs, c)
	d := app.Defaults()
	fs.StringVar(&c.HashWorkers, "hash-workers", d.HashWorkers, "where password hashes run: process (--hash-concurrency worker processes at --hash-nice, so requests keep the CPU during a login flood, even on one core) or inline (in the server process)")
	fs.IntVar(&c.HashNice, "hash-nice", d.HashNice, "nice value (0..19) of the hash worker processes: higher gives other requests more of the CPU while passwords are hashed")
	fs.StringVar(&c.Addr, "addr", d.Addr, "address to listen on")
	fs.IntVar(&c.LoginMaxFail, "login-max-failures", d.LoginMaxFail, "failed logins for one username, within --login-lockout, that lock it out for --login-lockout (counted in the database: shared by every instance; 0: no lockout)")
	fs.DurationVar(&c.LoginLockout, "login-lockout", d.LoginLockout, "how long a username stays locked out, and the window its failures are counted in")
	fs.BoolVar(&c.Demo, "demo", d.Demo, "create the tutorial's user joevu with the tutorial's password (role admin) so its curl session works")
	fs.DurationVar(&c.AccessTTL, "access-ttl", d.AccessTTL, "access token lifetime")
	fs.DurationVar(&c.RefreshTTL, "refresh-ttl", d.RefreshTTL, "refresh token lifetime")
	fs.DurationVar(&c.Leeway, "leeway", d.Leeway, "clock skew allowed when checking exp, nbf and iat")
	fs.StringVar(&c.Algorithm, "jwt-algorithm", d.Algorithm, "token signing algorithm: HS256, HS384, HS512 (shared secret); EdDSA, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512 (public key, published at /.well-known/jwks.json)")
	fs.StringVar(&c.Secret, "jwt-secret", d.Secret, "HMAC signing secret, at least 32 bytes (default: a random key generated once and kept in the database)")
	fs.StringVar(&c.SecretFile, "jwt-secret-file", d.SecretFile, "file holding the HMAC signing secret")
	fs.BoolVar(&c.InsecureDevKey, "insecure-dev-key", d.InsecureDevKey, "allow a short or well-known signing secret (development only)")
	fs.StringVar(&c.Issuer, "issuer", d.Issuer, "iss claim to set and require (empty: --public-url, else the URL each login or refresh came to; tokens without iss are then still accepted)")
	fs.StringVar(&c.Audience, "audience", d.Audience, "aud claim to set and require (empty: none)")
	fs.StringVar(&c.AdminPassword, "admin-password", d.AdminPassword, "password of the first user 'admin', created on an empty database (default: random, written to initial_admin_password beside the database)")
	fs.DurationVar(&c.SyncInterval, "sync-interval", d.SyncInterval, "how often revocations and user changes made by other instances are picked up")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "how long to let requests finish on shutdown")
	fs.BoolVar(&c.PrintConfig, "print-config", false, "print the effective configuration (secrets redacted) and exit")
	fs.DurationVar(&c.RefreshReuse, "refresh-reuse-interval", d.RefreshReuse, "grace in which a just-rotated refresh token gets the same new pair (concurrent tabs); after it, reuse revokes the session (0s: no grace)")
	fs.DurationVar(&c.SessionLifetime, "session-lifetime", d.SessionLifetime, "absolute lifetime of a session, however often it is refreshed")
	fs.DurationVar(&c.SessionInactivity, "session-inactivity", d.SessionInactivity, "end a session not refreshed for this long (0s: never)")
	fs.BoolVar(&c.CookieSecure, "cookie-secure", d.CookieSecure, "mark cookies Secure (browsers still send them to http://localhost)")
	fs.StringVar(&c.CookieSameSite, "cookie-samesite", d.CookieSameSite, "SameSite of the cookies: lax, strict or none")
	fs.StringVar(&c.CookieDomain, "cookie-domain", d.CookieDomain, "Domain of the cookies (default: the host that set them)")
	fs.Float64Var(&c.LoginRatePerIP, "login-rate-per-ip", d.LoginRatePerIP, "password logins per second allowed from one client address on one instance, sustained (0: no limit)")
	fs.Int64Var(&c.ImportMaxBytes, "import-max-bytes", d.ImportMaxBytes, "largest CSV file POST /api/v1/imports accepts, in bytes (larger: 413; the CLI's warehouse import has no limit)")
	fs.IntVar(&c.LoginBurstPerIP, "login-burst-per-ip", d.LoginBurstPerIP, "password logins one client address may make at once before --login-rate-per-ip applies")
	fs.StringVar(&c.PublicURL, "public-url", d.PublicURL, "external base URL, for /.well-known/openid-configuration and, without --issuer, the tokens' iss (default: the URL each request came to; see --trusted-proxies)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", d.TrustedProxies, "comma-separated CIDRs of reverse proxies whose X-Forwarded-For/-Proto/-Host are believed, e.g. 10.0.0.0/8,::1 (default: none)")
	keyPublishDelayVar(fs, &c.KeyPublishDelay)
	fs.StringVar(&c.PprofAddr, "pprof-addr", d.PprofAddr, "serve runtime profiles (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060 (default: off)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", d.MetricsAddr, "serve Prometheus metrics (GET /metrics) on this address, a listener of its own; bind it to loopback or an operator network, e.g. 127.0.0.1:9100 (default: off)")
	fs.StringVar(&c.AccessLog, "access-log", d.AccessLog, "one log line per request at info level: on, errors (status >= 400 only) or off")
	fs.StringVar(&c.TLSCert, "tls-cert", d.TLSCert, "PEM certificate file (chain first) to serve HTTPS with, with --tls-key; reloaded on SIGHUP; also sends HSTS (default: plain HTTP)")
	fs.StringVar(&c.TLSKey, "tls-key", d.TLSKey, "PEM private key file of --tls-cert")
	fs.StringVar(&c.CORSOrigins, "cors-origins", d.CORSOrigins, "comma-separated exact origins browsers may call the API from with credentials, e.g. https://app.example.com (default: none, CORS off)")
	fs.StringVar(&c.Claims, "claims", d.Claims, `static custom claims added to every access token, as a JSON object, e.g. {"tenant":"acme"}`)
}

// envName is the environment variable behind a flag.
func envName(flagName string) string { return app.EnvName(flagName) }

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
func (c *config) storeOptions() store.Options { return c.StoreOptions() }

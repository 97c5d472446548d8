package logcheck_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// The planted secrets below must not reach the CI's kept log lines,
// which logscan fails on.
func TestMain(m *testing.M) {
	os.Unsetenv(logcheck.ArtifactsEnv)
	os.Exit(logcheck.Main(m.Run))
}

// fakeT is a test the checker runs against, to see it fail: it records
// what the checker reports and runs the cleanups when told.
type fakeT struct {
	mu       sync.Mutex
	errors   []string
	logs     []string
	cleanups []func()
	failed   bool
}

func (f *fakeT) Helper()      {}
func (f *fakeT) Name() string { return "TestFake" }
func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}
func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeT) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Failed() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.failed }

// end runs the cleanups, last first, as testing does.
func (f *fakeT) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// secrets are real ones of each kind the product makes.
type secrets struct {
	access, refresh, phc, pemKey, password, signingKey string
}

func makeSecrets(t *testing.T) secrets {
	t.Helper()
	key := []byte("logcheck-test-signing-key-" + rand.Text())
	kr, err := auth.NewKeyring(auth.Key{ID: "k1", Secret: key})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	access, err := kr.Sign(auth.NewClaims("joevu", auth.TypeAccess, now, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := kr.Sign(auth.NewClaims("joevu", auth.TypeRefresh, now, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	phc, err := auth.NewHasher(auth.TestParams(), 0).Hash(context.Background(), "a-password-only-this-test-knows")
	if err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return secrets{access: access, refresh: refresh, phc: phc, pemKey: pemKey, password: "a-password-only-this-test-knows", signingKey: string(key)}
}

// TestCheckerFailsOnPlantedSecrets: a line holding a token, a password,
// a PHC hash or key material fails the test that logged it, through the
// logger, the writer and the tee alike; the failure shows the line masked,
// never the secret.
func TestCheckerFailsOnPlantedSecrets(t *testing.T) {
	t.Parallel()
	s := makeSecrets(t)
	for _, tc := range []struct {
		name string
		log  func(ft *fakeT)
		kind string
	}{
		{"access token in an attribute", func(ft *fakeT) { logcheck.New(ft).Info("login", "token", s.access) }, "JWT"},
		{"refresh token in a message", func(ft *fakeT) { logcheck.New(ft).Warn("refresh reused: " + s.refresh) }, "JWT"},
		{"bearer header", func(ft *fakeT) {
			logcheck.New(ft).Debug("request", "authorization", "Bearer "+strings.ReplaceAll(s.access, "eyJ", "x"))
		}, "bearer token"},
		{"registered password", func(ft *fakeT) {
			logcheck.Secret(ft, s.password)
			logcheck.New(ft).Info("user created", "note", "first login with "+s.password)
		}, "registered secret"},
		{"fixture password", func(ft *fakeT) {
			logcheck.New(ft).Warn("demo mode: created joevu (password glinteco)")
		}, "registered secret"},
		{"password attribute", func(ft *fakeT) {
			logcheck.New(ft).Warn("created user 'admin'", "password", "Zr8xq0-random-value")
		}, "secret-named value"},
		{"password in JSON", func(ft *fakeT) {
			logcheck.New(ft).Info("request body", "body", `{"username":"x","password":"hunter2hunter2"}`)
		}, "secret-named value"},
		{"PHC hash", func(ft *fakeT) { logcheck.New(ft).Error("rehash failed", "hash", s.phc) }, "argon2 PHC hash"},
		{"PEM private key", func(ft *fakeT) { fmt.Fprint(logcheck.Writer(ft), "key:\n"+s.pemKey) }, "PEM block"},
		{"signing key, base64", func(ft *fakeT) {
			logcheck.Secret(ft, s.signingKey)
			logcheck.New(ft).Debug("keyring", "k", base64.RawURLEncoding.EncodeToString([]byte(s.signingKey)))
		}, "registered secret"},
		{"database URL password", func(ft *fakeT) {
			fmt.Fprintln(logcheck.Writer(ft), "connect postgres://app:s3cr3t-db-pass@db:5432/wh failed")
		}, "URL password"},
		{"a process's stderr, tee'd, without a final newline", func(ft *fakeT) {
			var keep strings.Builder
			fmt.Fprint(logcheck.Tee(ft, &keep), "time=now level=INFO msg=x token="+s.access)
		}, "JWT"},
		{"through a multi handler, with groups", func(ft *fakeT) {
			l := slog.New(slog.NewMultiHandler(slog.DiscardHandler, logcheck.Handler(ft)))
			l.WithGroup("req").With("h", "Bearer "+s.access).Info("x")
		}, "bearer token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ft := &fakeT{}
			tc.log(ft)
			ft.end()
			if len(ft.errors) != 1 {
				t.Fatalf("the checker reported %d errors, want 1: %q", len(ft.errors), ft.errors)
			}
			msg := ft.errors[0]
			if !strings.Contains(msg, "<"+tc.kind+">") {
				t.Errorf("the report does not name %q: %s", tc.kind, msg)
			}
			for _, secret := range []string{s.access, s.refresh, s.phc, s.password, s.signingKey, "glinteco", "Zr8xq0-random-value", "s3cr3t-db-pass", "hunter2hunter2"} {
				if strings.Contains(msg, secret) {
					t.Errorf("the report prints the secret: %s", msg)
				}
			}
		})
	}
}

// TestCheckerPassesOrdinaryLines: the lines the server does write pass,
// and a test that fails for another reason gets its log lines printed.
func TestCheckerPassesOrdinaryLines(t *testing.T) {
	t.Parallel()
	ft := &fakeT{}
	l := logcheck.New(ft)
	l.Info("request", "method", "GET", "path", "/api/v1/items?cursor=eyJsIjoiaXRlbXMiLCJrIjpbMV19", "status", 200)
	l.Info("answer", "www_authenticate", `Bearer error="invalid_token", error_description="Signature has expired"`)
	l.Info("refused", "detail", "Bad Authorization header. Expected value 'Bearer <JWT>'")
	l.Warn("database writes failing", "database", "postgres://postgres:xxxxx@127.0.0.1:5432/wh", "err", "disk full")
	l.Info("config", "jwt_secret", "[redacted]", "admin_password", "")
	l.Info("audit", "kind", "password_changed", "actor", "joevu")
	l.Info("validation", "errors", "new_password: must be at least 8 characters")
	l.Info("created user 'admin'; change it with `warehouse users set-password admin`")
	ft.end()
	if len(ft.errors) != 0 {
		t.Fatalf("ordinary lines reported: %q", ft.errors)
	}
	if len(ft.logs) != 0 {
		t.Errorf("a passing test printed its logs: %q", ft.logs)
	}

	failing := &fakeT{failed: true}
	logcheck.New(failing).Info("something the failing test logged")
	failing.end()
	if len(failing.logs) != 1 || !strings.Contains(failing.logs[0], "something the failing test logged") {
		t.Errorf("a failing test's log lines were not printed: %q", failing.logs)
	}
}

// TestScanAndMask: Scan finds each kind; Mask hides exactly what it found.
func TestScanAndMask(t *testing.T) {
	t.Parallel()
	s := makeSecrets(t)
	line := "a=" + s.access + " b=" + s.phc + " c=glinteco"
	fs := logcheck.Scan(line)
	if len(fs) != 3 {
		t.Fatalf("Scan found %d, want 3: %+v", len(fs), fs)
	}
	if got, want := logcheck.Mask(line, fs), "a=<JWT> b=<argon2 PHC hash> c=<registered secret>"; got != want {
		t.Errorf("Mask = %q, want %q", got, want)
	}
}

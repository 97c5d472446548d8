package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// fastHash keeps argon2id cheap in tests; production defaults are OWASP's.
var fastHash = []string{"--argon2-memory", "64", "--argon2-iterations", "1"}

func noEnv(string) string { return "" }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs `warehouse serve` in-process until the returned stop is
// called, and waits until it answers.
func startServe(t *testing.T, args []string, getenv func(string) string) (base string, logs *syncBuffer, stop func()) {
	t.Helper()
	return startServeAt(t, freeAddr(t), args, getenv)
}

// startServeAt is startServe listening at addr.
func startServeAt(t *testing.T, addr string, args []string, getenv func(string) string) (base string, logs *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	all := append([]string{"serve", "--addr", addr, "--log-format", "text"}, fastHash...)
	go func() {
		done <- run(ctx, append(all, args...), strings.NewReader(""), io.Discard, logcheck.Tee(t, logs), getenv)
	}()
	base = "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not start: %v\n%s", err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve returned %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return base, logs, stop
}

// TestServeRestart runs the binary's serve command twice on one data
// directory: users, the signing key and revocations survive the restart.
func TestServeRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, logs, stop := startServe(t, []string{"--data", dir, "--demo"}, noEnv)
	if !strings.Contains(logs.String(), "created user 'admin' with a random password") {
		t.Errorf("first start did not announce the admin password:\n%s", logs)
	}
	// The generated password is in a file only this user reads, not in
	// the log (logcheck fails a log line that holds one).
	pwFile := filepath.Join(dir, "initial_admin_password")
	if fi, err := os.Stat(pwFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the admin password file: %v, %v", fi, err)
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	logcheck.Secret(t, strings.TrimSpace(string(pw)))
	runSteps(t, base, step{method: "POST", path: "/login", body: loginBody("admin", strings.TrimSpace(string(pw))), status: 200})
	var revoked, kept string
	runSteps(t, base,
		step{method: "POST", path: "/login", body: loginBody("joevu", "glinteco"), status: 200, then: saveToken(&revoked)},
		step{method: "POST", path: "/login", body: loginBody("joevu", "glinteco"), status: 200, then: saveToken(&kept)},
		step{method: "DELETE", path: "/access-revoke", token: &revoked, status: 200},
	)
	stop()

	// At the same address, as a restarted server is: access tokens carry
	// the URL they were minted at as iss (no --public-url here).
	base, logs, _ = startServeAt(t, strings.TrimPrefix(base, "http://"), []string{"--data", dir, "--demo"}, noEnv)
	if strings.Contains(logs.String(), "created user") {
		t.Errorf("second start created users again:\n%s", logs)
	}
	runSteps(t, base,
		step{method: "GET", path: "/user", token: &revoked, status: 401, want: problem{Detail: "Token has been revoked"}},
		step{method: "GET", path: "/user", token: &kept, status: 200, want: userResponse{User: "joevu"}},
	)
}

func TestServeSigningSecret(t *testing.T) {
	t.Parallel()
	strong := "k3y-0f-at-least-32-bytes-Zq8!xR2@pL5#vN9$"
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(strong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"tutorial's secret refused", []string{"--jwt-secret", "secret"}, "refusing the signing secret"},
		{"short secret refused", []string{"--jwt-secret", "0123456789abcdef"}, "refusing the signing secret"},
		{"missing secret file", []string{"--jwt-secret-file", "/nonexistent/secret"}, "--jwt-secret-file"},
		{"unsupported algorithm", []string{"--jwt-algorithm", "none"}, "not supported"},
		{"bad log level", []string{"--log-level", "loud"}, "--log-level"},
		{"unknown flag", []string{"--no-such-flag"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)
			err := run(context.Background(), args, strings.NewReader(""), io.Discard, logcheck.Writer(t), noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(fmt.Sprint(err), "0123456789abcdef") {
				t.Error("error echoes the secret")
			}
		})
	}
	t.Run("insecure dev key allowed explicitly", func(t *testing.T) {
		t.Parallel()
		base, _, _ := startServe(t, []string{"--data", t.TempDir(), "--jwt-secret", "secret", "--insecure-dev-key", "--demo"}, noEnv)
		runSteps(t, base, step{method: "POST", path: "/login", body: loginBody("joevu", "glinteco"), status: 200})
	})
	t.Run("secret from file", func(t *testing.T) {
		t.Parallel()
		base, _, _ := startServe(t, []string{"--data", t.TempDir(), "--jwt-secret-file", secretFile, "--demo"}, noEnv)
		runSteps(t, base, step{method: "POST", path: "/login", body: loginBody("joevu", "glinteco"), status: 200})
	})
}

func TestPrintConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"WAREHOUSE_JWT_SECRET":     "an-environment-secret-that-is-long-enough",
		"WAREHOUSE_ACCESS_TTL":     "5m",
		"WAREHOUSE_ADDR":           ":9999",
		"WAREHOUSE_DATABASE_URL":   "postgres://app:hunter2@db:5432/warehouse",
		"WAREHOUSE_ADMIN_PASSWORD": "admin-password-from-env",
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve", "--print-config", "--addr", ":7000"}, nil, &out, logcheck.Writer(t),
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"access-ttl             5m0s", "addr                   :7000", "jwt-secret             [redacted]", "admin-password         [redacted]", "postgres://app:xxxxx@db:5432/warehouse"} {
		if !strings.Contains(s, want) {
			t.Errorf("print-config lacks %q:\n%s", want, s)
		}
	}
	for _, secret := range []string{"an-environment-secret", "hunter2", "admin-password-from-env"} {
		if strings.Contains(s, secret) {
			t.Errorf("print-config shows a secret %q", secret)
		}
	}
}

func TestBadEnvironment(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"serve", "--print-config"}, nil, io.Discard, logcheck.Writer(t),
		func(k string) string {
			if k == "WAREHOUSE_ACCESS_TTL" {
				return "fifteen minutes"
			}
			return ""
		})
	if err == nil || !strings.Contains(err.Error(), "WAREHOUSE_ACCESS_TTL") {
		t.Fatalf("err = %v", err)
	}
}

// TestDotEnv reads settings from .env in the working directory; the real
// environment wins over it.
func TestDotEnv(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(".env", []byte("WAREHOUSE_ACCESS_TTL=7m\nWAREHOUSE_ADDR=:8123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "WAREHOUSE_ADDR" {
			return ":8456"
		}
		return ""
	}
	if err := run(context.Background(), []string{"serve", "--print-config"}, nil, &out, logcheck.Writer(t), getenv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "access-ttl             7m0s") || !strings.Contains(out.String(), "addr                   :8456") {
		t.Errorf("print-config:\n%s", out.String())
	}
}

func TestUsersCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	users := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		all := append(append([]string{"users"}, args...), append([]string{"--data", dir}, fastHash...)...)
		err := run(context.Background(), all, strings.NewReader(stdin), &out, logcheck.Writer(t), noEnv)
		return out.String(), err
	}
	steps := []struct {
		stdin   string
		args    []string
		want    string
		wantErr string
	}{
		{"s3cret-password\n", []string{"create", "alice", "--role", "clerk", "--password-stdin"}, "created user alice with roles clerk", ""},
		{"", []string{"create", "bob"}, "password: ", ""},
		{"", []string{"create", "alice"}, "", "already exists"},
		{"", []string{"create", "bad name"}, "", "username may contain only"},
		{"short\n", []string{"create", "carol", "--password-stdin"}, "", "password must be 8 to 1024 characters"},
		{"", []string{"create", "dave", "--role", "emperor"}, "", "unknown role"},
		{"", []string{"set-roles", "alice", "manager,viewer"}, "roles of alice set to viewer,manager", ""},
		{"", []string{"set-roles", "nobody", "viewer"}, "", "not found"},
		{"n3w-password-ok\n", []string{"set-password", "alice", "--password-stdin"}, "password of alice changed", ""},
		{"", []string{"disable", "bob"}, "user bob disabled", ""},
		{"", []string{"list"}, "alice     viewer,manager  true", ""},
		{"", []string{"frobnicate"}, "", "unknown subcommand"},
	}
	for _, s := range steps {
		out, err := users(s.stdin, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("users %v: err = %v, want %q", s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil || !strings.Contains(out, s.want) {
			t.Errorf("users %v: %v, output %q, want %q", s.args, err, out, s.want)
		}
	}
	out, _ := users("", "list")
	if !strings.Contains(out, "bob") || !strings.Contains(out, "false") {
		t.Errorf("list after disable:\n%s", out)
	}

	// The changed password works against a server on the same data.
	base, _, _ := startServe(t, []string{"--data", dir}, noEnv)
	runSteps(t, base,
		step{method: "POST", path: "/login", body: loginBody("alice", "n3w-password-ok"), status: 200}, // the new password
		step{method: "POST", path: "/login", body: loginBody("alice", "s3cret-password"), status: 401}, // not the old one
	)
}

// TestUsersUnknownSubcommandCreatesNothing: a typo in the subcommand is
// refused before the database is opened, so no database appears.
func TestUsersUnknownSubcommandCreatesNothing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	err := run(context.Background(), []string{"users", "lsit", "--data", dir}, nil, io.Discard, logcheck.Writer(t), noEnv)
	if err == nil || !strings.Contains(err.Error(), `unknown subcommand "lsit"`) {
		t.Fatalf("users lsit: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("users lsit created %s (stat: %v)", dir, err)
	}
}

func TestMigrateAndVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--data", t.TempDir()}, nil, &out, logcheck.Writer(t), noEnv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "schema version") {
		t.Errorf("migrate: %s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"version"}, nil, &out, logcheck.Writer(t), noEnv); err != nil || !strings.HasPrefix(out.String(), "warehouse ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"bogus"}, nil, io.Discard, logcheck.Writer(t), noEnv); err == nil {
		t.Error("unknown command accepted")
	}
}

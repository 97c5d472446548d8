package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// logBuffer collects log records from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfig is a server on a new database on engine, on a free loopback
// port, with cheap password hashes.
func testConfig(t *testing.T, engine string) Config {
	c := Defaults()
	c.Addr = "127.0.0.1:0"
	c.DatabaseURL = pgtest.URL(t, engine)
	c.HashWorkers = "inline"
	c.ArgonMemory, c.ArgonIterations = 64, 1
	c.AdminPassword = "app-test-admin-password"
	c.LogFormat = "text"
	c.Version = "test"
	return c
}

// TestCloseJoinsLoops: Close returns only once every background loop the
// App started has returned, and the database is closed after them, on
// both engines; the loops poll every 10ms meanwhile, so one that outlived
// the database would meet it closed and say so in the log.
func TestCloseJoinsLoops(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		pgtest.SQLite:   {"auth state sync", "key follower", "order expiry", "purge", "webhook sender"},
		pgtest.Postgres: {"auth events", "auth state sync", "event follower", "key follower", "listen", "order expiry", "purge", "webhook sender"},
	}
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		cfg := testConfig(t, engine)
		cfg.SyncInterval = 10 * time.Millisecond
		logs := &logBuffer{}
		log := slog.New(slog.NewTextHandler(logcheck.Tee(t, logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
		a, err := Open(context.Background(), cfg, Deps{Log: log})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()

		// A login and a revocation: auth events for the sync loop, and on
		// PostgreSQL a NOTIFY for the listener.
		base := "http://" + a.Addr().String()
		resp, err := http.Post(base+"/login", "application/json", strings.NewReader(`{"username":"admin","password":"app-test-admin-password"}`))
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err := decodeJSON(resp, &tok); err != nil || tok.AccessToken == "" {
			t.Fatalf("login: %d %v", resp.StatusCode, err)
		}
		req, _ := http.NewRequest(http.MethodDelete, base+"/access-revoke", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("access-revoke: %d", resp.StatusCode)
		}

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		a.mu.Lock()
		started, stopped := slices.Sorted(slices.Values(a.started)), slices.Sorted(slices.Values(a.stopped))
		a.mu.Unlock()
		if diff := cmp.Diff(want[engine], started); diff != "" {
			t.Errorf("loops started (-want +got):\n%s", diff)
		}
		// A loop that returned after the database closed is named so.
		if diff := cmp.Diff(started, stopped); diff != "" {
			t.Errorf("loops stopped before the database closed (-started +stopped):\n%s", diff)
		}
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, "closed") {
				t.Errorf("log: %s", line)
			}
		}
		if err := a.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestOpenRefusesBadConfig: Open validates the whole Config first, and a
// server it refuses leaves nothing behind: no database file.
func TestOpenRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"bare port", func(c *Config) { c.Addr = "8000" }, "--addr 8000 (WAREHOUSE_ADDR): a listen address is HOST:PORT"},
		{"access ttl", func(c *Config) { c.AccessTTL = 0 }, "--access-ttl must be at least 1s"},
		{"samesite", func(c *Config) { c.CookieSameSite = "sometimes" }, `--cookie-samesite must be lax, strict or none, not "sometimes"`},
		{"claims", func(c *Config) { c.Claims = `{"sub":"x"}` }, `--claims may not set "sub"`},
		{"algorithm", func(c *Config) { c.Algorithm = "HS1" }, `--jwt-algorithm "HS1" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := Defaults()
			c.DataDir = dir + "/data"
			tc.change(&c)
			a, err := Open(context.Background(), c, Deps{})
			if err == nil {
				a.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if _, err := os.Stat(c.DataDir); !os.IsNotExist(err) {
				t.Errorf("data directory created: %v", err)
			}
		})
	}
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestDefaultsValid: the defaults are a configuration Open accepts.
func TestDefaultsValid(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

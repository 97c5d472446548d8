// Package pgtest runs throwaway PostgreSQL clusters for tests, and runs
// storage tests on every database engine warehouse supports.
//
// A test binary shares one cluster (started on first use, stopped by Main
// from TestMain) and gets a fresh database per test, so the whole suite
// runs on PostgreSQL at little more than the cost of SQLite. The cluster
// lives in a temp dir, listens on a free port on 127.0.0.1 and runs
// without fsync (its data is thrown away; PGTEST_DURABLE=1 turns fsync
// back on, for benchmarks).
//
// PostgreSQL refuses to run as root, so when the tests run as root (as CI
// does) initdb and pg_ctl run as the "postgres" system user.
//
// Without PostgreSQL binaries the PostgreSQL subtests are skipped, except
// when CI=true, where they fail: CI must never pass by skipping.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// Engine names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Engines are the database engines every storage test runs on.
var Engines = []string{SQLite, Postgres}

// ForEach runs fn as a parallel subtest per engine (named after it).
func ForEach(t *testing.T, fn func(t *testing.T, engine string)) {
	t.Helper()
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, engine)
		})
	}
}

// URL returns the URL of a new, empty database on engine, for tb alone: a
// SQLite file in a temp dir, or a new database in the shared cluster.
func URL(tb testing.TB, engine string) string {
	tb.Helper()
	switch engine {
	case SQLite:
		return "sqlite:" + filepath.Join(tb.TempDir(), "warehouse.db")
	case Postgres:
		return Shared(tb).NewDatabase(tb)
	}
	tb.Fatalf("pgtest: unknown engine %q", engine)
	return ""
}

// Cluster is a running PostgreSQL server in a temp dir.
type Cluster struct {
	dir  string // owned by the server's user; data/ and the socket inside
	bin  string // directory of initdb, pg_ctl, postgres
	port int
	cred *syscall.Credential // nil: run as ourselves

	admin *sql.DB // on database "postgres", for CREATE DATABASE
	seq   atomic.Int64
}

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
)

// Shared returns the test binary's cluster, starting it on first use. It
// skips tb when PostgreSQL is not installed, unless CI=true.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	sharedOnce.Do(func() { shared, sharedErr = Start() })
	if sharedErr != nil {
		Unavailable(tb, sharedErr)
	}
	return shared
}

// Unavailable skips tb because of err (PostgreSQL missing or not
// starting), or fails it under CI=true.
func Unavailable(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("PostgreSQL is required in CI: %v", err)
	}
	tb.Skipf("PostgreSQL unavailable, skipping (CI=true makes this a failure): %v", err)
}

// Main runs the tests and stops the shared cluster, if one was started.
// Use it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	// Every log line of the tests, the default logger's too, is checked
	// for secrets (internal/logcheck).
	code := logcheck.Main(m.Run)
	if shared != nil {
		shared.Remove()
	}
	return code
}

// ErrNotInstalled says no PostgreSQL binaries were found.
var ErrNotInstalled = errors.New("initdb not found on PATH nor in /usr/lib/postgresql/*/bin")

// BinDir finds the directory of initdb: on PATH, else Debian's
// /usr/lib/postgresql/<version>/bin (newest version first).
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	if len(dirs) > 0 {
		return filepath.Dir(dirs[0]), nil
	}
	return "", ErrNotInstalled
}

func version(initdb string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(initdb))), 64)
	return v
}

// Start initialises and starts a new cluster. Remove stops it and deletes
// its files.
func Start() (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and PostgreSQL refuses root: need the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	c.dir, err = os.MkdirTemp("", "warehouse-pgtest-")
	if err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			c.Remove()
			return nil, err
		}
	}
	if out, err := c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		c.Remove()
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	if c.port, err = freePort(); err != nil {
		c.Remove()
		return nil, err
	}
	if err := c.Restart(); err != nil {
		c.Remove()
		return nil, err
	}
	c.admin, err = sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		c.Remove()
		return nil, err
	}
	c.admin.SetMaxOpenConns(2)
	return c, nil
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Restart starts the server (again, after Stop) on the same port, and
// waits until it accepts connections.
func (c *Cluster) Restart() error {
	opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k %s -c max_connections=500 -c shared_buffers=64MB", c.port, c.dir)
	if os.Getenv("PGTEST_DURABLE") != "1" {
		// Test data is thrown away; PGTEST_DURABLE=1 keeps PostgreSQL's
		// defaults, for benchmarks that should pay for durability.
		opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	out, err := c.run("pg_ctl", "start", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "-o", opts)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		return fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, log)
	}
	return nil
}

// Stop stops the server at once (fast shutdown: sessions are ended,
// transactions rolled back), as an outage would.
func (c *Cluster) Stop() error {
	if out, err := c.run("pg_ctl", "stop", "-D", c.data(), "-m", "fast", "-w"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

// Remove stops the server and deletes its files.
func (c *Cluster) Remove() {
	if c.admin != nil {
		c.admin.Close()
	}
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		_, _ = c.run("pg_ctl", "stop", "-D", c.data(), "-m", "immediate", "-w")
	}
	_ = os.RemoveAll(c.dir)
}

// URL is the connection URL of database name.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// NewDatabase creates an empty database for tb and drops it when tb ends.
func (c *Cluster) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a test may leave connections behind (a server it did not
		// shut down); the database goes anyway.
		_, _ = c.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return c.URL(name)
}

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// String names the cluster for logs.
func (c *Cluster) String() string {
	return fmt.Sprintf("PostgreSQL at 127.0.0.1:%d (%s)", c.port, strings.TrimSuffix(c.bin, "/bin"))
}

// Package store keeps the domain in SQL: users, signing keys, revocations
// and refresh tokens, on an embedded SQLite database (and, later, on
// PostgreSQL behind the same methods). Migrations are embedded and applied
// at open.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/warehouse-api/warehouse"
)

//go:embed migrations
var migrations embed.FS

// DB is the database behind the server.
type DB struct {
	// write has exactly one connection: SQLite allows one writer, and
	// queueing writers in Go is cheaper and fairer than SQLITE_BUSY retries.
	write *sql.DB
	// read has several connections for concurrent readers (WAL mode).
	read *sql.DB
	// now is the clock; tests may replace it.
	now func() time.Time
	// Path is the SQLite file, for messages.
	Path string
}

// Options tune Open.
type Options struct {
	// BusyTimeout is how long a statement waits for a lock before failing.
	BusyTimeout time.Duration
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Open opens (creating if needed) the database named by databaseURL, or, if
// it is empty, a SQLite file in dataDir, and applies pending migrations.
func Open(ctx context.Context, databaseURL, dataDir string, opt Options) (*DB, error) {
	path, err := sqlitePath(databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	if opt.BusyTimeout <= 0 {
		opt.BusyTimeout = 5 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	// busy_timeout first so that the pragmas after it wait instead of failing.
	params := url.Values{}
	params.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opt.BusyTimeout.Milliseconds()))
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(NORMAL)")
	params.Add("_pragma", "foreign_keys(ON)")
	base := "file:" + (&url.URL{Path: path}).EscapedPath()

	write, err := sql.Open("sqlite", base+"?"+params.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)

	db := &DB{write: write, now: opt.Now, Path: path}
	if err := db.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}

	read, err := sql.Open("sqlite", base+"?"+params.Encode()+"&_pragma=query_only(ON)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open database %s for reading: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	db.read = read
	if err := read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s for reading: %w", path, err)
	}
	return db, nil
}

func sqlitePath(databaseURL, dataDir string) (string, error) {
	switch {
	case databaseURL == "":
		if dataDir == "" {
			dataDir = "."
		}
		return filepath.Join(dataDir, "warehouse.db"), nil
	case strings.HasPrefix(databaseURL, "sqlite://"):
		return strings.TrimPrefix(databaseURL, "sqlite://"), nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return strings.TrimPrefix(databaseURL, "sqlite:"), nil
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return "", errors.New("PostgreSQL is not supported by this build yet; use the embedded SQLite (leave --database-url empty)")
	default:
		return "", fmt.Errorf("unsupported database URL scheme in %q: use sqlite:PATH", redactURL(databaseURL))
	}
}

// redactURL hides a password in a database URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// RedactURL returns databaseURL with any password replaced, for logs.
func RedactURL(databaseURL string) string { return redactURL(databaseURL) }

func (db *DB) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations/sqlite")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, fsys)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", wrapErr(err))
	}
	return nil
}

// Migrate applies pending migrations (Open already does; this is for the
// `migrate` command, which reports the version).
func (db *DB) Version(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", wrapErr(err))
	}
	return v.Int64, nil
}

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	return errors.Join(errs...)
}

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return wrapErr(err)
	}
	return nil
}

// tx runs fn in one write transaction (BEGIN IMMEDIATE on SQLite).
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return wrapErr(err)
	}
	return nil
}

// wrapErr turns driver errors that mean "try again later" into the domain's
// EUNAVAILABLE so that the HTTP layer answers 503, not 500.
func wrapErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return &unavailableError{err: err}
		}
	}
	// A closed pool or a broken connection is an outage, not a bug in the
	// request. database/sql does not export its "database is closed" error.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "sql: database is closed") {
		return &unavailableError{err: err}
	}
	return err
}

// unavailableError is a domain EUNAVAILABLE error that keeps the driver
// error for logs.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "database unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() []error {
	return []error{e.err, &warehouse.Error{Code: warehouse.EUNAVAILABLE, Message: "The database is unavailable; try again shortly"}}
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

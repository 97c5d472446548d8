// Package store keeps the domain in SQL: users, signing keys, revocations,
// sessions and the warehouse, on an embedded SQLite database or on
// PostgreSQL, with one implementation and a small dialect (dialect.go).
// Migrations are embedded, one set per engine, and applied at open.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// DB is the database behind the server.
type DB struct {
	// write runs every write transaction. On SQLite it has exactly one
	// connection: SQLite allows one writer, and queueing writers in Go is
	// cheaper and fairer than SQLITE_BUSY retries. On PostgreSQL it is the
	// one pool, shared with read.
	write *conn
	// read has several connections for concurrent readers (WAL mode); on
	// PostgreSQL it is the same pool as write.
	read *conn
	// pg is set on PostgreSQL: the dialect differences hang off it.
	pg bool
	// batch runs SQLite's write transactions, grouped (batch.go); nil on
	// PostgreSQL.
	batch *batcher
	// ckpt checkpoints SQLite's WAL in the background (checkpoint.go).
	ckpt *checkpointer
	// pgConfig is the parsed PostgreSQL URL, for the LISTEN connection.
	pgConfig *pgx.ConnConfig
	// now is the clock; tests may replace it.
	now func() time.Time
	// log receives the security events recorded (audit.go) and, through
	// faultWatch, the storage faults.
	log *slog.Logger
	// Path is the SQLite file, or the PostgreSQL URL without its password,
	// for messages.
	Path string
	// rawURL is the PostgreSQL URL as given, password included: only for
	// scrubbing it out of driver errors (redact.go), never shown.
	rawURL string
	// writes watches the outcome of write transactions, for the log
	// (faults.go); conn.watch does the same for reads.
	writes *faultWatch
	// file is the SQLite database file's identity (fileid.go); nil on
	// PostgreSQL.
	file *fileID
	// metrics is told of group commits (SQLite; never nil).
	metrics BatchMetrics
	// feed wakes the readers of the event log after a commit (events.go).
	feed eventFeed
}

// Options tune Open.
type Options struct {
	// BusyTimeout is how long a statement waits for a lock before failing
	// (SQLite).
	BusyTimeout time.Duration
	// MaxConns caps the PostgreSQL pool (default 10).
	MaxConns int
	// StatementTimeout cancels PostgreSQL statements running longer (0:
	// the server's setting).
	StatementTimeout time.Duration
	// Now replaces the clock (tests).
	Now func() time.Time
	// Logger receives the storage faults, once per incident (faults.go);
	// nil means slog.Default().
	Logger *slog.Logger
	// NoMigrate leaves the schema as it is, for commands that only read
	// (warehouse check): beside a running server of an older version, a
	// newer binary must not migrate its database under it.
	NoMigrate bool
	// Metrics is told of SQLite's group commits (nil: nothing is).
	Metrics BatchMetrics
}

// Open opens (creating if needed) the database named by databaseURL, or, if
// it is empty, a SQLite file in dataDir, and applies pending migrations.
// A postgres:// or postgresql:// URL opens PostgreSQL.
func Open(ctx context.Context, databaseURL, dataDir string, opt Options) (*DB, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Metrics == nil {
		opt.Metrics = nopBatchMetrics{}
	}
	if isPostgresURL(databaseURL) {
		return openPostgres(ctx, databaseURL, opt)
	}
	path, err := sqlitePath(databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	if err := prepareDir(path, databaseURL == ""); err != nil {
		return nil, err
	}
	if opt.BusyTimeout <= 0 {
		opt.BusyTimeout = 5 * time.Second
	}
	// busy_timeout first so that the pragmas after it wait instead of failing.
	params := url.Values{}
	params.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opt.BusyTimeout.Milliseconds()))
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(NORMAL)")
	params.Add("_pragma", "foreign_keys(ON)")
	base := "file:" + (&url.URL{Path: path}).EscapedPath()

	// The write connection never checkpoints: the checkpointer does, so
	// that no request pays for it (checkpoint.go). Its statement and
	// savepoint journals stay in memory (temp_store): every request runs
	// in a savepoint (batch.go), and those journals only ever serve to
	// roll back inside a live transaction, so a file buys nothing but
	// write syscalls.
	write, err := sql.Open("sqlite", base+"?"+params.Encode()+"&_pragma=wal_autocheckpoint(0)&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)

	db := &DB{write: &conn{db: write, cache: newStmtCache(write)}, now: opt.Now, log: opt.Logger, Path: path, metrics: opt.Metrics}
	// Processes starting together on one database migrate one at a time;
	// the later ones then find nothing to do.
	unlock, err := lockDir(ctx, filepath.Dir(path))
	if err != nil {
		write.Close()
		return nil, err
	}
	// The file's identity and the lock restore looks for, before SQLite
	// opens it (fileid.go).
	if db.file, err = openFileID(path); err != nil {
		unlock()
		write.Close()
		return nil, err
	}
	if !opt.NoMigrate {
		err = db.migrate(ctx)
	}
	unlock()
	if err != nil {
		write.Close()
		db.file.close()
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
	db.read = &conn{db: read, cache: newStmtCache(read), watch: newFaultWatch(opt.Logger, "reads", path, "")}
	db.writes = newFaultWatch(opt.Logger, "writes", path, "")
	if err := read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s for reading: %w", path, err)
	}
	ckpt, err := sql.Open("sqlite", base+"?"+params.Encode())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s for checkpoints: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)
	ckpt.SetMaxIdleConns(1)
	db.ckpt = newCheckpointer(ckpt)
	db.batch = newBatcher(db, db.ckpt.committed)
	return db, nil
}

// CheckURL reports what is wrong with databaseURL without opening it: an
// unknown scheme, a sqlite: URL without a path, a PostgreSQL URL that does
// not parse. Its messages never show a password.
func CheckURL(databaseURL string) error {
	if isPostgresURL(databaseURL) {
		if _, err := pgx.ParseConfig(databaseURL); err != nil {
			return fmt.Errorf("invalid PostgreSQL URL %s: %w", Redact(databaseURL), redactErr(err, databaseURL))
		}
		return nil
	}
	_, err := sqlitePath(databaseURL, "")
	return err
}

// prepareDir makes sure the database file at path can be created and
// written, and says why not in words a person can act on: SQLite itself
// only says "unable to open database file (14)". The directory of the
// default database (--data) is created; the directory of a sqlite:PATH
// the operator named must exist, so that a typo is an error rather than
// a new, empty database somewhere else.
func prepareDir(path string, create bool) error {
	dir := filepath.Dir(path)
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create data directory %s: %w", dir, describeFSErr(err))
		}
	} else if fi, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("database %s: directory %s does not exist (create it first; --data creates its own directory)", path, dir)
		}
		return fmt.Errorf("database %s: %w", path, describeFSErr(err))
	} else if !fi.IsDir() {
		return fmt.Errorf("database %s: %s is not a directory", path, dir)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("database %s is a directory; name a file in it, e.g. %s", path, filepath.Join(path, "warehouse.db"))
	}
	// SQLite creates the -wal and -shm files next to the database: the
	// directory must be writable, not only the file.
	probe, err := os.CreateTemp(dir, ".warehouse-write-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in data directory %s: %w", dir, describeFSErr(err))
	}
	probe.Close()
	_ = os.Remove(probe.Name())
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot write database %s: %w", path, describeFSErr(err))
	}
	return nil
}

// describeFSErr is the reason of a file system error without the path
// the caller already names: "permission denied", "read-only file system".
func describeFSErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// IsPostgres reports whether the database is PostgreSQL.
func (db *DB) IsPostgres() bool { return db.pg }

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func sqlitePath(databaseURL, dataDir string) (string, error) {
	switch {
	case databaseURL == "":
		if dataDir == "" {
			dataDir = "."
		}
		return filepath.Join(dataDir, "warehouse.db"), nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "//")
		if path == "" {
			return "", errors.New("database URL sqlite: names no file: write sqlite:PATH, e.g. sqlite:./data/warehouse.db, or leave --database-url empty to use --data")
		}
		return path, nil
	default:
		if passwordParam.MatchString(databaseURL) || strings.Contains(databaseURL, "host=") || strings.Contains(databaseURL, "dbname=") {
			return "", fmt.Errorf("database URL %q looks like a PostgreSQL keyword/value string: write it as a URL, postgres://USER:PASSWORD@HOST:5432/DB?sslmode=require", Redact(databaseURL))
		}
		return "", fmt.Errorf("unsupported database URL %q: use sqlite:PATH or postgres://USER:PASSWORD@HOST:5432/DB", Redact(databaseURL))
	}
}

func (db *DB) migrate(ctx context.Context) error {
	dir, dialect := "migrations/sqlite", goose.DialectSQLite3
	var opts []goose.ProviderOption
	if db.pg {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
		// Instances starting at once must not apply the same migration
		// twice: goose holds an advisory lock while it migrates.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// goose runs the engine's own SQL files, not ours: the raw pool.
	p, err := goose.NewProvider(dialect, db.write.raw(), fsys, opts...)
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
func (db *DB) Version(ctx context.Context) (_ int64, err error) {
	defer wrap(&err, "Version")
	var v sql.NullInt64
	err = db.read.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", wrapErr(err))
	}
	return v.Int64, nil
}

// Close closes the database. On SQLite, the write transactions already
// queued run first; those arriving later fail with EUNAVAILABLE.
func (db *DB) Close() error {
	if db.batch != nil {
		db.batch.stop()
	}
	var errs []error
	if db.ckpt != nil {
		db.ckpt.stop()
		errs = append(errs, db.ckpt.db.Close())
	}
	for _, c := range []*conn{db.read, db.write} {
		if c != nil && c.cache != nil {
			c.cache.close()
		}
	}
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.close())
	}
	if !db.pg {
		// Leave an empty WAL behind, now that nothing else writes. A
		// failure only leaves the WAL for the next open to replay.
		_, _ = db.write.ExecContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	errs = append(errs, db.write.close())
	// Last: closing it earlier would drop SQLite's locks (fileid.go).
	errs = append(errs, db.file.close())
	return errors.Join(errs...)
}

// Ping checks that the database answers, for readiness probes, and on
// SQLite that its file is still the one the store opened (fileid.go). A
// failure is logged as a failure of writes, which it predicts; a success
// clears nothing: a ping does not write, and it succeeds on a read-only
// database whose writes fail.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer wrap(&err, "Ping")
	if err := db.file.check(); err != nil {
		return db.writes.observeFailure(&unavailableError{err: err})
	}
	if err := db.write.ping(ctx); err != nil {
		return db.writes.observeFailure(wrapErr(err))
	}
	return nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

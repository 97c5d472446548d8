package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/warehouse-api/warehouse"
)

// The store's SQL is written once, in the subset SQLite and PostgreSQL
// share: ? placeholders (rebound to $n for PostgreSQL here), INSERT ... ON
// CONFLICT and RETURNING (both engines), integers for timestamps. What
// differs is kept in this file: placeholders, row locks (SQLite has one
// writer, PostgreSQL runs transactions at READ COMMITTED and locks rows),
// the retry of serialization failures and deadlocks, and error mapping.

// conn is a pool that speaks the dialect: queries are written with ? and
// rebound for PostgreSQL.
type conn struct {
	// db is unexported, not embedded: the promoted methods of *sql.DB
	// would take ? unbound and fail on PostgreSQL only. Use raw().
	db *sql.DB
	pg bool
	// cache holds prepared statements (SQLite only; nil on PostgreSQL).
	cache *stmtCache
	// binds remembers rebound statements (PostgreSQL only).
	binds *rebinds
	// watch logs the faults of the statements run on the pool (faults.go);
	// nil on SQLite's write pool, whose transactions DB.writes watches.
	watch *faultWatch
}

func (c *conn) bind(q string) string {
	if c.pg {
		return c.binds.rebind(q)
	}
	return q
}

func (c *conn) QueryContext(ctx context.Context, q string, args ...any) (rows *sql.Rows, err error) {
	defer func() { c.watch.observe(err) }()
	if c.cache != nil {
		if st := c.cache.prepare(ctx, q); st != nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return c.db.QueryContext(ctx, c.bind(q), args...)
}

func (c *conn) QueryRowContext(ctx context.Context, q string, args ...any) (row *sql.Row) {
	// Row.Err is the query's error, known now; sql.ErrNoRows only comes
	// with Scan and is not a fault.
	defer func() { c.watch.observe(row.Err()) }()
	if c.cache != nil {
		if st := c.cache.prepare(ctx, q); st != nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return c.db.QueryRowContext(ctx, c.bind(q), args...)
}

func (c *conn) ExecContext(ctx context.Context, q string, args ...any) (res sql.Result, err error) {
	defer func() { c.watch.observe(err) }()
	return c.db.ExecContext(ctx, c.bind(q), args...)
}

// begin starts a transaction on the pool. Its statements must go through
// a txn, which binds them.
func (c *conn) begin(ctx context.Context) (*sql.Tx, error) {
	return c.db.BeginTx(ctx, nil)
}

func (c *conn) ping(ctx context.Context) error { return c.db.PingContext(ctx) }

func (c *conn) close() error { return c.db.Close() }

// raw returns the pool itself, for code that speaks the engine's own
// dialect and is handed the pool (goose's migrations). Queries written
// with ? must not use it: nothing binds them.
func (c *conn) raw() *sql.DB { return c.db }

// txn is one write transaction in the dialect. Auth events are collected
// and written at the end (see flushEvents).
type txn struct {
	// tx is unexported, not embedded, for the reason given on conn. It is
	// nil on PostgreSQL's write transactions, which run on conn (pgtx.go).
	tx *sql.Tx
	// conn holds a PostgreSQL write transaction that the store began and
	// ends itself, so that the statements deferred to the commit (later)
	// go out with COMMIT in one round trip.
	conn *sql.Conn
	// deferred are the statements later queued for the commit.
	deferred []deferredExec
	pg       bool
	events   []pendingEvent
	// notify is set once auth events were written (PostgreSQL): the
	// commit is announced (see flushEvents).
	notify bool
	// wroteEvents is set by appendEvent: the commit wakes the event
	// log's readers (events.go).
	wroteEvents bool
	// cache is the write pool's statement cache (SQLite only).
	cache *stmtCache
	// binds is the pool's rebound statements (PostgreSQL; may be nil).
	binds *rebinds
	// local, when set, holds statements prepared in this transaction
	// (SQLite): a bulk import runs the same few statements 100,000 times in
	// one transaction, and the cache prepares only after a transaction.
	local map[string]*sql.Stmt
}

type pendingEvent struct {
	at            int64
	kind, subject string
}

func (tx *txn) bind(q string) string {
	if tx.pg {
		return tx.binds.rebind(q)
	}
	return q
}

// stmt returns q prepared on the transaction's connection, or nil. The
// statement was prepared on the same single write connection, so
// database/sql reuses it instead of preparing again.
func (tx *txn) stmt(ctx context.Context, q string) *sql.Stmt {
	if tx.cache == nil {
		return nil
	}
	if st, ok := tx.local[q]; ok {
		return st
	}
	if st := tx.cache.lookup(q); st != nil {
		st = tx.tx.StmtContext(ctx, st)
		if tx.local != nil {
			tx.local[q] = st
		}
		return st
	}
	if tx.local != nil {
		st, err := tx.tx.PrepareContext(ctx, q)
		if err != nil {
			// Run it unprepared: it reports its own error.
			return nil
		}
		tx.local[q] = st
		return st
	}
	return nil
}

// sqlRunner is what a transaction's statements run on: a *sql.Tx, or the
// *sql.Conn of a PostgreSQL transaction the store runs itself.
type sqlRunner interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func (tx *txn) q() sqlRunner {
	if tx.conn != nil {
		return tx.conn
	}
	return tx.tx
}

func (tx *txn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.q().QueryContext(ctx, tx.bind(q), args...)
}

func (tx *txn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := tx.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.q().QueryRowContext(ctx, tx.bind(q), args...)
}

func (tx *txn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := tx.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.q().ExecContext(ctx, tx.bind(q), args...)
}

// later runs a write whose result the transaction does not read (no rows,
// no count) as part of the commit: on PostgreSQL's store-run transactions
// it is queued and sent with COMMIT in one round trip (pgtx.go); anywhere
// else it runs now. mapErr, if not nil, turns the statement's error into
// the one the transaction fails with (a unique violation into a domain
// error, say), wherever it ran.
func (tx *txn) later(ctx context.Context, mapErr func(error) error, q string, args ...any) error {
	if tx.conn != nil {
		tx.deferred = append(tx.deferred, deferredExec{q: tx.bind(q), args: args, mapErr: mapErr})
		return nil
	}
	_, err := tx.ExecContext(ctx, q, args...)
	if err != nil && mapErr != nil {
		return mapErr(err)
	}
	return err
}

func (tx *txn) commit(ctx context.Context) error {
	if tx.conn != nil {
		return tx.commitConn(ctx)
	}
	return tx.tx.Commit()
}

func (tx *txn) rollback(ctx context.Context) error {
	if tx.conn != nil {
		return tx.rollbackConn(ctx)
	}
	return tx.tx.Rollback()
}

// forUpdate is the locking clause that makes a read-then-write safe on
// PostgreSQL: the row stays locked until commit, and a concurrent writer
// waits and then sees the new version. SQLite needs none: the transaction
// holds the database's one write lock from BEGIN IMMEDIATE.
func (tx *txn) forUpdate(alias string) string {
	if !tx.pg {
		return ""
	}
	if alias != "" {
		return " FOR UPDATE OF " + alias
	}
	return " FOR UPDATE"
}

// keyShare is the lock a movement takes on the items and locations it
// posts to: it does not block other movements, but an archive (which
// takes FOR UPDATE) waits for the movement, and the movement for it.
func (tx *txn) keyShare(alias string) string {
	if !tx.pg {
		return ""
	}
	return " FOR KEY SHARE OF " + alias
}

// lockRow locks one row of table by id on PostgreSQL, in a statement of its
// own: the reads after it take a new snapshot (READ COMMITTED), so they see
// whatever the transactions it waited for committed. The row may be
// missing; the caller's read says so.
func (tx *txn) lockRow(ctx context.Context, table string, id int64) error {
	if !tx.pg {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ? FOR UPDATE`, id)
	return wrapErr(err)
}

// Advisory lock keys (PostgreSQL). Any constant will do; they only have to
// differ from each other.
const (
	lockMasterData int64 = 0x77680001 // items and locations: cross-table uniqueness, the location tree
	lockSigningKey int64 = 0x77680002 // the first signing key of an algorithm
)

// serialize takes a transaction-scoped advisory lock on PostgreSQL, so
// that transactions taking the same key run one at a time, as every write
// transaction does on SQLite. It is used where a rule spans rows that no
// constraint or row lock covers (an item barcode must not be a location
// code; the location tree must stay a tree).
func (tx *txn) serialize(ctx context.Context, key int64) error {
	if !tx.pg {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, key); err != nil {
		return wrapErr(err)
	}
	return nil
}

// rebind turns ? placeholders into $1, $2, ... for PostgreSQL. It is a
// scanner, not a parser, and is exactly as good as the store's SQL needs:
//
//   - a ? inside a '...' literal (doubled quotes in it included) or a
//     "..." identifier is left alone;
//   - every other ? is the next placeholder, ?? included (two of them);
//   - :: casts and $n already in the text are copied unchanged (so ? and
//     $n must not be mixed in one statement);
//   - an unterminated quote copies the rest of the text unchanged.
//
// It does not know comments (-- ? and /* ? */ are rebound), backslash
// escapes in E'...' strings, $$dollar quoting$$, or PostgreSQL's ? jsonb operators: none of
// them may appear in the store's SQL. TestRebind pins all of this down.
func rebind(q string) string {
	if strings.IndexByte(q, '?') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch c {
		case '\'', '"':
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
			continue
		case '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// maxTxAttempts bounds how often tx runs a transaction that PostgreSQL
// aborted to resolve a conflict (deadlock, serialization failure).
const maxTxAttempts = 6

// errRetry asks tx to run the transaction again: a concurrent transaction
// committed something this one must see (on PostgreSQL only; with one
// writer, SQLite never gets there).
var errRetry = errors.New("store: transaction must be retried")

// tx runs fn in one write transaction (BEGIN IMMEDIATE on SQLite, READ
// COMMITTED on PostgreSQL). On PostgreSQL a deadlock or serialization
// failure is retried here, a few times with jittered backoff, so that
// clients never see it; if it persists, the caller gets EUNAVAILABLE.
// fn must be safe to run again: it starts from scratch each time.
//
// A panic in fn rolls its writes back and is returned as an error, on
// both engines; it is not retried.
//
// On SQLite, fn runs on the writer goroutine, in a savepoint of a
// transaction it may share with other requests (group commit, batch.go).
//
// Every outcome is told to db.writes, which logs the start and the end of
// an outage once each (faults.go).
func (db *DB) tx(ctx context.Context, fn func(*txn) error) (err error) {
	// A span per transaction inside a traced request (trace.go).
	if parent := trace.SpanFromContext(ctx); parent.SpanContext().IsValid() {
		var span trace.Span
		ctx, span = db.traceTx(ctx, parent)
		defer func() { endTx(span, err) }()
	}
	return db.writes.observe(db.runTx(ctx, fn))
}

func (db *DB) runTx(ctx context.Context, fn func(*txn) error) error {
	if db.batch != nil {
		return db.batch.submit(ctx, fn)
	}
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := db.tryTx(ctx, fn)
		if err == nil || !db.pg || !retryable(err) {
			return err
		}
		if attempt == maxTxAttempts {
			return &unavailableError{err: err}
		}
		// Full jitter: concurrent losers should not collide again.
		d := time.Duration(rand.Int64N(int64(backoff))) + time.Millisecond
		select {
		case <-ctx.Done():
			return wrapErr(ctx.Err())
		case <-time.After(d):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(*txn) error) error {
	var tx *txn
	if db.pg {
		var err error
		if tx, err = db.write.beginConn(ctx); err != nil {
			return wrapErr(err)
		}
	} else {
		sqlTx, err := db.write.begin(ctx)
		if err != nil {
			return wrapErr(err)
		}
		tx = &txn{tx: sqlTx, cache: db.write.cache}
	}
	// Statements first seen in this transaction are prepared once the
	// connection is free again, here rather than on a goroutine of their
	// own, as the batcher's writer does: Close does not wait for callers'
	// goroutines, and one left preparing would run on the closed pool.
	if c := db.write.cache; c != nil {
		defer func() {
			if c.hasPending() {
				c.flush(context.WithoutCancel(ctx))
			}
		}()
	}
	// runFn turns a panic in fn into an error, as on SQLite's writer
	// (batch.go): the transaction is rolled back here, not left open on
	// a pooled connection holding its row locks until the pool drops it.
	if err := runFn(ctx, tx, fn); err != nil {
		_ = tx.rollback(ctx)
		return err
	}
	if err := tx.commit(ctx); err != nil {
		return wrapErr(err)
	}
	if tx.notify {
		db.notifyAuth(ctx)
	}
	if tx.wroteEvents {
		db.feed.committed()
	}
	return nil
}

// flushEvents writes the transaction's auth events last. Instances follow
// auth_events by position (tx, id), not by id (see AuthEventsAfter): on
// PostgreSQL each row records its transaction's id (set by a trigger,
// migration 00009), so no follower can skip an event however the writers'
// commits interleave, and writers take no lock for it. (They used to lock
// the table before COMMIT to commit ids in order, which made every writer
// of auth events in the cluster wait for the one ahead, fsync included.)
// SQLite's one writer commits ids in order; tx stays 0.
//
// The NOTIFY that wakes every instance's listener is sent after COMMIT
// (notifyAuth): a NOTIFY inside the transaction would serialise them all
// again, as PostgreSQL queues notifications in commit order under a lock
// held until the commit is durable.
func (tx *txn) flushEvents(ctx context.Context) error {
	if len(tx.events) == 0 {
		return nil
	}
	for _, e := range tx.events {
		// The database sets tx (migration 00009's trigger).
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_events (kind, subject, at) VALUES (?, ?, ?)`, e.kind, e.subject, e.at); err != nil {
			return wrapErr(err)
		}
	}
	tx.events = tx.events[:0]
	tx.notify = tx.pg
	return nil
}

// notifyAuth announces committed auth events on AuthChannel. If it fails,
// the events are committed all the same: followers find them at their
// next periodic poll.
func (db *DB) notifyAuth(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := db.write.ExecContext(ctx, `SELECT pg_notify(?, '')`, AuthChannel); err != nil && db.log != nil {
		db.log.WarnContext(ctx, "auth events committed but not announced; other instances apply them at their next poll",
			"err", redactErr(err, db.rawURL))
	}
}

// retryable reports whether PostgreSQL aborted the transaction to resolve
// a conflict with another one, so running it again will likely succeed.
func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
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
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "40001", pe.Code == "40P01", // conflicts (retried by tx first)
			pe.Code == "57014",                // statement timeout or cancel
			pe.Code == "55P03",                // lock timeout
			strings.HasPrefix(pe.Code, "08"),  // connection exceptions
			strings.HasPrefix(pe.Code, "53"),  // out of connections, memory, disk
			strings.HasPrefix(pe.Code, "57P"), // shutdown, crash, starting up
			pe.Code == "25006":                // read-only transaction (a standby after failover)
			return &unavailableError{err: err}
		}
		return err
	}
	// A closed pool or a broken connection is an outage, not a bug in the
	// request. database/sql does not export its "database is closed" error.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "sql: database is closed") {
		return &unavailableError{err: err}
	}
	// PostgreSQL unreachable: refused, reset, timed out, or the server went
	// away mid-query. database/sql reconnects on the next request.
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "conn closed") {
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
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// wrap is the one wrap of an exported method, in the style of pkgsite's
// derrors.Wrap: deferred as `defer wrap(&err, "Item(%d)", id)`, it names
// the call in the error (for logs) and classifies a driver error on the way
// out (wrapErr), so a statement whose error was returned without wrapErr
// still reaches the client as an outage (503), not as a bug (500). An error
// with a domain code (a refusal, an outage) is returned as it is: its text
// is what the CLI prints; the name of the call is for the errors that have
// none, which only the log sees.
func wrap(errp *error, format string, args ...any) {
	if *errp == nil {
		return
	}
	err := *errp
	var ue *unavailableError
	if !errors.As(err, &ue) {
		err = wrapErr(err)
	}
	var de *warehouse.Error
	if errors.As(err, &de) {
		*errp = err
		return
	}
	*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

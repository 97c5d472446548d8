package store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// AuthChannel is the PostgreSQL NOTIFY channel on which every commit of
// auth events is announced, right after it (no payload: listeners read the
// log from their position).
const AuthChannel = "warehouse_auth"

// openPostgres opens a pool on the PostgreSQL database at databaseURL (a
// pgx connection string: postgres://user:pass@host:port/db?sslmode=...)
// and applies pending migrations.
func openPostgres(ctx context.Context, databaseURL string, opt Options) (*DB, error) {
	shown := Redact(databaseURL)
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message may quote the URL, password included: only its
		// scrubbed text is passed on.
		return nil, fmt.Errorf("invalid PostgreSQL URL %s: %w", shown, redactErr(err, databaseURL))
	}
	if cfg.ConnectTimeout == 0 {
		// Without it, a black-holed database holds every request until the
		// kernel gives up; with it, requests get a 503 in seconds.
		cfg.ConnectTimeout = 5 * time.Second
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "warehouse"
	}
	if opt.StatementTimeout > 0 {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(opt.StatementTimeout.Milliseconds(), 10)
	}
	if opt.MaxConns <= 0 {
		opt.MaxConns = 10
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(opt.MaxConns)
	pool.SetMaxIdleConns(opt.MaxConns)
	// Idle connections die with a database restart or a failover; dropping
	// them after a while bounds how many dead ones the pool can hold.
	pool.SetConnMaxIdleTime(time.Minute)
	pool.SetConnMaxLifetime(30 * time.Minute)

	// The log names the server and the database, never the user or a
	// password.
	where := fmt.Sprintf("postgres://%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	c := &conn{db: pool, pg: true, binds: &rebinds{}, watch: newFaultWatch(opt.Logger, "queries", where, databaseURL)}
	db := &DB{write: c, read: c, pg: true, pgConfig: cfg, now: opt.Now, log: opt.Logger, Path: shown, rawURL: databaseURL, metrics: opt.Metrics,
		writes: newFaultWatch(opt.Logger, "writes", where, databaseURL)}
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", shown, redactErr(wrapErr(err), databaseURL))
	}
	if opt.NoMigrate {
		return db, nil
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, redactErr(err, databaseURL)
	}
	return db, nil
}

// ListenAuthEvents calls notify whenever any instance commits auth events
// (revocations, ended sessions, user and key changes), on PostgreSQL. It
// holds its own connection (LISTEN needs one that no pool hands to
// others), reconnects with backoff when it breaks, and calls notify after
// every (re)connection too, since events may have been committed while it
// was away. It returns when ctx ends. On SQLite it returns at once: the
// periodic poll is the only way there.
//
// notify must not block for long; the caller applies the events.
func (db *DB) ListenAuthEvents(ctx context.Context, log *slog.Logger, notify func()) {
	if !db.pg {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := redactErr(db.listen(ctx, notify), db.rawURL)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond // it had been working
		}
		log.Warn("auth event listener disconnected; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff/2)))):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (db *DB) listen(ctx context.Context, notify func()) error {
	cfg := db.pgConfig.Copy()
	// The listening session idles by design.
	delete(cfg.RuntimeParams, "statement_timeout")
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{AuthChannel}.Sanitize()); err != nil {
		return err
	}
	notify()
	for {
		// Wake up now and then to check the connection: a peer that
		// vanished without closing it would otherwise leave us waiting
		// forever while the periodic poll does all the work.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := c.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			notify()
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil:
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

// addEvent records an auth event in tx; it is written when the transaction
// commits (see flushEvents).
func addEvent(_ context.Context, tx *txn, now time.Time, kind, subject string) error {
	tx.events = append(tx.events, pendingEvent{at: ms(now), kind: kind, subject: subject})
	return nil
}

// RevokeToken puts jti on the denylist until expiresAt. Revoking twice is
// not an error.
//
// The events given are recorded in the same transaction.
func (db *DB) RevokeToken(ctx context.Context, jti string, expiresAt time.Time, events ...warehouse.SecurityEvent) (err error) {
	defer wrap(&err, "RevokeToken")
	now := db.now()
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	return db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		if err := sec.recordAll(ctx, tx, now, events); err != nil {
			return err
		}
		return revokeTx(ctx, tx, now, jti, expiresAt)
	})
}

func revokeTx(ctx context.Context, tx *txn, now time.Time, jti string, expiresAt time.Time) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?) ON CONFLICT (jti) DO NOTHING`,
		jti, ms(expiresAt), ms(now))
	if err != nil {
		return fmt.Errorf("revoke token: %w", wrapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return addEvent(ctx, tx, now, warehouse.EventRevoke, jti)
}

// AnyRevoked reports whether any of the token ids is on the denylist,
// read from the database (not from an instance's in-memory copy, which may
// lag a revocation made on another instance).
func (db *DB) AnyRevoked(ctx context.Context, jtis ...string) (_ bool, err error) {
	defer wrap(&err, "AnyRevoked")
	if len(jtis) == 0 {
		return false, nil
	}
	args := make([]any, len(jtis))
	for i, jti := range jtis {
		args[i] = jti
	}
	// One statement for all of them: a replayed refresh asks about two.
	var one int
	err = db.read.QueryRowContext(ctx, `SELECT 1 FROM revoked_tokens WHERE jti IN (?`+strings.Repeat(`, ?`, len(jtis)-1)+`) LIMIT 1`, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read revocation: %w", wrapErr(err))
	}
	return true, nil
}

func revokedTx(ctx context.Context, tx *txn, jti string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM revoked_tokens WHERE jti = ?`, jti).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read revocation: %w", wrapErr(err))
	}
	return true, nil
}

// Revocations returns every revocation whose token may still verify.
func (db *DB) Revocations(ctx context.Context) (_ []warehouse.Revocation, err error) {
	defer wrap(&err, "Revocations")
	rows, err := db.read.QueryContext(ctx, `SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?`, ms(db.now().Add(-warehouse.ExpiryMargin)))
	if err != nil {
		return nil, fmt.Errorf("read revocations: %w", wrapErr(err))
	}
	defer rows.Close()
	var out []warehouse.Revocation
	for rows.Next() {
		var r warehouse.Revocation
		var exp int64
		if err := rows.Scan(&r.JTI, &exp); err != nil {
			return nil, fmt.Errorf("read revocations: %w", wrapErr(err))
		}
		r.ExpiresAt = fromMS(exp)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read revocations: %w", wrapErr(err))
	}
	return out, nil
}

// LastAuthEvent returns the position a follower that reads the whole
// state now may start from: every event up to it is already visible, and
// none can still appear before it. On SQLite it is the newest event (one
// writer commits ids in order); on PostgreSQL it is the start of the
// oldest transaction still running (its snapshot's xmin): any event
// committed later belongs to a transaction at or past it.
func (db *DB) LastAuthEvent(ctx context.Context) (_ warehouse.AuthEventPos, err error) {
	defer wrap(&err, "LastAuthEvent")
	if db.pg {
		var xmin int64
		if err := db.read.QueryRowContext(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&xmin); err != nil {
			return warehouse.AuthEventPos{}, fmt.Errorf("read auth events: %w", wrapErr(err))
		}
		return warehouse.AuthEventPos{TX: xmin}, nil
	}
	var id sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT max(id) FROM auth_events`).Scan(&id); err != nil {
		return warehouse.AuthEventPos{}, fmt.Errorf("read auth events: %w", wrapErr(err))
	}
	return warehouse.AuthEventPos{ID: id.Int64}, nil
}

// AuthEventsAfter returns up to limit events after position after, in
// log order, and the position a follower may move to once it applied them:
// the last event returned that no event still in flight can come before,
// or after itself.
//
// On PostgreSQL that is every event of a transaction below the reading
// snapshot's xmin: such a transaction has ended, and every transaction that
// has not, or has not started, has an id at or past xmin, so its events
// sort after them. Events of newer transactions that did commit are
// returned too, to be applied at once (a long transaction anywhere in the
// cluster holds xmin back), but the position stays before them: they are
// returned again until they settle. The naive "id > last AND tx < xmin"
// is not enough: a smaller id can belong to a larger transaction id still
// running.
func (db *DB) AuthEventsAfter(ctx context.Context, after warehouse.AuthEventPos, limit int) (_ []warehouse.AuthEvent, upto warehouse.AuthEventPos, err error) {
	defer wrap(&err, "AuthEventsAfter")
	horizon := `9223372036854775807` // SQLite: every committed event is settled
	if db.pg {
		horizon = `(SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)`
	}
	rows, err := db.read.QueryContext(ctx, `SELECT e.id, e.tx, e.kind, e.subject, coalesce(r.expires_at, s.expires_at, 0), `+horizon+`
		FROM auth_events e
		LEFT JOIN revoked_tokens r ON e.kind = 'revoke' AND r.jti = e.subject
		LEFT JOIN sessions s ON e.kind = 'session' AND s.id = e.subject
		WHERE (e.tx, e.id) > (?, ?) ORDER BY e.tx, e.id LIMIT ?`, after.TX, after.ID, limit)
	if err != nil {
		return nil, after, fmt.Errorf("read auth events: %w", wrapErr(err))
	}
	defer rows.Close()
	var out []warehouse.AuthEvent
	upto = after
	for rows.Next() {
		var e warehouse.AuthEvent
		var exp, xmin int64
		if err := rows.Scan(&e.ID, &e.TX, &e.Kind, &e.Subject, &exp, &xmin); err != nil {
			return nil, after, fmt.Errorf("read auth events: %w", wrapErr(err))
		}
		e.ExpiresAt = fromMS(exp)
		out = append(out, e)
		// Settled events are a prefix: they sort before every other.
		if e.TX < xmin {
			upto = e.Pos()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, after, fmt.Errorf("read auth events: %w", wrapErr(err))
	}
	return out, upto, nil
}

// AuthEventsBehind counts the events after position pos.
func (db *DB) AuthEventsBehind(ctx context.Context, pos warehouse.AuthEventPos) (_ int64, err error) {
	defer wrap(&err, "AuthEventsBehind")
	var n int64
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM auth_events WHERE (tx, id) > (?, ?)`, pos.TX, pos.ID).Scan(&n); err != nil {
		return 0, fmt.Errorf("read auth events: %w", wrapErr(err))
	}
	return n, nil
}

// Purge deletes revocations and refresh tokens whose tokens expired more
// than ExpiryMargin ago, auth events older than keepEvents and stale login
// failures. It returns how many rows went.
func (db *DB) Purge(ctx context.Context, keepEvents time.Duration) (_ int64, err error) {
	defer wrap(&err, "Purge")
	now := db.now()
	var total int64
	err = db.tx(ctx, func(tx *txn) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM revoked_tokens WHERE expires_at <= ?`, []any{ms(now.Add(-warehouse.ExpiryMargin))}},
			{`DELETE FROM refresh_tokens WHERE expires_at <= ?`, []any{ms(now.Add(-warehouse.ExpiryMargin))}},
			{`DELETE FROM auth_events WHERE at <= ?`, []any{ms(now.Add(-keepEvents))}},
			// Login failures a day old count in no window any more.
			{`DELETE FROM login_failures WHERE locked_until <= ? AND window_start <= ?`, []any{ms(now), ms(now.Add(-24 * time.Hour))}},
		} {
			res, err := tx.ExecContext(ctx, q.sql, q.args...)
			if err != nil {
				return fmt.Errorf("purge: %w", wrapErr(err))
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	return total, err
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// AddRefreshToken records an issued refresh token.
func (db *DB) AddRefreshToken(ctx context.Context, rt warehouse.RefreshToken, token string) (err error) {
	defer wrap(&err, "AddRefreshToken")
	now := db.now()
	return db.tx(ctx, func(tx *txn) error {
		return addRefreshTx(ctx, tx, now, rt, token)
	})
}

func addRefreshTx(ctx context.Context, tx *txn, now time.Time, rt warehouse.RefreshToken, token string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (jti, username, session_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		rt.JTI, rt.Username, rt.SessionID, hashToken(token), ms(rt.ExpiresAt), ms(now))
	if err != nil {
		return fmt.Errorf("store refresh token: %w", wrapErr(err))
	}
	return nil
}

package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warehouse-api/warehouse"
)

// CreateSession records a new session and its first refresh token, and
// the security events given (a login) in the same transaction.
func (db *DB) CreateSession(ctx context.Context, s warehouse.Session, rt warehouse.RefreshToken, refreshToken string, events ...warehouse.SecurityEvent) (err error) {
	defer wrap(&err, "CreateSession")
	now := db.now()
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	return db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		if err := sec.recordAll(ctx, tx, now, events); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, username, user_agent, ip, via_cookies, created_at, last_used_at, expires_at, refresh_jti)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.Username, truncate(s.UserAgent, 512), truncate(s.IP, 64), s.ViaCookies, ms(now), ms(now), ms(s.ExpiresAt), rt.JTI)
		if err != nil {
			return fmt.Errorf("create session: %w", wrapErr(err))
		}
		rt.SessionID = s.ID
		return addRefreshTx(ctx, tx, now, rt, refreshToken)
	})
}

// withDetail returns d with extra's entries added; d is not changed (the
// caller's event may be recorded again when a transaction is retried).
func withDetail(d, extra map[string]any) map[string]any {
	out := make(map[string]any, len(d)+len(extra))
	maps.Copy(out, d)
	maps.Copy(out, extra)
	return out
}

// truncate cuts s to at most n bytes of valid UTF-8 (PostgreSQL refuses
// anything else): invalid bytes become U+FFFD, and a cut never splits a
// character.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RotateRefresh retires the old refresh token and records its successor,
// in one transaction, enforcing the session's state. A retired token seen
// again is either the concurrent duplicate of the latest rotation (within
// the grace interval: the same successor is handed back) or theft: the
// whole session ends and an audit event is written.
func (db *DB) RotateRefresh(ctx context.Context, req warehouse.RefreshRequest) (_ warehouse.RefreshResult, err error) {
	defer wrap(&err, "RotateRefresh")
	now := db.now()
	if db.pg {
		res, ok, err := db.rotateOnce(ctx, now, req)
		switch {
		case ok:
			return res, nil
		case err != nil && !retryable(err):
			return warehouse.RefreshResult{}, err
		}
		// Not the plain case (or a conflict): the transaction below tells
		// the outcomes apart, and retries.
	}
	var res warehouse.RefreshResult
	var outcome error
	var sec security
	err = db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		var hash, successor []byte
		var replacedBy sql.NullString
		var replacedAt sql.NullInt64
		var sid string
		err := tx.QueryRowContext(ctx, `SELECT token_hash, replaced_by, replaced_at, successor, session_id FROM refresh_tokens WHERE jti = ?`+tx.forUpdate(""), req.OldJTI).
			Scan(&hash, &replacedBy, &replacedAt, &successor, &sid)
		if errors.Is(err, sql.ErrNoRows) {
			outcome = warehouse.ErrRefreshReused
			return nil
		}
		if err != nil {
			return fmt.Errorf("read refresh token: %w", wrapErr(err))
		}
		if subtle.ConstantTimeCompare(hash, hashToken(req.OldToken)) != 1 {
			outcome = warehouse.ErrRefreshReused
			return nil
		}
		s, current, err := sessionTx(ctx, tx, sid)
		if err != nil {
			return err
		}
		res.Session = s
		switch {
		case !s.EndedAt.IsZero():
			outcome = warehouse.ErrSessionEnded
			return nil
		case !now.Before(s.ExpiresAt):
			outcome = warehouse.ErrSessionExpired
			return endSessionTx(ctx, tx, now, s.ID, warehouse.EndExpired)
		case req.Inactivity > 0 && now.Sub(s.LastUsedAt) > req.Inactivity:
			outcome = warehouse.ErrSessionExpired
			return endSessionTx(ctx, tx, now, s.ID, warehouse.EndInactive)
		}
		if replacedBy.Valid {
			// Only the token the current one replaced gets the grace.
			if req.Grace > 0 && replacedBy.String == current && replacedAt.Valid && now.Sub(fromMS(replacedAt.Int64)) <= req.Grace && len(successor) > 0 {
				// A successor revoked since must not be handed out again:
				// the replay is refused as that token would be.
				revoked, err := revokedTx(ctx, tx, replacedBy.String)
				if err != nil {
					return err
				}
				if revoked {
					outcome = warehouse.ErrRefreshReused
					return nil
				}
				res.Replayed, res.Sealed = true, successor
				return nil
			}
			outcome = warehouse.ErrRefreshReuseDetected
			if err := endSessionTx(ctx, tx, now, s.ID, warehouse.EndRefreshReuse); err != nil {
				return err
			}
			// The actor is whoever presented the token: to us, its owner.
			return sec.record(ctx, tx, now, warehouse.SecurityEvent{Kind: warehouse.KindRefreshReuse, Actor: s.Username,
				Entity: "session", EntityID: s.ID, Detail: map[string]any{"username": s.Username}})
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET replaced_by = ?, replaced_at = ?, successor = ? WHERE jti = ?`,
			req.Next.JTI, ms(now), req.Sealed, req.OldJTI); err != nil {
			return fmt.Errorf("retire refresh token: %w", wrapErr(err))
		}
		req.Next.SessionID = s.ID
		if err := addRefreshTx(ctx, tx, now, req.Next, req.NextToken); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET refresh_jti = ?, last_used_at = ? WHERE id = ?`, req.Next.JTI, ms(now), s.ID); err != nil {
			return fmt.Errorf("update session: %w", wrapErr(err))
		}
		return nil
	})
	sec.log(ctx, db, err)
	if err != nil {
		return warehouse.RefreshResult{}, err
	}
	return res, outcome
}

// rotateSQL is the rotation of a current refresh token of a live session
// in one statement (PostgreSQL: data-modifying WITH): lock the old token if
// it is the one presented and not yet replaced, and its session live and
// not idle too long; retire it, record its successor, move the session on.
// No row means the case is not that one (or a concurrent rotation won the
// lock: the row it rechecks is replaced by then), and RotateRefresh runs
// the transaction that tells the outcomes apart. One round trip instead of
// seven (BEGIN, two reads, three writes, COMMIT) on the hottest write path.
const rotateSQL = `WITH old AS (
		SELECT r.jti, r.session_id FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
		WHERE r.jti = ? AND r.token_hash = ? AND r.replaced_by IS NULL
			AND s.ended_at IS NULL AND s.expires_at > ? AND s.last_used_at >= ?
		FOR UPDATE OF r
	), retired AS (
		UPDATE refresh_tokens SET replaced_by = ?, replaced_at = ?, successor = ? WHERE jti = (SELECT jti FROM old)
	), next AS (
		INSERT INTO refresh_tokens (jti, username, session_id, token_hash, expires_at, created_at)
		SELECT ?, ?, session_id, ?, ?, ? FROM old
	)
	UPDATE sessions SET refresh_jti = ?, last_used_at = ? WHERE id = (SELECT session_id FROM old)
	RETURNING ` + sessionColumns

// rotateOnce runs rotateSQL. ok reports that it rotated.
func (db *DB) rotateOnce(ctx context.Context, now time.Time, req warehouse.RefreshRequest) (_ warehouse.RefreshResult, ok bool, err error) {
	// The session is idle too long when now - last_used_at > Inactivity,
	// in nanoseconds: the smallest last_used_at (ms) still fine is the
	// ceiling of now - Inactivity.
	minUsed := int64(math.MinInt64)
	if req.Inactivity > 0 {
		t := now.Add(-req.Inactivity)
		minUsed = ms(t)
		if t.After(fromMS(minUsed)) {
			minUsed++
		}
	}
	at := ms(now)
	s, _, err := scanSession(db.write.QueryRowContext(ctx, rotateSQL,
		req.OldJTI, hashToken(req.OldToken), at, minUsed,
		req.Next.JTI, at, req.Sealed,
		req.Next.JTI, req.Next.Username, hashToken(req.NextToken), ms(req.Next.ExpiresAt), at,
		req.Next.JTI, at))
	if errors.Is(err, sql.ErrNoRows) {
		return warehouse.RefreshResult{}, false, nil
	}
	if err != nil {
		return warehouse.RefreshResult{}, false, fmt.Errorf("rotate refresh token: %w", wrapErr(err))
	}
	return warehouse.RefreshResult{Session: s}, true, nil
}

const sessionColumns = `id, username, user_agent, ip, via_cookies, created_at, last_used_at, expires_at, ended_at, end_reason, refresh_jti`

func scanSession(row interface{ Scan(...any) error }) (warehouse.Session, string, error) {
	var s warehouse.Session
	var created, used, exp int64
	var ended sql.NullInt64
	var reason sql.NullString
	var current string
	if err := row.Scan(&s.ID, &s.Username, &s.UserAgent, &s.IP, &s.ViaCookies, &created, &used, &exp, &ended, &reason, &current); err != nil {
		return warehouse.Session{}, "", err
	}
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = fromMS(created), fromMS(used), fromMS(exp)
	if ended.Valid {
		s.EndedAt = fromMS(ended.Int64)
	}
	s.EndReason = reason.String
	return s, current, nil
}

func sessionTx(ctx context.Context, tx *txn, id string) (warehouse.Session, string, error) {
	s, current, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return warehouse.Session{}, "", warehouse.ErrSessionEnded
	}
	if err != nil {
		return warehouse.Session{}, "", fmt.Errorf("read session: %w", wrapErr(err))
	}
	return s, current, nil
}

// endSessionTx ends one session (if still active) and publishes the end so
// that every instance refuses its access tokens at once.
func endSessionTx(ctx context.Context, tx *txn, now time.Time, id, reason string) error {
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`, ms(now), reason, id)
	if err != nil {
		return fmt.Errorf("end session: %w", wrapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return addEvent(ctx, tx, now, warehouse.EventSession, id)
}

// endUserSessionsTx ends every active session of username except keep,
// and returns them with their expiry (how long their tokens could verify).
func endUserSessionsTx(ctx context.Context, tx *txn, now time.Time, username, keep, reason string) ([]warehouse.EndedSession, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, expires_at FROM sessions WHERE username = ? AND ended_at IS NULL AND id <> ?`, username, keep)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", wrapErr(err))
	}
	var ended []warehouse.EndedSession
	for rows.Next() {
		var e warehouse.EndedSession
		var exp int64
		if err := rows.Scan(&e.ID, &exp); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list sessions: %w", wrapErr(err))
		}
		e.ExpiresAt = fromMS(exp)
		ended = append(ended, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", wrapErr(err))
	}
	for _, e := range ended {
		if err := endSessionTx(ctx, tx, now, e.ID, reason); err != nil {
			return nil, err
		}
	}
	return ended, nil
}

// EndSessions ends the caller's current session (local), all their other
// sessions (others) or all of them (global). Ending an ended session is
// not an error. It returns the sessions ended, with their expiry, for the
// caller's in-memory state.
//
// The events given (a logout) are recorded in the same transaction, each
// with the scope and the ids of the sessions ended in its detail.
func (db *DB) EndSessions(ctx context.Context, username, currentSID, scope string, events ...warehouse.SecurityEvent) (_ []warehouse.EndedSession, err error) {
	defer wrap(&err, "EndSessions")
	now := db.now()
	var ended []warehouse.EndedSession
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	err = db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		var err error
		if ended, err = endSessionsTx(ctx, tx, now, username, currentSID, scope); err != nil {
			return err
		}
		ids := make([]string, 0, len(ended))
		for _, e := range ended {
			ids = append(ids, e.ID)
		}
		for _, ev := range events {
			ev.Detail = withDetail(ev.Detail, map[string]any{"scope": scope, "sessions": ids})
			if err := sec.record(ctx, tx, now, ev); err != nil {
				return err
			}
		}
		return nil
	})
	return ended, err
}

// endSessionsTx ends the sessions a logout of scope ends.
func endSessionsTx(ctx context.Context, tx *txn, now time.Time, username, currentSID, scope string) ([]warehouse.EndedSession, error) {
	switch scope {
	case warehouse.ScopeLocal:
		if currentSID == "" {
			return nil, nil
		}
		var owner string
		var exp int64
		err := tx.QueryRowContext(ctx, `SELECT username, expires_at FROM sessions WHERE id = ?`, currentSID).Scan(&owner, &exp)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != username) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("end session: %w", wrapErr(err))
		}
		ended := []warehouse.EndedSession{{ID: currentSID, ExpiresAt: fromMS(exp)}}
		return ended, endSessionTx(ctx, tx, now, currentSID, warehouse.EndLogout)
	case warehouse.ScopeOthers:
		return endUserSessionsTx(ctx, tx, now, username, currentSID, warehouse.EndLogout)
	case warehouse.ScopeGlobal:
		return endUserSessionsTx(ctx, tx, now, username, "", warehouse.EndLogout)
	}
	return nil, warehouse.Errorf(warehouse.EINVALID, "scope must be local, others or global")
}

// EndSession ends one of username's sessions and returns it with its
// expiry; another user's session is ENOTFOUND, so ids cannot be probed.
// The events given are recorded in the same transaction.
func (db *DB) EndSession(ctx context.Context, username, id string, events ...warehouse.SecurityEvent) (_ warehouse.EndedSession, err error) {
	defer wrap(&err, "EndSession")
	now := db.now()
	var ended warehouse.EndedSession
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	err = db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		if err := sec.recordAll(ctx, tx, now, events); err != nil {
			return err
		}
		var owner string
		var exp int64
		err := tx.QueryRowContext(ctx, `SELECT username, expires_at FROM sessions WHERE id = ?`, id).Scan(&owner, &exp)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != username) {
			return warehouse.Errorf(warehouse.ENOTFOUND, "session %q not found", id)
		}
		if err != nil {
			return fmt.Errorf("read session: %w", wrapErr(err))
		}
		ended = warehouse.EndedSession{ID: id, ExpiresAt: fromMS(exp)}
		return endSessionTx(ctx, tx, now, id, warehouse.EndRevoked)
	})
	return ended, err
}

// Sessions returns username's active sessions, newest first.
func (db *DB) Sessions(ctx context.Context, username string) (_ []warehouse.Session, err error) {
	defer wrap(&err, "Sessions")
	rows, err := db.read.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE username = ? AND ended_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id`, username, ms(db.now()))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", wrapErr(err))
	}
	defer rows.Close()
	var out []warehouse.Session
	for rows.Next() {
		s, _, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", wrapErr(err))
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", wrapErr(err))
	}
	return out, nil
}

// EndedSessions returns the ended sessions whose tokens may still verify:
// verifiers must refuse their access tokens.
func (db *DB) EndedSessions(ctx context.Context) (_ []warehouse.EndedSession, err error) {
	defer wrap(&err, "EndedSessions")
	rows, err := db.read.QueryContext(ctx, `SELECT id, expires_at FROM sessions WHERE ended_at IS NOT NULL AND expires_at > ?`,
		ms(db.now().Add(-warehouse.ExpiryMargin)))
	if err != nil {
		return nil, fmt.Errorf("read ended sessions: %w", wrapErr(err))
	}
	defer rows.Close()
	var out []warehouse.EndedSession
	for rows.Next() {
		var e warehouse.EndedSession
		var exp int64
		if err := rows.Scan(&e.ID, &exp); err != nil {
			return nil, fmt.Errorf("read ended sessions: %w", wrapErr(err))
		}
		e.ExpiresAt = fromMS(exp)
		out = append(out, e)
	}
	return out, rows.Err()
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/warehouse-api/warehouse"
)

// Login throttling lives in the database so that every instance behind a
// load balancer counts the same failures: an attacker spreading guesses
// over instances gets no more tries than against one.

// maxThrottledName bounds the stored username: throttling counts names as
// typed, including ones that do not exist (to tell nothing about which do).
const maxThrottledName = 256

// LoginLockedUntil returns until when password logins for username are
// refused (zero if they are not) and how many failures are counted now.
func (db *DB) LoginLockedUntil(ctx context.Context, username string) (_ time.Time, _ int, err error) {
	defer wrap(&err, "LoginLockedUntil")
	var until, failures int64
	err = db.read.QueryRowContext(ctx, `SELECT locked_until, failures FROM login_failures WHERE username = ?`,
		truncate(username, maxThrottledName)).Scan(&until, &failures)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, 0, nil
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("read login failures: %w", wrapErr(err))
	}
	if until <= ms(db.now()) {
		return time.Time{}, int(failures), nil
	}
	return fromMS(until), int(failures), nil
}

// RecordLoginFailure counts a failed login for username. Failures older
// than window do not count; the maxFailures-th within it locks the
// username out for lockout, and the count starts again. It returns the
// end of the lockout it started, or zero.
//
// The failure's event ev (login_failed) is recorded in the same
// transaction and, when this failure starts a lockout, a copy of it of
// kind account_locked.
func (db *DB) RecordLoginFailure(ctx context.Context, username string, maxFailures int, window, lockout time.Duration, ev warehouse.SecurityEvent) (_ time.Time, err error) {
	defer wrap(&err, "RecordLoginFailure")
	now := db.now()
	name := truncate(username, maxThrottledName)
	var locked time.Time
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	err = db.tx(ctx, func(tx *txn) error {
		locked = time.Time{}
		sec = sec[:0]
		if err := sec.record(ctx, tx, now, ev); err != nil {
			return err
		}
		// One statement: concurrent failures on several instances each
		// add one (the row lock orders them).
		var failures int64
		err := tx.QueryRowContext(ctx, `INSERT INTO login_failures (username, failures, window_start, locked_until) VALUES (?, 1, ?, 0)
			ON CONFLICT (username) DO UPDATE SET
				failures = CASE WHEN login_failures.window_start <= ? THEN 1 ELSE login_failures.failures + 1 END,
				window_start = CASE WHEN login_failures.window_start <= ? THEN excluded.window_start ELSE login_failures.window_start END
			RETURNING failures`,
			name, ms(now), ms(now.Add(-window)), ms(now.Add(-window))).Scan(&failures)
		if err != nil {
			return fmt.Errorf("record login failure: %w", wrapErr(err))
		}
		if failures < int64(maxFailures) {
			return nil
		}
		locked = now.Add(lockout)
		if _, err := tx.ExecContext(ctx, `UPDATE login_failures SET failures = 0, window_start = ?, locked_until = ? WHERE username = ?`,
			ms(now), ms(locked), name); err != nil {
			return fmt.Errorf("record login failure: %w", wrapErr(err))
		}
		lock := ev
		lock.Kind = warehouse.KindAccountLocked
		lock.Detail = withDetail(ev.Detail, map[string]any{"failures": maxFailures, "locked_until": locked.UTC().Truncate(time.Millisecond)})
		return sec.record(ctx, tx, now, lock)
	})
	return locked, err
}

// ResetLoginFailures forgets username's failures after a successful login.
func (db *DB) ResetLoginFailures(ctx context.Context, username string) (err error) {
	defer wrap(&err, "ResetLoginFailures")
	return db.tx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE username = ?`, truncate(username, maxThrottledName)); err != nil {
			return fmt.Errorf("reset login failures: %w", wrapErr(err))
		}
		return nil
	})
}

// UnlockLogin ends username's login lockout and forgets its failures, for
// an operator or admin (warehouse users unlock, the admin API). A user that
// does not exist is ENOTFOUND. When there was something to forget it is
// audited like any user change, as the security event account_unlocked,
// and it reports true.
func (db *DB) UnlockLogin(ctx context.Context, username, actor string) (_ bool, err error) {
	defer wrap(&err, "UnlockLogin")
	now := db.now()
	var unlocked bool
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	err = db.tx(ctx, func(tx *txn) error {
		unlocked = false
		sec = sec[:0]
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE username = ?`, username).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return warehouse.Errorf(warehouse.ENOTFOUND, "user %q not found", username)
		}
		if err != nil {
			return fmt.Errorf("read user: %w", wrapErr(err))
		}
		var until, failures int64
		err = tx.QueryRowContext(ctx, `SELECT locked_until, failures FROM login_failures WHERE username = ?`+tx.forUpdate(""),
			truncate(username, maxThrottledName)).Scan(&until, &failures)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read login failures: %w", wrapErr(err))
		}
		if err := clearLoginFailuresTx(ctx, tx, username); err != nil {
			return err
		}
		unlocked = true
		before := map[string]any{"failures": failures, "locked_until": nil}
		if until > ms(now) {
			before["locked_until"] = fromMS(until).UTC()
		}
		return sec.recordChange(ctx, tx, now, warehouse.SecurityEvent{Kind: warehouse.KindAccountUnlocked, Actor: actor,
			Entity: "user", EntityID: username}, "unlock", before, map[string]any{"failures": 0, "locked_until": nil})
	})
	return unlocked, err
}

func clearLoginFailuresTx(ctx context.Context, tx *txn, username string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE username = ?`, truncate(username, maxThrottledName)); err != nil {
		return fmt.Errorf("clear login failures: %w", wrapErr(err))
	}
	return nil
}

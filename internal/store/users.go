package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/warehouse-api/warehouse"
)

const userColumns = `id, username, password_hash, roles, active, created_at, created_by, updated_at, updated_by, version`

func scanUser(row interface{ Scan(...any) error }) (*warehouse.User, error) {
	var u warehouse.User
	var roles string
	var created, updated int64
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &roles, &u.Active, &created, &u.CreatedBy, &updated, &u.UpdatedBy, &u.Version); err != nil {
		return nil, err
	}
	u.Roles = splitRoles(roles)
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	return &u, nil
}

func splitRoles(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// CreateUser inserts u; a taken username is ECONFLICT. It is audited as
// the security event user_created, by u.CreatedBy.
func (db *DB) CreateUser(ctx context.Context, u *warehouse.User) (err error) {
	defer wrap(&err, "CreateUser(%q)", u.Username)
	now := db.now()
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	return db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO users (username, password_hash, roles, active, created_at, created_by, updated_at, updated_by, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
			u.Username, u.PasswordHash, strings.Join(u.Roles, ","), u.Active, ms(now), u.CreatedBy, ms(now), u.CreatedBy).Scan(&id)
		if err != nil {
			if isUniqueViolation(err) {
				return warehouse.Errorf(warehouse.ECONFLICT, "user %q already exists", u.Username)
			}
			return fmt.Errorf("insert user: %w", wrapErr(err))
		}
		u.ID, u.Version = id, 1
		u.CreatedAt, u.UpdatedAt, u.UpdatedBy = now.UTC().Truncate(1e6), now.UTC().Truncate(1e6), u.CreatedBy
		if err := sec.recordChange(ctx, tx, now, warehouse.SecurityEvent{Kind: warehouse.KindUserCreated, Actor: u.CreatedBy,
			Entity: "user", EntityID: u.Username, Detail: map[string]any{"roles": u.Roles, "active": u.Active}},
			"create", nil, map[string]any{"roles": u.Roles, "active": u.Active, "version": u.Version}); err != nil {
			return err
		}
		return addEvent(ctx, tx, now, warehouse.EventUser, u.Username)
	})
}

// UserByName returns the user, or ENOTFOUND.
func (db *DB) UserByName(ctx context.Context, username string) (_ *warehouse.User, err error) {
	defer wrap(&err, "UserByName(%q)", username)
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, warehouse.Errorf(warehouse.ENOTFOUND, "user %q not found", username)
	}
	if err != nil {
		return nil, fmt.Errorf("read user: %w", wrapErr(err))
	}
	return u, nil
}

// ListUsers returns every user ordered by username.
func (db *DB) ListUsers(ctx context.Context) (_ []*warehouse.User, err error) {
	defer wrap(&err, "ListUsers")
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", wrapErr(err))
	}
	defer rows.Close()
	var out []*warehouse.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", wrapErr(err))
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", wrapErr(err))
	}
	return out, nil
}

// UpdateUser applies upd and bumps the version; the change is published to
// every instance's auth state.
func (db *DB) UpdateUser(ctx context.Context, username string, upd warehouse.UserUpdate, actor string) (_ *warehouse.User, err error) {
	defer wrap(&err, "UpdateUser(%q)", username)
	return db.updateUser(ctx, username, warehouse.AnyVersion, upd, actor)
}

// UpdateUserIf is UpdateUser for the admin API: it applies upd only if the
// user is still at version (else *warehouse.StaleError; AnyVersion matches
// any, 0 none), checking and writing in one transaction.
func (db *DB) UpdateUserIf(ctx context.Context, username string, version int64, upd warehouse.UserUpdate, actor string) (_ *warehouse.User, err error) {
	defer wrap(&err, "UpdateUserIf(%q)", username)
	return db.updateUser(ctx, username, version, upd, actor)
}

// updateUser applies upd (if the user is at version, or any for AnyVersion),
// writes an audit event and the security events it is (role_changed,
// password_changed, user_deactivated, user_reactivated), ends the user's
// sessions when the change must invalidate tokens, and publishes the
// change to every instance.
func (db *DB) updateUser(ctx context.Context, username string, version int64, upd warehouse.UserUpdate, actor string) (*warehouse.User, error) {
	var out *warehouse.User
	now := db.now()
	var sec security
	err := db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`+tx.forUpdate(""), username))
		if errors.Is(err, sql.ErrNoRows) {
			return warehouse.Errorf(warehouse.ENOTFOUND, "user %q not found", username)
		}
		if err != nil {
			return fmt.Errorf("read user: %w", wrapErr(err))
		}
		if err := checkVersion(u.Version, version); err != nil {
			return err
		}
		before := map[string]any{"roles": u.Roles, "active": u.Active, "version": u.Version}
		oldRoles, wasActive := u.Roles, u.Active
		if upd.PasswordHash != nil {
			u.PasswordHash = *upd.PasswordHash
		}
		if upd.Roles != nil {
			u.Roles = upd.Roles
		}
		if upd.Active != nil {
			u.Active = *upd.Active
		}
		u.Version++
		u.UpdatedAt, u.UpdatedBy = now.UTC().Truncate(1e6), actor
		_, err = tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, roles = ?, active = ?, updated_at = ?, updated_by = ?, version = ? WHERE id = ?`,
			u.PasswordHash, strings.Join(u.Roles, ","), u.Active, ms(now), actor, u.Version, u.ID)
		if err != nil {
			return fmt.Errorf("update user: %w", wrapErr(err))
		}
		out = u
		after := map[string]any{"roles": u.Roles, "active": u.Active, "version": u.Version, "password_changed": upd.PasswordHash != nil}
		if err := audit(ctx, tx, now, "user", u.Username, "update", before, after, actor); err != nil {
			return err
		}
		for _, ev := range userChangeEvents(upd, oldRoles, wasActive, u) {
			ev.Actor, ev.Entity, ev.EntityID = actor, "user", u.Username
			if err := sec.record(ctx, tx, now, ev); err != nil {
				return err
			}
		}
		// A new password is a reset: whoever guessed at the old one has
		// nothing left to guess, so the login lockout ends with it.
		if upd.PasswordHash != nil {
			if err := clearLoginFailuresTx(ctx, tx, u.Username); err != nil {
				return err
			}
		}
		// A disabled user, new roles or a new password end every session:
		// tokens issued before must not outlive the change.
		if reason := sessionEndingChange(upd, u); reason != "" {
			if _, err := endUserSessionsTx(ctx, tx, now, u.Username, "", reason); err != nil {
				return err
			}
		}
		return addEvent(ctx, tx, now, warehouse.EventUser, u.Username)
	})
	sec.log(ctx, db, err)
	return out, err
}

// userChangeEvents are the security events a user change is: new roles
// (also the same ones: the sessions end all the same), a new password, and
// an activity flag that flips.
func userChangeEvents(upd warehouse.UserUpdate, oldRoles []string, wasActive bool, after *warehouse.User) []warehouse.SecurityEvent {
	var out []warehouse.SecurityEvent
	if upd.Roles != nil {
		out = append(out, warehouse.SecurityEvent{Kind: warehouse.KindRoleChanged,
			Detail: map[string]any{"old_roles": oldRoles, "new_roles": after.Roles}})
	}
	if upd.PasswordHash != nil {
		out = append(out, warehouse.SecurityEvent{Kind: warehouse.KindPasswordChanged})
	}
	switch {
	case wasActive && !after.Active:
		out = append(out, warehouse.SecurityEvent{Kind: warehouse.KindUserDeactivated})
	case !wasActive && after.Active:
		out = append(out, warehouse.SecurityEvent{Kind: warehouse.KindUserReactivated})
	}
	return out
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (_ int, err error) {
	defer wrap(&err, "CountUsers")
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", wrapErr(err))
	}
	return n, nil
}

func sessionEndingChange(upd warehouse.UserUpdate, after *warehouse.User) string {
	switch {
	case upd.PasswordHash != nil:
		return warehouse.EndPasswordReset
	case upd.Active != nil && !after.Active, upd.Roles != nil:
		return warehouse.EndUserChanged
	}
	return ""
}

// RehashPassword stores an upgraded hash of the same password (new argon2
// parameters). Unlike a password change it ends no session.
func (db *DB) RehashPassword(ctx context.Context, username, oldHash, newHash string) (err error) {
	defer wrap(&err, "RehashPassword(%q)", username)
	return db.tx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?`, newHash, username, oldHash)
		if err != nil {
			return fmt.Errorf("store re-hashed password: %w", wrapErr(err))
		}
		return nil
	})
}

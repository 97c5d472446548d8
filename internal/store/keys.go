package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/warehouse-api/warehouse"
)

// SigningKeys returns the stored keys, newest first.
func (db *DB) SigningKeys(ctx context.Context) (_ []warehouse.SigningKey, err error) {
	defer wrap(&err, "SigningKeys")
	rows, err := db.read.QueryContext(ctx, `SELECT kid, algorithm, secret, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid`)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", wrapErr(err))
	}
	defer rows.Close()
	var out []warehouse.SigningKey
	for rows.Next() {
		var k warehouse.SigningKey
		var created int64
		var retired sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Secret, &created, &retired); err != nil {
			return nil, fmt.Errorf("read signing keys: %w", wrapErr(err))
		}
		k.CreatedAt = fromMS(created)
		if retired.Valid {
			k.RetiredAt = fromMS(retired.Int64)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read signing keys: %w", wrapErr(err))
	}
	return out, nil
}

// AddSigningKey stores a new key; being the newest, it becomes the current
// key for its algorithm. Every instance reloads its keys. The events given
// (key_rotated) are recorded in the same transaction.
func (db *DB) AddSigningKey(ctx context.Context, kid, algorithm string, material []byte, events ...warehouse.SecurityEvent) (err error) {
	defer wrap(&err, "AddSigningKey(%q)", kid)
	now := db.now()
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	return db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		if err := sec.recordAll(ctx, tx, now, events); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, algorithm, secret, created_at) VALUES (?, ?, ?, ?)`,
			kid, algorithm, material, ms(now)); err != nil {
			if isUniqueViolation(err) {
				return warehouse.Errorf(warehouse.ECONFLICT, "key %q exists", kid)
			}
			return fmt.Errorf("store signing key: %w", wrapErr(err))
		}
		return addEvent(ctx, tx, now, warehouse.EventKeys, kid)
	})
}

// AddFirstSigningKey stores the key only if no active key of its algorithm
// exists yet, so instances starting at once agree on one. It reports
// whether it stored it; the events given are recorded only then.
func (db *DB) AddFirstSigningKey(ctx context.Context, kid, algorithm string, material []byte, events ...warehouse.SecurityEvent) (_ bool, err error) {
	defer wrap(&err, "AddFirstSigningKey(%q)", kid)
	now := db.now()
	added := false
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	err = db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		if err := tx.serialize(ctx, lockSigningKey); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM signing_keys WHERE retired_at IS NULL AND algorithm = ?`, algorithm).Scan(&n); err != nil {
			return fmt.Errorf("read signing keys: %w", wrapErr(err))
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, algorithm, secret, created_at) VALUES (?, ?, ?, ?)`,
			kid, algorithm, material, ms(now)); err != nil {
			return fmt.Errorf("store signing key: %w", wrapErr(err))
		}
		added = true
		if err := sec.recordAll(ctx, tx, now, events); err != nil {
			return err
		}
		return addEvent(ctx, tx, now, warehouse.EventKeys, kid)
	})
	return added, err
}

// RetireSigningKey stops a key from verifying anything. Every instance
// reloads its keys. The events given (key_retired) are recorded in the
// same transaction.
func (db *DB) RetireSigningKey(ctx context.Context, kid string, events ...warehouse.SecurityEvent) (err error) {
	defer wrap(&err, "RetireSigningKey(%q)", kid)
	now := db.now()
	var sec security
	defer func() { sec.log(ctx, db, err) }()
	return db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL`, ms(now), kid)
		if err != nil {
			return fmt.Errorf("retire signing key: %w", wrapErr(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return warehouse.Errorf(warehouse.ENOTFOUND, "no active key %q", kid)
		}
		if err := sec.recordAll(ctx, tx, now, events); err != nil {
			return err
		}
		return addEvent(ctx, tx, now, warehouse.EventKeys, kid)
	})
}

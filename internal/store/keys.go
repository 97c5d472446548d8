package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"time"
)

// SigningKey is a stored token-signing key.
type SigningKey struct {
	ID        string
	Algorithm string
	Secret    []byte
	CreatedAt time.Time
	RetiredAt time.Time // zero while current
}

// SigningKeys returns the stored keys, newest first.
func (db *DB) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT kid, algorithm, secret, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid`)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", wrapErr(err))
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		var k SigningKey
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

// EnsureSigningKey returns the current key for algorithm, generating and
// storing a 32-byte random one on first use. Every instance on the same
// database reads the same key, so tokens verify anywhere and survive
// restarts. Concurrent first starts agree: the insert is conditional.
func (db *DB) EnsureSigningKey(ctx context.Context, algorithm string) (SigningKey, error) {
	find := func() (SigningKey, bool, error) {
		keys, err := db.SigningKeys(ctx)
		if err != nil {
			return SigningKey{}, false, err
		}
		for _, k := range keys {
			if k.RetiredAt.IsZero() && k.Algorithm == algorithm {
				return k, true, nil
			}
		}
		return SigningKey{}, false, nil
	}
	if k, ok, err := find(); err != nil || ok {
		return k, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	kidBytes := make([]byte, 8)
	if _, err := rand.Read(kidBytes); err != nil {
		return SigningKey{}, fmt.Errorf("generate key id: %w", err)
	}
	kid := fmt.Sprintf("%x", kidBytes)
	now := db.now()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM signing_keys WHERE retired_at IS NULL AND algorithm = ?`, algorithm).Scan(&n); err != nil {
			return fmt.Errorf("read signing keys: %w", wrapErr(err))
		}
		if n > 0 {
			return nil // another instance won the race
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, algorithm, secret, created_at) VALUES (?, ?, ?, ?)`, kid, algorithm, secret, ms(now))
		if err != nil {
			return fmt.Errorf("store signing key: %w", wrapErr(err))
		}
		return nil
	})
	if err != nil {
		return SigningKey{}, err
	}
	k, _, err := find()
	return k, err
}

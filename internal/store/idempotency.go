// Idempotency records: a retried request is replayed, never posted twice.

package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/warehouse-api/warehouse"
)

// checkIdempotency looks the key up inside the movement's transaction: a
// completed request with the same hash is replayed, another request under
// the same key is refused.
func checkIdempotency(ctx context.Context, tx *txn, idem *warehouse.Idempotency) error {
	if idem == nil {
		return nil
	}
	var hash, body []byte
	var movementID sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT request_hash, movement_id, body FROM idempotency_keys WHERE username = ? AND key = ?`, idem.User, idem.Key).Scan(&hash, &movementID, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read idempotency key: %w", wrapErr(err))
	}
	if !bytes.Equal(hash, idem.Hash) {
		return &warehouse.Error{Code: warehouse.EINVALID, Message: "Idempotency-Key was already used for a different request; use a new key for a new request",
			Fields: []warehouse.FieldError{{Field: "Idempotency-Key", Message: "reused with a different request"}}}
	}
	return &warehouse.IdempotentReplay{MovementID: movementID.Int64, Body: body}
}

// legacyReplayStatus fills idempotency_keys.status, which older versions
// wrote (always 201, the only answer ever stored) and replayed as the HTTP
// status. This version no longer reads it, but keeps writing 201 so that an
// older instance still running during a rolling upgrade replays our records
// correctly.
const legacyReplayStatus = 201

// saveIdempotency stores the response in the movement's transaction, so
// the key and the movement commit together or not at all.
func saveIdempotency(ctx context.Context, tx *txn, now time.Time, idem *warehouse.Idempotency, m *warehouse.Movement) error {
	if idem == nil {
		return nil
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode movement: %w", err)
	}
	// The record goes out with the commit (one round trip on PostgreSQL):
	// a concurrent request under the same key then fails the commit.
	return tx.later(ctx, func(err error) error {
		if isUniqueViolation(err) {
			if tx.pg {
				// Another instance committed this key while we worked
				// (PostgreSQL made us wait for it): run again, and the
				// check at the start replays its response.
				return fmt.Errorf("idempotency key taken concurrently: %w", errRetry)
			}
			return warehouse.Errorf(warehouse.ECONFLICT, "a request with this Idempotency-Key is already in progress")
		}
		return fmt.Errorf("store idempotency key: %w", wrapErr(err))
	}, `INSERT INTO idempotency_keys (username, key, request_hash, status, body, movement_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		idem.User, idem.Key, idem.Hash, legacyReplayStatus, body, m.ID, ms(now))
}

// PurgeIdempotencyKeys deletes idempotency records older than keep (the
// contract keeps them at least 24 hours). A stock import's records are
// kept for good: a file imported again a month later must replay, not
// count its stock again over every movement since.
func (db *DB) PurgeIdempotencyKeys(ctx context.Context, keep time.Duration) (_ int64, err error) {
	defer wrap(&err, "PurgeIdempotencyKeys")
	var n int64
	err = db.tx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < ? AND username <> ?`, ms(db.now().Add(-keep)), warehouse.ImportKeyUser)
		if err != nil {
			return fmt.Errorf("purge idempotency keys: %w", wrapErr(err))
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

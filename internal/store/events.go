package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// appendEvent writes one entry of the integration event log in tx, the
// transaction of the change it describes. data is marshalled to JSON. On
// PostgreSQL the row records the writing transaction's id, which readers
// use to know when no smaller event can still commit (see the migration).
func appendEvent(ctx context.Context, tx *txn, now time.Time, kind, subject, actor string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("event %s: %w", kind, err)
	}
	q := `INSERT INTO events (tx, kind, subject, data, actor, at) VALUES (0, ?, ?, ?, ?, ?)`
	if tx.pg {
		q = `INSERT INTO events (tx, kind, subject, data, actor, at) VALUES (pg_current_xact_id()::text::bigint, ?, ?, ?, ?, ?)`
	}
	if _, err := tx.ExecContext(ctx, q, kind, subject, string(b), actor, ms(now)); err != nil {
		return fmt.Errorf("insert event %s: %w", kind, wrapErr(err))
	}
	return nil
}

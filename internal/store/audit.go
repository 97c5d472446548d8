package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/warehouse-api/warehouse"
)

func scanAudit(row scanner) (*warehouse.AuditEvent, error) {
	var e warehouse.AuditEvent
	var before, after sql.NullString
	var at int64
	if err := row.Scan(&e.ID, &e.Entity, &e.EntityID, &e.Action, &before, &after, &e.Actor, &at); err != nil {
		return nil, err
	}
	e.Before, e.After = json.RawMessage("null"), json.RawMessage("null")
	if before.Valid {
		e.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		e.After = json.RawMessage(after.String)
	}
	e.At = fromMS(at)
	return &e, nil
}

// ListAuditEvents returns audit events matching f, newest first, a page at
// a time.
func (db *DB) ListAuditEvents(ctx context.Context, f warehouse.AuditFilter, p warehouse.Page) (_ []*warehouse.AuditEvent, _ string, err error) {
	defer wrap(&err, "ListAuditEvents")
	w := &where{}
	if f.Entity != "" {
		w.add(`entity = ?`, f.Entity)
	}
	if f.EntityID != "" {
		w.add(`entity_id = ?`, f.EntityID)
	}
	var before int64
	if ok, err := decodeCursor(p.After, "audit-events", &before); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`id < ?`, before)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT id, entity, entity_id, action, before, after, actor, at FROM audit_events`+w.String()+
		` ORDER BY id DESC LIMIT ?`, append(w.args, limit+1), scanAudit)
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor("audit-events", out[limit-1].ID)
	}
	return out, next, nil
}

// audit appends a master-data change to audit_events in the caller's
// transaction.
func audit(ctx context.Context, tx *txn, now time.Time, entity, id, action string, before, after any, actor string) error {
	js := func(v any) sql.NullString {
		if v == nil {
			return sql.NullString{}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return sql.NullString{}
		}
		return sql.NullString{String: string(b), Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_events (entity, entity_id, action, before, after, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		entity, id, action, js(before), js(after), actor, ms(now))
	if err != nil {
		return fmt.Errorf("record audit event: %w", wrapErr(err))
	}
	return nil
}

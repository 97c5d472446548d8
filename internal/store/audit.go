package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

const auditColumns = `id, entity, entity_id, action, before, after, actor, at, kind, ip, user_agent, request_id, detail`

func scanAudit(row scanner) (*warehouse.AuditEvent, error) {
	var e warehouse.AuditEvent
	var before, after, kind, detail sql.NullString
	var at int64
	if err := row.Scan(&e.ID, &e.Entity, &e.EntityID, &e.Action, &before, &after, &e.Actor, &at,
		&kind, &e.IP, &e.UserAgent, &e.RequestID, &detail); err != nil {
		return nil, err
	}
	e.Before, e.After = json.RawMessage("null"), json.RawMessage("null")
	if before.Valid {
		e.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		e.After = json.RawMessage(after.String)
	}
	if detail.Valid {
		e.Detail = json.RawMessage(detail.String)
	}
	e.Kind = kind.String
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
	if len(f.Kinds) > 0 {
		args := make([]any, len(f.Kinds))
		for i, k := range f.Kinds {
			args[i] = k
		}
		w.add(`kind IN (?`+strings.Repeat(`, ?`, len(f.Kinds)-1)+`)`, args...)
	}
	if f.ChangesOnly {
		w.add(`kind IS NULL`)
	}
	if f.Actor != "" {
		w.add(`actor = ?`, f.Actor)
	}
	if !f.Since.IsZero() {
		w.add(`at >= ?`, ms(f.Since))
	}
	if !f.Until.IsZero() {
		w.add(`at < ?`, ms(f.Until))
	}
	var before int64
	if ok, err := decodeCursor(p.After, "audit-events", &before); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`id < ?`, before)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT `+auditColumns+` FROM audit_events`+w.String()+
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

func jsonText(v any) sql.NullString {
	if v == nil {
		return sql.NullString{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return sql.NullString{}
	}
	return sql.NullString{String: string(b), Valid: true}
}

// origin is the request's Origin from ctx, cut to what a column keeps.
func origin(ctx context.Context) warehouse.Origin {
	o := warehouse.OriginFrom(ctx)
	return warehouse.Origin{IP: truncate(o.IP, 64), UserAgent: truncate(o.UserAgent, warehouse.MaxAuditUserAgent),
		RequestID: truncate(o.RequestID, 64)}
}

// audit appends a master-data change to audit_events in the caller's
// transaction, with the request's origin when the context has one.
func audit(ctx context.Context, tx *txn, now time.Time, entity, id, action string, before, after any, actor string) error {
	return insertAudit(ctx, tx, now, auditRow{entity: entity, id: id, action: action, before: before, after: after, actor: actor})
}

// auditRow is one row of audit_events; kind is empty for a master-data
// change.
type auditRow struct {
	kind, entity, id, action, actor string
	before, after, detail           any
}

func insertAudit(ctx context.Context, tx *txn, now time.Time, r auditRow) error {
	o := origin(ctx)
	kind := sql.NullString{String: r.kind, Valid: r.kind != ""}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_events (entity, entity_id, action, before, after, actor, at, kind, ip, user_agent, request_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.entity, r.id, r.action, jsonText(r.before), jsonText(r.after), r.actor, ms(now), kind, o.IP, o.UserAgent, o.RequestID, jsonText(r.detail))
	if err != nil {
		return fmt.Errorf("record audit event: %w", wrapErr(err))
	}
	return nil
}

// security is the security events one transaction records, logged once
// it has committed: a rolled back event is neither stored nor logged.
type security []warehouse.SecurityEvent

// record appends ev to audit_events in the caller's transaction, with the
// request's origin from ctx.
func (sec *security) record(ctx context.Context, tx *txn, now time.Time, ev warehouse.SecurityEvent) error {
	return sec.recordChange(ctx, tx, now, ev, ev.Kind, nil, nil)
}

// recordAll records each of events.
func (sec *security) recordAll(ctx context.Context, tx *txn, now time.Time, events []warehouse.SecurityEvent) error {
	for _, ev := range events {
		if err := sec.record(ctx, tx, now, ev); err != nil {
			return err
		}
	}
	return nil
}

// recordChange is record for a security event that is also a master-data
// change (a user created or unlocked): one row with both. Strings a client
// chose (an attempted username) are cut to what a column keeps.
func (sec *security) recordChange(ctx context.Context, tx *txn, now time.Time, ev warehouse.SecurityEvent, action string, before, after any) error {
	ev.Actor, ev.EntityID = truncate(ev.Actor, maxThrottledName), truncate(ev.EntityID, maxThrottledName)
	if err := insertAudit(ctx, tx, now, auditRow{kind: ev.Kind, entity: ev.Entity, id: ev.EntityID, action: action,
		before: before, after: after, actor: ev.Actor, detail: detailOf(ev)}); err != nil {
		return fmt.Errorf("%s: %w", ev.Kind, err)
	}
	*sec = append(*sec, ev)
	return nil
}

func detailOf(ev warehouse.SecurityEvent) any {
	if len(ev.Detail) == 0 {
		return nil
	}
	return ev.Detail
}

// log writes each recorded event once, at info, after its transaction
// committed (err nil): the one place security events are logged, whatever
// surface caused them. Never a secret: the events carry none.
func (sec security) log(ctx context.Context, db *DB, err error) {
	if err != nil || len(sec) == 0 || !db.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	o := origin(ctx)
	for _, ev := range sec {
		db.log.LogAttrs(ctx, slog.LevelInfo, "security event",
			slog.String("kind", ev.Kind), slog.String("actor", ev.Actor),
			slog.String("entity", ev.Entity), slog.String("subject", ev.EntityID),
			slog.String("ip", o.IP), slog.String("request_id", o.RequestID))
	}
}

// RecordSecurityEvent records one security event that changes nothing
// else (a throttled login; a failed one when there is no throttle): a
// cheap insert, grouped with others on SQLite.
func (db *DB) RecordSecurityEvent(ctx context.Context, ev warehouse.SecurityEvent) (err error) {
	defer wrap(&err, "RecordSecurityEvent")
	now := db.now()
	var sec security
	err = db.tx(ctx, func(tx *txn) error {
		sec = sec[:0]
		return sec.record(ctx, tx, now, ev)
	})
	sec.log(ctx, db, err)
	return err
}

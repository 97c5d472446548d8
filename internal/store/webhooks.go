package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

const webhookCols = `id, url, kinds, description, secret, enabled, pos_tx, pos_seq, attempt, next_attempt_at, created_at, created_by, updated_at, updated_by`

func scanWebhook(s scanner) (*warehouse.Webhook, error) {
	var w warehouse.Webhook
	var kinds string
	var enabled int
	var next, created, updated int64
	if err := s.Scan(&w.ID, &w.URL, &kinds, &w.Description, &w.Secret, &enabled, &w.Pos.Tx, &w.Pos.Seq, &w.Attempt, &next,
		&created, &w.CreatedBy, &updated, &w.UpdatedBy); err != nil {
		return nil, err
	}
	w.Kinds = splitKinds(kinds)
	w.Enabled = enabled != 0
	if next > 0 {
		w.NextAt = fromMS(next)
	}
	w.CreatedAt, w.UpdatedAt = fromMS(created), fromMS(updated)
	return &w, nil
}

// Kinds are stored comma-separated: every kind is a fixed word without one.
func joinKinds(k []string) string { return strings.Join(k, ",") }

func splitKinds(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateWebhook stores a new webhook with its secret. It starts at the
// head of the event log: it is sent the events committed from now on.
func (db *DB) CreateWebhook(ctx context.Context, c warehouse.WebhookChange, secret, actor string) (_ *warehouse.Webhook, err error) {
	defer wrap(&err, "CreateWebhook")
	if c.URL == nil {
		return nil, warehouse.Errorf(warehouse.EINVALID, "url is required")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	kinds := []string{}
	if c.Kinds != nil {
		kinds = *c.Kinds
	}
	desc := ""
	if c.Description != nil {
		desc = *c.Description
	}
	enabled := c.Enabled == nil || *c.Enabled
	now := ms(db.now())
	var out *warehouse.Webhook
	err = db.tx(ctx, func(tx *txn) error {
		head, err := eventHead(ctx, tx, tx.pg)
		if err != nil {
			return err
		}
		out, err = scanWebhook(tx.QueryRowContext(ctx, `INSERT INTO webhooks (url, kinds, description, secret, enabled, pos_tx, pos_seq, created_at, created_by, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+webhookCols,
			*c.URL, joinKinds(kinds), desc, secret, boolInt(enabled), head.Tx, head.Seq, now, actor, now, actor))
		return wrapErr(err)
	})
	return out, err
}

// Webhooks lists every webhook, oldest first.
func (db *DB) Webhooks(ctx context.Context) (_ []*warehouse.Webhook, err error) {
	defer wrap(&err, "Webhooks")
	return queryRows(ctx, db.read, `SELECT `+webhookCols+` FROM webhooks ORDER BY id LIMIT 1000`, nil, scanWebhook)
}

// Webhook returns one webhook, or ENOTFOUND.
func (db *DB) Webhook(ctx context.Context, id int64) (_ *warehouse.Webhook, err error) {
	defer wrap(&err, "Webhook")
	w, err := scanWebhook(db.read.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("webhook", id)
	}
	return w, wrapErr(err)
}

// UpdateWebhook changes the fields c sets. Disabling it stops its
// deliveries (the next attempt checks); enabling it again resumes after
// the last event delivered.
func (db *DB) UpdateWebhook(ctx context.Context, id int64, c warehouse.WebhookChange, actor string) (_ *warehouse.Webhook, err error) {
	defer wrap(&err, "UpdateWebhook")
	if err := c.Validate(); err != nil {
		return nil, err
	}
	set := []string{"updated_at = ?", "updated_by = ?"}
	args := []any{ms(db.now()), actor}
	if c.URL != nil {
		set, args = append(set, "url = ?"), append(args, *c.URL)
	}
	if c.Kinds != nil {
		set, args = append(set, "kinds = ?"), append(args, joinKinds(*c.Kinds))
	}
	if c.Description != nil {
		set, args = append(set, "description = ?"), append(args, *c.Description)
	}
	if c.Enabled != nil {
		set, args = append(set, "enabled = ?"), append(args, boolInt(*c.Enabled))
		if *c.Enabled {
			// A webhook enabled again is tried at once.
			set = append(set, "next_attempt_at = 0")
		}
	}
	var out *warehouse.Webhook
	err = db.tx(ctx, func(tx *txn) error {
		w, err := scanWebhook(tx.QueryRowContext(ctx, `UPDATE webhooks SET `+strings.Join(set, ", ")+` WHERE id = ? RETURNING `+webhookCols, append(args, id)...))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("webhook", id)
		}
		out = w
		return wrapErr(err)
	})
	return out, err
}

// DeleteWebhook deletes a webhook and its delivery log.
func (db *DB) DeleteWebhook(ctx context.Context, id int64) (err error) {
	defer wrap(&err, "DeleteWebhook")
	return db.tx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = ?`, id); err != nil {
			return wrapErr(err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		if err != nil {
			return wrapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("webhook", id)
		}
		return nil
	})
}

const deliveryCols = `id, webhook_id, event_seq, event_kind, message_id, attempt, status_code, error, duration_ms, outcome, at, next_retry_at`

func scanDelivery(s scanner) (*warehouse.WebhookDelivery, error) {
	var d warehouse.WebhookDelivery
	var status, next sql.NullInt64
	var at int64
	if err := s.Scan(&d.ID, &d.WebhookID, &d.EventSeq, &d.EventKind, &d.MessageID, &d.Attempt, &status, &d.Error, &d.DurationMS, &d.Outcome, &at, &next); err != nil {
		return nil, err
	}
	if status.Valid {
		c := int(status.Int64)
		d.StatusCode = &c
	}
	if next.Valid {
		t := fromMS(next.Int64)
		d.NextRetry = &t
	}
	d.At = fromMS(at)
	return &d, nil
}

// WebhookDeliveries is a page of a webhook's delivery log, newest first,
// or ENOTFOUND for a webhook that does not exist.
func (db *DB) WebhookDeliveries(ctx context.Context, id int64, p warehouse.Page) (_ []*warehouse.WebhookDelivery, next string, err error) {
	defer wrap(&err, "WebhookDeliveries")
	if _, err := db.Webhook(ctx, id); err != nil {
		return nil, "", err
	}
	var after int64
	ok, err := decodeCursor(p.After, "webhook_deliveries", &after)
	if err != nil {
		return nil, "", err
	}
	limit := pageLimit(p.Limit)
	q, args := `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE webhook_id = ?`, []any{id}
	if ok {
		q, args = q+` AND id < ?`, append(args, after)
	}
	ds, err := queryRows(ctx, db.read, q+` ORDER BY id DESC LIMIT ?`, append(args, limit+1), scanDelivery)
	if err != nil {
		return nil, "", err
	}
	if len(ds) > limit {
		ds = ds[:limit]
		next = encodeCursor("webhook_deliveries", ds[limit-1].ID)
	}
	return ds, next, nil
}

// ClaimWebhooks leases to owner, until now+lease, up to limit enabled
// webhooks that are due (no retry pending later) and leased to no one: on
// PostgreSQL instances racing for one webhook are serialized on its row,
// and the loser's UPDATE finds the lease taken when it re-checks the row.
// The holder delivers for the webhook and then releases it.
func (db *DB) ClaimWebhooks(ctx context.Context, owner string, lease time.Duration, limit int) (_ []*warehouse.Webhook, err error) {
	defer wrap(&err, "ClaimWebhooks")
	now := db.now()
	cond := `enabled = 1 AND next_attempt_at <= ? AND lease_until <= ?`
	var out []*warehouse.Webhook
	err = db.tx(ctx, func(tx *txn) error {
		var err error
		out, err = queryRows(ctx, tx, `UPDATE webhooks SET lease_owner = ?, lease_until = ?
			WHERE `+cond+` AND id IN (SELECT id FROM webhooks WHERE `+cond+` ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING `+webhookCols,
			[]any{owner, ms(now.Add(lease)), ms(now), ms(now), ms(now), ms(now), limit}, scanWebhook)
		return err
	})
	return out, err
}

// RecordDelivery writes one attempt to the delivery log (d, if not nil)
// and the webhook's progress, if owner still holds its lease. It reports
// false when it no longer does (the webhook was deleted or disabled, or
// the lease passed to another instance): nothing is written then.
func (db *DB) RecordDelivery(ctx context.Context, owner string, id int64, d *warehouse.WebhookDelivery, p warehouse.WebhookProgress) (_ bool, err error) {
	defer wrap(&err, "RecordDelivery")
	var next int64
	if !p.NextAt.IsZero() {
		next = ms(p.NextAt)
	}
	held := false
	err = db.tx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET pos_tx = ?, pos_seq = ?, attempt = ?, next_attempt_at = ? WHERE id = ? AND enabled = 1 AND lease_owner = ? AND lease_until > ?`,
			p.Pos.Tx, p.Pos.Seq, p.Attempt, next, id, owner, ms(db.now()))
		if err != nil {
			return wrapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		held = true
		if d == nil {
			return nil
		}
		var status, retry sql.NullInt64
		if d.StatusCode != nil {
			status = sql.NullInt64{Int64: int64(*d.StatusCode), Valid: true}
		}
		if d.NextRetry != nil {
			retry = sql.NullInt64{Int64: ms(*d.NextRetry), Valid: true}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_seq, event_kind, message_id, attempt, status_code, error, duration_ms, outcome, at, next_retry_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, d.EventSeq, d.EventKind, d.MessageID, d.Attempt, status, d.Error, d.DurationMS, d.Outcome, ms(d.At), retry)
		return wrapErr(err)
	})
	return held, err
}

// ReleaseWebhook gives up owner's lease, so that any instance may take
// the webhook at its next attempt.
func (db *DB) ReleaseWebhook(ctx context.Context, owner string, id int64) (err error) {
	defer wrap(&err, "ReleaseWebhook")
	return db.tx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhooks SET lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`, id, owner)
		return wrapErr(err)
	})
}

// PurgeWebhookDeliveries deletes delivery log rows older than age.
func (db *DB) PurgeWebhookDeliveries(ctx context.Context, age time.Duration) (n int64, err error) {
	defer wrap(&err, "PurgeWebhookDeliveries")
	err = db.tx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE at < ?`, ms(db.now().Add(-age)))
		if err != nil {
			return wrapErr(err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

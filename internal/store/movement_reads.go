// Reads of movements and their lines.

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/warehouse-api/warehouse"
)

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

const movementColumns = `m.id, m.type, m.reference, m.note, m.reason, m.reversal_of, (SELECT r.id FROM movements r WHERE r.reversal_of = m.id), m.created_by, m.created_at`

func scanMovement(row scanner) (*warehouse.Movement, error) {
	var m warehouse.Movement
	var reason sql.NullString
	var revOf, revBy sql.NullInt64
	var created int64
	if err := row.Scan(&m.ID, &m.Type, &m.Reference, &m.Note, &reason, &revOf, &revBy, &m.CreatedBy, &created); err != nil {
		return nil, err
	}
	if reason.Valid {
		m.Reason = &reason.String
	}
	if revOf.Valid {
		m.ReversalOf = &revOf.Int64
	}
	if revBy.Valid {
		m.ReversedBy = &revBy.Int64
	}
	m.CreatedAt = fromMS(created)
	m.Lines = []warehouse.MovementLine{}
	return &m, nil
}

func loadMovement(ctx context.Context, q querier, id int64) (*warehouse.Movement, error) {
	m, err := scanMovement(q.QueryRowContext(ctx, `SELECT `+movementColumns+` FROM movements m WHERE m.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("movement", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read movement: %w", wrapErr(err))
	}
	if err := loadLines(ctx, q, []*warehouse.Movement{m}); err != nil {
		return nil, err
	}
	return m, nil
}

// loadLines fills the lines and entries of ms.
func loadLines(ctx context.Context, q querier, ms []*warehouse.Movement) error {
	if len(ms) == 0 {
		return nil
	}
	byID := map[int64]*warehouse.Movement{}
	ph := make([]string, len(ms))
	args := make([]any, len(ms))
	for i, m := range ms {
		byID[m.ID] = m
		ph[i], args[i] = "?", m.ID
	}
	in := "(" + strings.Join(ph, ",") + ")"
	rows, err := q.QueryContext(ctx, `SELECT l.movement_id, l.line_no, l.item_id, i.sku, l.lot, l.from_location_id, l.to_location_id, l.location_id, l.qty, l.qty_delta, l.counted_qty, l.expected_qty
		FROM movement_lines l JOIN items i ON i.id = l.item_id WHERE l.movement_id IN `+in+` ORDER BY l.movement_id, l.line_no`, args...)
	if err != nil {
		return fmt.Errorf("read movement lines: %w", wrapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var mid int64
		var l warehouse.MovementLine
		var from, to, loc, qty, delta, counted, expected sql.NullInt64
		if err := rows.Scan(&mid, &l.LineNo, &l.ItemID, &l.SKU, &l.Lot, &from, &to, &loc, &qty, &delta, &counted, &expected); err != nil {
			return fmt.Errorf("read movement lines: %w", wrapErr(err))
		}
		l.FromLocationID, l.ToLocationID, l.LocationID = int64Ptr(from), int64Ptr(to), int64Ptr(loc)
		l.Qty, l.QtyDelta, l.CountedQty, l.ExpectedQty = qtyPtr(qty), qtyPtr(delta), qtyPtr(counted), qtyPtr(expected)
		l.Entries = []warehouse.Entry{}
		byID[mid].Lines = append(byID[mid].Lines, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read movement lines: %w", wrapErr(err))
	}
	rows.Close()
	erows, err := q.QueryContext(ctx, `SELECT movement_id, line_no, id, location_id, qty_delta, qty_after FROM ledger_entries WHERE movement_id IN `+in+` ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("read ledger entries: %w", wrapErr(err))
	}
	defer erows.Close()
	for erows.Next() {
		var mid, lineNo int64
		var e warehouse.Entry
		if err := erows.Scan(&mid, &lineNo, &e.ID, &e.LocationID, &e.QtyDelta, &e.QtyAfter); err != nil {
			return fmt.Errorf("read ledger entries: %w", wrapErr(err))
		}
		m := byID[mid]
		if lineNo >= 1 && int(lineNo) <= len(m.Lines) {
			m.Lines[lineNo-1].Entries = append(m.Lines[lineNo-1].Entries, e)
		}
	}
	return wrapErr(erows.Err())
}

// Movement returns one movement with its lines and entries.
func (db *DB) Movement(ctx context.Context, id int64) (_ *warehouse.Movement, err error) {
	defer wrap(&err, "Movement")
	return loadMovement(ctx, db.read, id)
}

func movementWhere(f warehouse.MovementFilter) *where {
	w := &where{}
	if f.Type != "" {
		w.add(`m.type = ?`, f.Type)
	}
	if f.ItemID != 0 {
		w.add(`EXISTS (SELECT 1 FROM movement_lines ml WHERE ml.movement_id = m.id AND ml.item_id = ?)`, f.ItemID)
	}
	if f.LocationID != 0 {
		w.add(`EXISTS (SELECT 1 FROM ledger_entries le WHERE le.movement_id = m.id AND le.location_id = ?)`, f.LocationID)
	}
	if f.Reference != "" {
		w.add(`m.reference = ?`, f.Reference)
	}
	if f.CreatedBy != "" {
		w.add(`m.created_by = ?`, f.CreatedBy)
	}
	if f.Since != nil {
		w.add(`m.created_at >= ?`, ms(*f.Since))
	}
	if f.Until != nil {
		w.add(`m.created_at < ?`, ms(*f.Until))
	}
	return w
}

// ListMovements returns a page of movements, newest first, with lines.
func (db *DB) ListMovements(ctx context.Context, f warehouse.MovementFilter, p warehouse.Page) (_ []*warehouse.Movement, _ string, err error) {
	defer wrap(&err, "ListMovements")
	w := movementWhere(f)
	var after int64
	if ok, err := decodeCursor(p.After, "movements", &after); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`m.id < ?`, after)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT `+movementColumns+` FROM movements m`+w.String()+` ORDER BY m.id DESC LIMIT ?`, append(w.args, limit+1), scanMovement)
	if err != nil {
		return nil, "", fmt.Errorf("list movements: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor("movements", out[limit-1].ID)
	}
	if err := loadLines(ctx, db.read, out); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// CountMovements counts the movements matching f.
func (db *DB) CountMovements(ctx context.Context, f warehouse.MovementFilter) (_ int, err error) {
	defer wrap(&err, "CountMovements")
	w := movementWhere(f)
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM movements m`+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count movements: %w", wrapErr(err))
	}
	return n, nil
}

// EachMovement streams the movements matching f, newest first, without
// lines (CSV export has one row per movement).
func (db *DB) EachMovement(ctx context.Context, f warehouse.MovementFilter, fn func(*warehouse.Movement) error) (err error) {
	defer wrap(&err, "EachMovement")
	w := movementWhere(f)
	return eachRow(ctx, db.read, `SELECT `+movementColumns+` FROM movements m`+w.String()+` ORDER BY m.id DESC`, w.args, scanMovement, fn)
}

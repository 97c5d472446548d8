// Balance updates: a movement's planned changes applied in lock order,
// with the ledger entries they write.

package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

// op is one change to one balance, the unit the ledger records. Lines
// become ops; ops are applied in (item, location, lot) order so that two
// movements never take balance locks in opposite orders (on PostgreSQL;
// SQLite has one writer anyway).
type op struct {
	line     int // index into the movement's lines
	item     *warehouse.Item
	loc      *warehouse.Location
	lot      string
	delta    warehouse.Qty
	count    bool // delta is counted - on_hand, computed when applied
	counted  warehouse.Qty
	expected *warehouse.Qty
}

// sortOps orders ops by (item, location, lot); for one key, increments come
// first so a movement that passes stock through a location in one go (A->B,
// B->C) does not fail on the order of its lines.
func sortOps(ops []op) {
	slices.SortStableFunc(ops, func(a, b op) int {
		return cmp.Or(cmp.Compare(a.item.ID, b.item.ID), cmp.Compare(a.loc.ID, b.loc.ID), strings.Compare(a.lot, b.lot), cmp.Compare(b.delta, a.delta))
	})
}

// apply changes one balance and returns the quantity after. A decrement is
// a conditional UPDATE: it touches no row unless enough is available, and
// the caller records the shortage. Returns ok=false on shortage.
func apply(ctx context.Context, tx *txn, now time.Time, o *op) (after warehouse.Qty, ok bool, err error) {
	if o.count {
		if tx.pg {
			// A count sets the balance to what was counted, so the
			// balance must not move between reading it and writing the
			// difference: make sure the row exists, then lock it.
			if _, err := tx.ExecContext(ctx, `INSERT INTO stock_balances (item_id, location_id, lot) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				o.item.ID, o.loc.ID, o.lot); err != nil {
				return 0, false, fmt.Errorf("lock balance: %w", wrapErr(err))
			}
		}
		var onHand int64
		err := tx.QueryRowContext(ctx, `SELECT on_hand FROM stock_balances WHERE item_id = ? AND location_id = ? AND lot = ?`+tx.forUpdate(""), o.item.ID, o.loc.ID, o.lot).Scan(&onHand)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, false, fmt.Errorf("read balance: %w", wrapErr(err))
		}
		if o.expected != nil && *o.expected != warehouse.Qty(onHand) {
			return 0, false, &warehouse.CountOutdatedError{SKU: o.item.SKU, LocationCode: o.loc.Path, Lot: o.lot, Expected: *o.expected, OnHand: warehouse.Qty(onHand)}
		}
		o.delta = o.counted - warehouse.Qty(onHand)
	}
	var counted sql.NullInt64
	if o.count {
		counted = sql.NullInt64{Int64: ms(now), Valid: true}
	}
	var v int64
	if o.delta >= 0 {
		err = tx.QueryRowContext(ctx, `INSERT INTO stock_balances (item_id, location_id, lot, on_hand, reserved, last_movement_at, last_counted_at)
			VALUES (?, ?, ?, ?, 0, ?, ?)
			ON CONFLICT (item_id, location_id, lot) DO UPDATE SET on_hand = stock_balances.on_hand + excluded.on_hand,
				last_movement_at = excluded.last_movement_at, last_counted_at = coalesce(excluded.last_counted_at, stock_balances.last_counted_at)
			RETURNING on_hand`,
			o.item.ID, o.loc.ID, o.lot, int64(o.delta), ms(now), counted).Scan(&v)
		if err != nil {
			return 0, false, fmt.Errorf("increase balance: %w", wrapErr(err))
		}
		if warehouse.Qty(v) > warehouse.MaxQty {
			return 0, false, warehouse.Errorf(warehouse.EINVALID, "%s at %s would exceed the largest balance (10^12)", o.item.SKU, o.loc.Path)
		}
		return warehouse.Qty(v), true, nil
	}
	q := int64(-o.delta)
	err = tx.QueryRowContext(ctx, `UPDATE stock_balances SET on_hand = on_hand - ?, last_movement_at = ?, last_counted_at = coalesce(?, last_counted_at)
		WHERE item_id = ? AND location_id = ? AND lot = ? AND on_hand - reserved >= ?
		RETURNING on_hand`, q, ms(now), counted, o.item.ID, o.loc.ID, o.lot, q).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("decrease balance: %w", wrapErr(err))
	}
	return warehouse.Qty(v), true, nil
}

func available(ctx context.Context, tx *txn, o *op) (warehouse.Qty, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `SELECT on_hand - reserved FROM stock_balances WHERE item_id = ? AND location_id = ? AND lot = ?`, o.item.ID, o.loc.ID, o.lot).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read balance: %w", wrapErr(err))
	}
	return warehouse.Qty(v), nil
}

// applyAll applies ops in lock order, writes one ledger entry per op and
// returns the entries per line. Every shortage is collected so the client
// learns them all at once; any shortage fails the whole movement.
func applyAll(ctx context.Context, tx *txn, now time.Time, m *warehouse.Movement, ops []op) error {
	sortOps(ops)
	var shortages []warehouse.Shortage
	for i := range ops {
		o := &ops[i]
		after, ok, err := apply(ctx, tx, now, o)
		if err != nil {
			return err
		}
		if !ok {
			avail, err := available(ctx, tx, o)
			if err != nil {
				return err
			}
			req := -o.delta
			if o.count {
				req = avail - o.counted
			}
			shortages = append(shortages, warehouse.Shortage{SKU: o.item.SKU, LocationCode: o.loc.Path, Lot: o.lot, Requested: req, Available: avail})
			continue
		}
		if len(shortages) > 0 {
			continue // the movement fails; no point writing entries
		}
		line := &m.Lines[o.line]
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO ledger_entries (movement_id, line_no, type, item_id, location_id, lot, qty_delta, qty_after, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			m.ID, line.LineNo, m.Type, o.item.ID, o.loc.ID, o.lot, int64(o.delta), int64(after), m.CreatedBy, ms(now)).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert ledger entry: %w", wrapErr(err))
		}
		line.Entries = append(line.Entries, warehouse.Entry{ID: id, LocationID: o.loc.ID, QtyDelta: o.delta, QtyAfter: after})
	}
	if len(shortages) > 0 {
		return &warehouse.StockError{Shortages: shortages}
	}
	for i := range m.Lines {
		slices.SortFunc(m.Lines[i].Entries, func(a, b warehouse.Entry) int { return cmp.Compare(a.ID, b.ID) })
	}
	return nil
}

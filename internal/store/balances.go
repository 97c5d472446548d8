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
	"time"

	"github.com/warehouse-api/warehouse"
)

// ledgerInsert writes one ledger entry; its qty_after is the balance's
// new on_hand, from b (a WITH on PostgreSQL) or a parameter (SQLite).
const ledgerInsert = `INSERT INTO ledger_entries (movement_id, line_no, type, item_id, location_id, lot, qty_delta, qty_after, created_by, created_at)`

// entry is the ledger entry to write with a posting.
type entry struct {
	movementID int64
	lineNo     int64
	typ        string
	createdBy  string
}

// apply changes one balance, writes its ledger entry and returns the
// quantity after and the entry's id. A decrement is a conditional UPDATE:
// it touches no row unless enough is available, and the caller records the
// shortage. Returns ok=false on shortage. On PostgreSQL the balance and the
// entry are one statement (one round trip): the entry inserts from the
// balance's RETURNING, so a shortage (no row) writes none.
func apply(ctx context.Context, tx *txn, now time.Time, o *warehouse.Posting, e entry) (after warehouse.Qty, id int64, ok bool, err error) {
	if o.Count {
		if tx.pg {
			// A count sets the balance to what was counted, so the
			// balance must not move between reading it and writing the
			// difference: make sure the row exists, then lock it.
			if _, err := tx.ExecContext(ctx, `INSERT INTO stock_balances (item_id, location_id, lot) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				o.Item.ID, o.Location.ID, o.Lot); err != nil {
				return 0, 0, false, fmt.Errorf("lock balance: %w", wrapErr(err))
			}
		}
		var onHand int64
		err := tx.QueryRowContext(ctx, `SELECT on_hand FROM stock_balances WHERE item_id = ? AND location_id = ? AND lot = ?`+tx.forUpdate(""), o.Item.ID, o.Location.ID, o.Lot).Scan(&onHand)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, 0, false, fmt.Errorf("read balance: %w", wrapErr(err))
		}
		if err := o.SetOnHand(warehouse.Qty(onHand)); err != nil {
			return 0, 0, false, err
		}
	}
	var counted sql.NullInt64
	if o.Count {
		counted = sql.NullInt64{Int64: ms(now), Valid: true}
	}
	var q string
	var args []any
	if o.Delta >= 0 {
		q = `INSERT INTO stock_balances (item_id, location_id, lot, on_hand, reserved, last_movement_at, last_counted_at)
			VALUES (?, ?, ?, ?, 0, ?, ?)
			ON CONFLICT (item_id, location_id, lot) DO UPDATE SET on_hand = stock_balances.on_hand + excluded.on_hand,
				last_movement_at = excluded.last_movement_at, last_counted_at = coalesce(excluded.last_counted_at, stock_balances.last_counted_at)
			RETURNING on_hand`
		args = []any{o.Item.ID, o.Location.ID, o.Lot, int64(o.Delta), ms(now), counted}
	} else {
		n := int64(-o.Delta)
		q = `UPDATE stock_balances SET on_hand = on_hand - ?, last_movement_at = ?, last_counted_at = coalesce(?, last_counted_at)
			WHERE item_id = ? AND location_id = ? AND lot = ? AND on_hand - reserved >= ?
			RETURNING on_hand`
		args = []any{n, ms(now), counted, o.Item.ID, o.Location.ID, o.Lot, n}
	}
	entryArgs := []any{e.movementID, e.lineNo, e.typ, o.Item.ID, o.Location.ID, o.Lot, int64(o.Delta)}
	var v int64
	if tx.pg {
		err = tx.QueryRowContext(ctx, `WITH b AS (`+q+`) `+ledgerInsert+` SELECT ?, ?, ?, ?, ?, ?, ?, b.on_hand, ?, ? FROM b RETURNING qty_after, id`,
			append(append(args, entryArgs...), e.createdBy, ms(now))...).Scan(&v, &id)
	} else {
		err = tx.QueryRowContext(ctx, q, args...).Scan(&v)
	}
	if errors.Is(err, sql.ErrNoRows) && o.Delta < 0 {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("change balance: %w", wrapErr(err))
	}
	if o.Delta >= 0 {
		if err := o.CheckBalance(warehouse.Qty(v)); err != nil {
			return 0, 0, false, err
		}
	}
	if !tx.pg {
		err = tx.QueryRowContext(ctx, ledgerInsert+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			append(entryArgs, v, e.createdBy, ms(now))...).Scan(&id)
		if err != nil {
			return 0, 0, false, fmt.Errorf("insert ledger entry: %w", wrapErr(err))
		}
	}
	return warehouse.Qty(v), id, true, nil
}

func available(ctx context.Context, tx *txn, o *warehouse.Posting) (warehouse.Qty, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `SELECT on_hand - reserved FROM stock_balances WHERE item_id = ? AND location_id = ? AND lot = ?`, o.Item.ID, o.Location.ID, o.Lot).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read balance: %w", wrapErr(err))
	}
	return warehouse.Qty(v), nil
}

// applyAll applies postings in lock order (warehouse.SortPostings: on
// PostgreSQL two movements never lock balances in opposite orders; SQLite
// has one writer anyway), writes one ledger entry per posting and
// returns the entries per line. Every shortage is collected so the client
// learns them all at once; any shortage fails the whole movement.
func applyAll(ctx context.Context, tx *txn, now time.Time, m *warehouse.Movement, ps []warehouse.Posting) error {
	warehouse.SortPostings(ps)
	var shortages []warehouse.Shortage
	for i := range ps {
		o := &ps[i]
		line := &m.Lines[o.Line]
		after, id, ok, err := apply(ctx, tx, now, o, entry{movementID: m.ID, lineNo: line.LineNo, typ: m.Type, createdBy: m.CreatedBy})
		if err != nil {
			return err
		}
		if !ok {
			avail, err := available(ctx, tx, o)
			if err != nil {
				return err
			}
			shortages = append(shortages, o.Shortage(avail))
			if err := explainReserved(ctx, tx, o, &shortages[len(shortages)-1]); err != nil {
				return err
			}
			continue
		}
		if len(shortages) > 0 {
			continue // the movement fails: its entries are rolled back
		}
		line.Entries = append(line.Entries, warehouse.Entry{ID: id, LocationID: o.Location.ID, QtyDelta: o.Delta, QtyAfter: after})
	}
	if len(shortages) > 0 {
		return &warehouse.StockError{Shortages: shortages}
	}
	for i := range m.Lines {
		slices.SortFunc(m.Lines[i].Entries, func(a, b warehouse.Entry) int { return cmp.Compare(a.ID, b.ID) })
	}
	return nil
}

package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/warehouse-api/warehouse"
)

var _ warehouse.MovementStore = (*DB)(nil)

func insertMovement(ctx context.Context, tx *txn, now time.Time, m *warehouse.Movement) error {
	err := tx.QueryRowContext(ctx, `INSERT INTO movements (type, reference, note, reason, reversal_of, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		m.Type, m.Reference, m.Note, m.Reason, m.ReversalOf, m.CreatedBy, ms(now)).Scan(&m.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return warehouse.Errorf(warehouse.ECONFLICT, "movement %d is already reversed", *m.ReversalOf)
		}
		return fmt.Errorf("insert movement: %w", wrapErr(err))
	}
	for _, l := range m.Lines {
		_, err := tx.ExecContext(ctx, `INSERT INTO movement_lines (movement_id, line_no, item_id, lot, from_location_id, to_location_id, location_id, qty, qty_delta, counted_qty, expected_qty)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, l.LineNo, l.ItemID, l.Lot, l.FromLocationID, l.ToLocationID, l.LocationID, nullQty(l.Qty), nullQty(l.QtyDelta), nullQty(l.CountedQty), nullQty(l.ExpectedQty))
		if err != nil {
			return fmt.Errorf("insert movement line: %w", wrapErr(err))
		}
	}
	return nil
}

// PostMovement validates and posts a movement in one transaction: the
// movement, its lines, the balance changes, the ledger entries and the
// idempotency record commit together. A replayed key returns
// *warehouse.IdempotentReplay as the error.
func (db *DB) PostMovement(ctx context.Context, nm warehouse.NewMovement, actor string, idem *warehouse.Idempotency) (*warehouse.Movement, error) {
	now := db.now()
	var out *warehouse.Movement
	err := db.tx(ctx, func(tx *txn) error {
		if err := checkIdempotency(ctx, tx, idem); err != nil {
			return err
		}
		nm.Lines = slices.Clone(nm.Lines)
		ops, err := plan(newResolver(ctx, tx), &nm)
		if err != nil {
			return err
		}
		m := &warehouse.Movement{Type: nm.Type, Reference: nm.Reference, Note: nm.Note, CreatedBy: actor, CreatedAt: fromMS(ms(now)), Lines: nm.Lines}
		if nm.Reason != "" {
			m.Reason = &nm.Reason
		}
		if err := insertMovement(ctx, tx, now, m); err != nil {
			return err
		}
		for i := range m.Lines {
			m.Lines[i].Entries = []warehouse.Entry{}
		}
		if err := applyAll(ctx, tx, now, m, ops); err != nil {
			return err
		}
		out = m
		return saveIdempotency(ctx, tx, now, idem, m)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReverseMovement posts the compensating movement of id: every ledger
// entry of the original, negated, under the same lines. It obeys the same
// stock floor (reversing a receipt whose stock was issued is refused).
func (db *DB) ReverseMovement(ctx context.Context, id int64, note, actor string, idem *warehouse.Idempotency) (*warehouse.Movement, error) {
	if len(note) > 1000 {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "note must be at most 1000 characters", Fields: []warehouse.FieldError{{Field: "note", Message: "too long"}}}
	}
	now := db.now()
	var out *warehouse.Movement
	err := db.tx(ctx, func(tx *txn) error {
		if err := checkIdempotency(ctx, tx, idem); err != nil {
			return err
		}
		orig, err := loadMovement(ctx, tx, id)
		if err != nil {
			return err
		}
		if orig.ReversalOf != nil {
			return warehouse.Errorf(warehouse.ECONFLICT, "movement %d is itself a reversal (of %d); post a new movement instead", id, *orig.ReversalOf)
		}
		if orig.ReversedBy != nil {
			return warehouse.Errorf(warehouse.ECONFLICT, "movement %d is already reversed by movement %d", id, *orig.ReversedBy)
		}
		if note == "" {
			note = fmt.Sprintf("reversal of movement %d", id)
		}
		m := &warehouse.Movement{Type: orig.Type, Reference: orig.Reference, Note: note, Reason: orig.Reason, ReversalOf: &orig.ID,
			CreatedBy: actor, CreatedAt: fromMS(ms(now))}
		r := newResolver(ctx, tx)
		var ops []op
		for i, l := range orig.Lines {
			nl := l
			nl.Entries = []warehouse.Entry{}
			m.Lines = append(m.Lines, nl)
			it, err := r.item(i, &warehouse.MovementLine{ItemID: l.ItemID})
			if err != nil {
				return err
			}
			for _, e := range l.Entries {
				loc, err := r.location(i, "location_id", &e.LocationID)
				if err != nil {
					return err
				}
				ops = append(ops, op{line: i, item: it, loc: loc, lot: l.Lot, delta: -e.QtyDelta})
			}
		}
		if err := insertMovement(ctx, tx, now, m); err != nil {
			return err
		}
		if err := applyAll(ctx, tx, now, m, ops); err != nil {
			return err
		}
		out = m
		return saveIdempotency(ctx, tx, now, idem, m)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/warehouse-api/warehouse"
)

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
func (db *DB) PostMovement(ctx context.Context, nm warehouse.NewMovement, actor string, idem *warehouse.Idempotency) (_ *warehouse.Movement, err error) {
	defer wrap(&err, "PostMovement")
	now := db.now()
	var out *warehouse.Movement
	err = db.tx(ctx, func(tx *txn) error {
		m, err := postMovementTx(ctx, tx, now, nm, actor, idem)
		out = m
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// postMovementTx is PostMovement inside tx, for use cases that post
// movements as part of a larger transaction. The domain plans the lines
// (warehouse.PlanMovement) from the rows resolved and locked here.
func postMovementTx(ctx context.Context, tx *txn, now time.Time, nm warehouse.NewMovement, actor string, idem *warehouse.Idempotency) (*warehouse.Movement, error) {
	if err := checkIdempotency(ctx, tx, idem); err != nil {
		return nil, err
	}
	// Header rules first: a movement refused on its own fields costs no lookup.
	if err := nm.Validate(); err != nil {
		return nil, err
	}
	nm.Lines = slices.Clone(nm.Lines)
	r := newResolver(ctx, tx)
	if err := r.lines(nm.Lines); err != nil {
		return nil, err
	}
	ps, err := warehouse.PlanMovement(&nm, r.res)
	if err != nil {
		return nil, err
	}
	m := &warehouse.Movement{Type: nm.Type, Reference: nm.Reference, Note: nm.Note, CreatedBy: actor, CreatedAt: fromMS(ms(now)), Lines: nm.Lines}
	if nm.Reason != "" {
		m.Reason = &nm.Reason
	}
	if err := insertMovement(ctx, tx, now, m); err != nil {
		return nil, err
	}
	for i := range m.Lines {
		m.Lines[i].Entries = []warehouse.Entry{}
	}
	if err := applyAll(ctx, tx, now, m, ps); err != nil {
		return nil, err
	}
	if err := appendEvent(ctx, tx, now, warehouse.EventMovementPosted, movementSubject(m), actor, movementSummary(m)); err != nil {
		return nil, err
	}
	return m, saveIdempotency(ctx, tx, now, idem, m)
}

// ReverseMovement posts the compensating movement of id: every ledger
// entry of the original, negated, under the same lines. It obeys the same
// stock floor (reversing a receipt whose stock was issued is refused).
func (db *DB) ReverseMovement(ctx context.Context, id int64, note, actor string, idem *warehouse.Idempotency) (_ *warehouse.Movement, err error) {
	defer wrap(&err, "ReverseMovement")
	if err := warehouse.ValidateReversalNote(note); err != nil {
		return nil, err
	}
	now := db.now()
	var out *warehouse.Movement
	err = db.tx(ctx, func(tx *txn) error {
		m, err := reverseMovementTx(ctx, tx, now, id, note, actor, idem)
		out = m
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// reverseMovementTx is ReverseMovement inside tx.
func reverseMovementTx(ctx context.Context, tx *txn, now time.Time, id int64, note, actor string, idem *warehouse.Idempotency) (*warehouse.Movement, error) {
	if err := checkIdempotency(ctx, tx, idem); err != nil {
		return nil, err
	}
	orig, err := loadMovement(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := orig.CanReverse(); err != nil {
		return nil, err
	}
	r := newResolver(ctx, tx)
	if err := r.reversal(orig); err != nil {
		return nil, err
	}
	m, ps, err := warehouse.PlanReversal(orig, note, r.res)
	if err != nil {
		return nil, err
	}
	m.CreatedBy, m.CreatedAt = actor, fromMS(ms(now))
	if err := insertMovement(ctx, tx, now, m); err != nil {
		return nil, err
	}
	if err := applyAll(ctx, tx, now, m, ps); err != nil {
		return nil, err
	}
	if err := appendEvent(ctx, tx, now, warehouse.EventMovementPosted, movementSubject(m), actor, movementSummary(m)); err != nil {
		return nil, err
	}
	return m, saveIdempotency(ctx, tx, now, idem, m)
}

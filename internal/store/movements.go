package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

// lineColumns are movement_lines' columns as insertMovement writes them.
const lineColumns = `movement_id, line_no, item_id, lot, from_location_id, to_location_id, location_id, qty, qty_delta, counted_qty, expected_qty`

// linesPerInsert bounds the rows of one multi-row INSERT of lines (11
// parameters each: far below either engine's limit).
const linesPerInsert = 200

const insertMovementSQL = `INSERT INTO movements (type, reference, note, reason, reversal_of, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`

// insertMovement writes the movement and its lines. On PostgreSQL the
// header and the first lines go in one statement (a data-modifying WITH:
// one round trip); SQLite, which has no such WITH and no round trips,
// runs the header and then the lines as one multi-row INSERT.
func insertMovement(ctx context.Context, tx *txn, now time.Time, m *warehouse.Movement) error {
	header := []any{m.Type, m.Reference, m.Note, m.Reason, m.ReversalOf, m.CreatedBy, ms(now)}
	lines := m.Lines
	var err error
	if tx.pg {
		first := lines[:min(len(lines), linesPerInsert)]
		// Each row reads the new id from the WITH, which runs once.
		q, args := linesInsert(`(SELECT id FROM m)`, 0, first)
		err = tx.QueryRowContext(ctx, `WITH m AS (`+insertMovementSQL+`) `+q+` RETURNING movement_id`, append(header, args...)...).Scan(&m.ID)
		lines = lines[len(first):]
	} else {
		err = tx.QueryRowContext(ctx, insertMovementSQL, header...).Scan(&m.ID)
	}
	if err != nil {
		if isUniqueViolation(err) && m.ReversalOf != nil {
			return warehouse.Errorf(warehouse.ECONFLICT, "movement %d is already reversed", *m.ReversalOf)
		}
		return fmt.Errorf("insert movement: %w", wrapErr(err))
	}
	for len(lines) > 0 {
		chunk := lines[:min(len(lines), linesPerInsert)]
		q, args := linesInsert(`?`, m.ID, chunk)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert movement lines: %w", wrapErr(err))
		}
		lines = lines[len(chunk):]
	}
	return nil
}

// linesInsert is the multi-row INSERT of lines, each row's movement_id
// being idExpr (with id as its argument if idExpr is ?).
func linesInsert(idExpr string, id int64, lines []warehouse.MovementLine) (string, []any) {
	var b strings.Builder
	b.WriteString(`INSERT INTO movement_lines (` + lineColumns + `) VALUES `)
	args := make([]any, 0, len(lines)*11)
	for i, l := range lines {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`(` + idExpr + `, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if idExpr == `?` {
			args = append(args, id)
		}
		args = append(args, l.LineNo, l.ItemID, l.Lot, l.FromLocationID, l.ToLocationID, l.LocationID, nullQty(l.Qty), nullQty(l.QtyDelta), nullQty(l.CountedQty), nullQty(l.ExpectedQty))
	}
	return b.String(), args
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

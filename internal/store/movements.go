package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

var _ warehouse.MovementStore = (*DB)(nil)

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

// resolver looks up items and locations once per transaction.
type resolver struct {
	ctx   context.Context
	tx    *txn
	items map[string]*warehouse.Item // by "#id" and "sku"
	locs  map[int64]*warehouse.Location
}

func newResolver(ctx context.Context, tx *txn) *resolver {
	return &resolver{ctx: ctx, tx: tx, items: map[string]*warehouse.Item{}, locs: map[int64]*warehouse.Location{}}
}

func lineErr(i int, field, msg string) error {
	f := fmt.Sprintf("lines[%d].%s", i, field)
	return &warehouse.Error{Code: warehouse.EINVALID, Message: f + ": " + msg, Fields: []warehouse.FieldError{{Field: f, Message: msg}}}
}

func (r *resolver) item(i int, l *warehouse.MovementLine) (*warehouse.Item, error) {
	var key string
	var row *sql.Row
	switch {
	case l.ItemID != 0:
		key = fmt.Sprintf("#%d", l.ItemID)
		if it, ok := r.items[key]; ok {
			return it, nil
		}
		row = r.tx.QueryRowContext(r.ctx, `SELECT `+itemColumns+` FROM items i WHERE i.id = ?`+r.tx.keyShare("i"), l.ItemID)
	case l.SKU != "":
		key = l.SKU
		if it, ok := r.items[key]; ok {
			return it, nil
		}
		row = r.tx.QueryRowContext(r.ctx, `SELECT `+itemColumns+` FROM items i WHERE i.sku = ?`+r.tx.keyShare("i"), l.SKU)
	default:
		return nil, lineErr(i, "item_id", "give item_id or sku")
	}
	it, err := scanItem(row)
	if errors.Is(err, sql.ErrNoRows) {
		if l.ItemID != 0 {
			return nil, lineErr(i, "item_id", fmt.Sprintf("no item %d", l.ItemID))
		}
		return nil, lineErr(i, "sku", fmt.Sprintf("no item with sku %q", l.SKU))
	}
	if err != nil {
		return nil, fmt.Errorf("read item: %w", wrapErr(err))
	}
	if l.ItemID != 0 && l.SKU != "" && l.SKU != it.SKU {
		return nil, lineErr(i, "sku", fmt.Sprintf("item %d has sku %s, not %s", it.ID, it.SKU, l.SKU))
	}
	r.items[key] = it
	return it, nil
}

func (r *resolver) location(i int, field string, id *int64) (*warehouse.Location, error) {
	if id == nil {
		return nil, lineErr(i, field, "field required")
	}
	if l, ok := r.locs[*id]; ok {
		return l, nil
	}
	l, err := lockLocationTx(r.ctx, r.tx, *id, r.tx.keyShare("l"))
	if warehouse.ErrorCode(err) == warehouse.ENOTFOUND {
		return nil, lineErr(i, field, fmt.Sprintf("no location %d", *id))
	}
	if err != nil {
		return nil, err
	}
	r.locs[*id] = l
	return l, nil
}

// usable checks that stock may be posted to the location.
func usable(i int, field string, l *warehouse.Location) error {
	if l.Structural {
		return lineErr(i, field, fmt.Sprintf("location %s is structural and cannot hold stock", l.Path))
	}
	if !l.Active {
		return lineErr(i, field, fmt.Sprintf("location %s is archived", l.Path))
	}
	return nil
}

func positive(i int, field string, q *warehouse.Qty, it *warehouse.Item) error {
	if q == nil {
		return lineErr(i, field, "field required")
	}
	if *q <= 0 {
		return lineErr(i, field, "must be greater than 0")
	}
	return precision(i, field, *q, it)
}

func precision(i int, field string, q warehouse.Qty, it *warehouse.Item) error {
	if q.Decimals() > it.QtyPrecision {
		return lineErr(i, field, fmt.Sprintf("%s has more decimals than item %s allows (qty_precision %d)", q, it.SKU, it.QtyPrecision))
	}
	return nil
}

// forbid refuses fields that do not belong to the movement type, so that a
// client's mistake (say, to_location_id on an issue) is not silently ignored.
func forbid(i int, l *warehouse.MovementLine, fields ...string) error {
	set := map[string]bool{
		"from_location_id": l.FromLocationID != nil, "to_location_id": l.ToLocationID != nil, "location_id": l.LocationID != nil,
		"qty": l.Qty != nil, "qty_delta": l.QtyDelta != nil, "counted_qty": l.CountedQty != nil, "expected_qty": l.ExpectedQty != nil,
	}
	for _, f := range fields {
		if set[f] {
			return lineErr(i, f, "not allowed for this movement type")
		}
	}
	return nil
}

// plan validates a new movement against the database and turns its lines
// into ops. It fills each line's item id and sku.
func plan(r *resolver, m *warehouse.NewMovement) ([]op, error) {
	if !slices.Contains(warehouse.MovementTypes, m.Type) {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "type must be one of " + strings.Join(warehouse.MovementTypes, ", "),
			Fields: []warehouse.FieldError{{Field: "type", Message: "unknown movement type"}}}
	}
	if m.Type == warehouse.MoveAdjustment {
		if !slices.Contains(warehouse.AdjustmentReasons, m.Reason) {
			return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "an adjustment needs a reason: " + strings.Join(warehouse.AdjustmentReasons, ", "),
				Fields: []warehouse.FieldError{{Field: "reason", Message: "required, one of " + strings.Join(warehouse.AdjustmentReasons, ", ")}}}
		}
	} else if m.Reason != "" && !slices.Contains(warehouse.AdjustmentReasons, m.Reason) {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "reason must be one of " + strings.Join(warehouse.AdjustmentReasons, ", "),
			Fields: []warehouse.FieldError{{Field: "reason", Message: "unknown reason"}}}
	}
	if len(m.Reference) > 100 {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "reference must be at most 100 characters", Fields: []warehouse.FieldError{{Field: "reference", Message: "too long"}}}
	}
	if len(m.Note) > 1000 {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "note must be at most 1000 characters", Fields: []warehouse.FieldError{{Field: "note", Message: "too long"}}}
	}
	if len(m.Lines) == 0 || len(m.Lines) > warehouse.MaxMovementLines {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("a movement has 1 to %d lines", warehouse.MaxMovementLines),
			Fields: []warehouse.FieldError{{Field: "lines", Message: fmt.Sprintf("1 to %d lines", warehouse.MaxMovementLines)}}}
	}
	var ops []op
	counted := map[[3]string]bool{}
	for i := range m.Lines {
		l := &m.Lines[i]
		l.LineNo = int64(i + 1)
		it, err := r.item(i, l)
		if err != nil {
			return nil, err
		}
		l.ItemID, l.SKU = it.ID, it.SKU
		if !it.Active {
			return nil, lineErr(i, "item_id", fmt.Sprintf("item %s is archived", it.SKU))
		}
		if it.LotTracked && l.Lot == "" {
			return nil, lineErr(i, "lot", fmt.Sprintf("item %s is lot-tracked: lot is required", it.SKU))
		}
		if !it.LotTracked && l.Lot != "" {
			return nil, lineErr(i, "lot", fmt.Sprintf("item %s is not lot-tracked: lot is not allowed", it.SKU))
		}
		if len(l.Lot) > 64 {
			return nil, lineErr(i, "lot", "must be at most 64 characters")
		}
		at := func(field string, id *int64) (*warehouse.Location, error) {
			loc, err := r.location(i, field, id)
			if err != nil {
				return nil, err
			}
			return loc, usable(i, field, loc)
		}
		base := op{line: i, item: it, lot: l.Lot}
		switch m.Type {
		case warehouse.MoveReceipt, warehouse.MoveIssue, warehouse.MoveTransfer:
			if err := forbid(i, l, "location_id", "qty_delta", "counted_qty", "expected_qty"); err != nil {
				return nil, err
			}
			if m.Type == warehouse.MoveReceipt {
				if err := forbid(i, l, "from_location_id"); err != nil {
					return nil, err
				}
			}
			if m.Type == warehouse.MoveIssue {
				if err := forbid(i, l, "to_location_id"); err != nil {
					return nil, err
				}
			}
			if err := positive(i, "qty", l.Qty, it); err != nil {
				return nil, err
			}
			if m.Type != warehouse.MoveReceipt {
				from, err := at("from_location_id", l.FromLocationID)
				if err != nil {
					return nil, err
				}
				o := base
				o.loc, o.delta = from, -*l.Qty
				ops = append(ops, o)
			}
			if m.Type != warehouse.MoveIssue {
				to, err := at("to_location_id", l.ToLocationID)
				if err != nil {
					return nil, err
				}
				if m.Type == warehouse.MoveTransfer && *l.FromLocationID == *l.ToLocationID {
					return nil, lineErr(i, "to_location_id", "must differ from from_location_id")
				}
				o := base
				o.loc, o.delta = to, *l.Qty
				ops = append(ops, o)
			}
		case warehouse.MoveAdjustment:
			if err := forbid(i, l, "from_location_id", "to_location_id", "qty", "counted_qty", "expected_qty"); err != nil {
				return nil, err
			}
			if l.QtyDelta == nil || *l.QtyDelta == 0 {
				return nil, lineErr(i, "qty_delta", "required and not 0")
			}
			if err := precision(i, "qty_delta", *l.QtyDelta, it); err != nil {
				return nil, err
			}
			loc, err := at("location_id", l.LocationID)
			if err != nil {
				return nil, err
			}
			o := base
			o.loc, o.delta = loc, *l.QtyDelta
			ops = append(ops, o)
		case warehouse.MoveCount:
			if err := forbid(i, l, "from_location_id", "to_location_id", "qty", "qty_delta"); err != nil {
				return nil, err
			}
			if l.CountedQty == nil {
				return nil, lineErr(i, "counted_qty", "field required")
			}
			if *l.CountedQty < 0 {
				return nil, lineErr(i, "counted_qty", "must be >= 0")
			}
			if err := precision(i, "counted_qty", *l.CountedQty, it); err != nil {
				return nil, err
			}
			loc, err := at("location_id", l.LocationID)
			if err != nil {
				return nil, err
			}
			k := [3]string{fmt.Sprint(it.ID), fmt.Sprint(loc.ID), l.Lot}
			if counted[k] {
				return nil, lineErr(i, "location_id", "this item, location and lot is already counted in this movement")
			}
			counted[k] = true
			o := base
			o.loc, o.count, o.counted, o.expected = loc, true, *l.CountedQty, l.ExpectedQty
			ops = append(ops, o)
		}
	}
	return ops, nil
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

// checkIdempotency looks the key up inside the movement's transaction: a
// completed request with the same hash is replayed, another request under
// the same key is refused.
func checkIdempotency(ctx context.Context, tx *txn, idem *warehouse.Idempotency) error {
	if idem == nil {
		return nil
	}
	var hash, body []byte
	var movementID sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT request_hash, movement_id, body FROM idempotency_keys WHERE username = ? AND key = ?`, idem.User, idem.Key).Scan(&hash, &movementID, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read idempotency key: %w", wrapErr(err))
	}
	if !bytes.Equal(hash, idem.Hash) {
		return &warehouse.Error{Code: warehouse.EINVALID, Message: "Idempotency-Key was already used for a different request; use a new key for a new request",
			Fields: []warehouse.FieldError{{Field: "Idempotency-Key", Message: "reused with a different request"}}}
	}
	return &warehouse.IdempotentReplay{MovementID: movementID.Int64, Body: body}
}

// legacyReplayStatus fills idempotency_keys.status, which older versions
// wrote (always 201, the only answer ever stored) and replayed as the HTTP
// status. This version no longer reads it, but keeps writing 201 so that an
// older instance still running during a rolling upgrade replays our records
// correctly.
const legacyReplayStatus = 201

// saveIdempotency stores the response in the movement's transaction, so
// the key and the movement commit together or not at all.
func saveIdempotency(ctx context.Context, tx *txn, now time.Time, idem *warehouse.Idempotency, m *warehouse.Movement) error {
	if idem == nil {
		return nil
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode movement: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys (username, key, request_hash, status, body, movement_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		idem.User, idem.Key, idem.Hash, legacyReplayStatus, body, m.ID, ms(now))
	if err != nil {
		if isUniqueViolation(err) {
			if tx.pg {
				// Another instance committed this key while we worked
				// (PostgreSQL made us wait for it): run again, and the
				// check at the start replays its response.
				return fmt.Errorf("idempotency key taken concurrently: %w", errRetry)
			}
			return warehouse.Errorf(warehouse.ECONFLICT, "a request with this Idempotency-Key is already in progress")
		}
		return fmt.Errorf("store idempotency key: %w", wrapErr(err))
	}
	return nil
}

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

func qtyPtr(v sql.NullInt64) *warehouse.Qty {
	if !v.Valid {
		return nil
	}
	q := warehouse.Qty(v.Int64)
	return &q
}

func int64Ptr(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
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
func (db *DB) Movement(ctx context.Context, id int64) (*warehouse.Movement, error) {
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
func (db *DB) ListMovements(ctx context.Context, f warehouse.MovementFilter, p warehouse.Page) ([]*warehouse.Movement, string, error) {
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
func (db *DB) CountMovements(ctx context.Context, f warehouse.MovementFilter) (int, error) {
	w := movementWhere(f)
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM movements m`+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count movements: %w", wrapErr(err))
	}
	return n, nil
}

// EachMovement streams the movements matching f, newest first, without
// lines (CSV export has one row per movement).
func (db *DB) EachMovement(ctx context.Context, f warehouse.MovementFilter, fn func(*warehouse.Movement) error) error {
	w := movementWhere(f)
	return eachRow(ctx, db.read, `SELECT `+movementColumns+` FROM movements m`+w.String()+` ORDER BY m.id DESC`, w.args, scanMovement, fn)
}

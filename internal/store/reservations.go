// Reservations: allocation of an order's lines to balances (FEFO/FIFO, by
// the domain's plan), release, and the reads. stock_balances.reserved is
// the sum of what the open reservations of a balance hold, changed in the
// same transaction as the reservation, by conditional UPDATEs.

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/warehouse-api/warehouse"
)

const reservationColumns = `r.id, r.order_id, o.number, r.line_id, r.item_id, i.sku, r.location_id, l.code, l.path, r.lot, r.qty, r.picked, r.short, r.released, r.state, r.created_at`

const reservationFrom = ` FROM reservations r JOIN orders o ON o.id = r.order_id JOIN items i ON i.id = r.item_id JOIN locations l ON l.id = r.location_id`

func scanReservation(row scanner) (warehouse.Reservation, error) {
	var r warehouse.Reservation
	var created int64
	err := row.Scan(&r.ID, &r.OrderID, &r.OrderNumber, &r.LineID, &r.ItemID, &r.SKU, &r.LocationID, &r.LocationCode, &r.LocationPath, &r.Lot,
		&r.Qty, &r.Picked, &r.Short, &r.Released, &r.State, &created)
	r.CreatedAt = fromMS(created)
	return r, err
}

// reservationEvent is the payload of a reservation created or released.
type reservationEvent struct {
	ID       int64         `json:"id"`
	Order    string        `json:"order"`
	LineID   int64         `json:"line_id"`
	ItemID   int64         `json:"item_id"`
	Location int64         `json:"location_id"`
	Lot      string        `json:"lot"`
	Qty      warehouse.Qty `json:"qty"`
	Reason   string        `json:"reason,omitempty"`
}

// AllocateOrder reserves stock for the order's lines (lineID 0: every
// line) as far as stock allows: the order becomes allocated, or partially
// allocated when stock is short.
func (db *DB) AllocateOrder(ctx context.Context, number string, lineID int64, actor string) (_ *warehouse.Order, err error) {
	defer wrap(&err, "AllocateOrder")
	return db.orderTx(ctx, number, func(tx *txn, now time.Time, o *warehouse.Order) error {
		if err := o.CanDo(warehouse.ActAllocate); err != nil {
			return err
		}
		lines, err := selectLines(o, lineID)
		if err != nil {
			return err
		}
		// Lines in item order: balances are locked item by item, in the
		// order movements lock them, so allocators never deadlock.
		for _, l := range sortedByItem(lines) {
			if err := allocateLineTx(ctx, tx, now, o, l, actor); err != nil {
				return err
			}
		}
		if err := loadOrderLines(ctx, tx, o); err != nil {
			return err
		}
		return setState(ctx, tx, now, o, o.AllocationState(), actor)
	})
}

func selectLines(o *warehouse.Order, lineID int64) ([]warehouse.OrderLine, error) {
	if lineID == 0 {
		return o.Lines, nil
	}
	for _, l := range o.Lines {
		if l.ID == lineID {
			return []warehouse.OrderLine{l}, nil
		}
	}
	return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("order %s has no line %d", o.Number, lineID),
		Fields: []warehouse.FieldError{{Field: "line_id", Message: "not a line of this order"}}}
}

func sortedByItem(ls []warehouse.OrderLine) []warehouse.OrderLine {
	out := append([]warehouse.OrderLine(nil), ls...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ItemID < out[j-1].ItemID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// allocateLineTx reserves what line l still needs. The item's balances
// with stock available are locked (PostgreSQL, in (location, lot) order)
// before they are read, so the plan is made on what no one else can
// change until commit; the conditional UPDATE is the database's guard.
func allocateLineTx(ctx context.Context, tx *txn, now time.Time, o *warehouse.Order, l warehouse.OrderLine, actor string) error {
	need := l.Open()
	if need <= 0 {
		return nil
	}
	var lotTracked bool
	if err := tx.QueryRowContext(ctx, `SELECT lot_tracked FROM items WHERE id = ?`, l.ItemID).Scan(&lotTracked); err != nil {
		return fmt.Errorf("read item: %w", wrapErr(err))
	}
	// Staging locations of orders not yet shipped hold picked stock on its
	// way out: never allocated. A bin this line was found short at is not
	// allocated again: its stock is in the books but not on the shelf
	// until someone counts.
	cs, err := queryRows(ctx, tx, `SELECT b.location_id, l.path, b.lot, coalesce(lt.expires_on, ''), b.on_hand, b.reserved,
			coalesce((SELECT min(e.created_at) FROM ledger_entries e WHERE e.item_id = b.item_id AND e.location_id = b.location_id AND e.lot = b.lot AND e.qty_delta > 0), 0)
		FROM stock_balances b
		JOIN locations l ON l.id = b.location_id
		LEFT JOIN lots lt ON lt.item_id = b.item_id AND lt.lot = b.lot
		WHERE b.item_id = ? AND b.on_hand > b.reserved AND l.active = ?
			AND NOT EXISTS (SELECT 1 FROM orders g WHERE g.staging_location_id = b.location_id AND g.state NOT IN ('shipped', 'cancelled'))
			AND NOT EXISTS (SELECT 1 FROM reservations s WHERE s.line_id = ? AND s.location_id = b.location_id AND s.lot = b.lot AND s.short > 0)
		ORDER BY b.location_id, b.lot`+tx.forUpdate("b"),
		[]any{l.ItemID, true, l.ID}, func(r scanner) (warehouse.Candidate, error) {
			var c warehouse.Candidate
			var received int64
			err := r.Scan(&c.LocationID, &c.LocationPath, &c.Lot, &c.ExpiresOn, &c.OnHand, &c.Reserved, &received)
			c.Received = fromMS(received)
			return c, err
		})
	if err != nil {
		return fmt.Errorf("read candidate balances: %w", err)
	}
	plan, _ := warehouse.PlanAllocation(need, lotTracked, warehouse.FormatDate(now), cs)
	for _, a := range plan {
		res, err := tx.ExecContext(ctx, `UPDATE stock_balances SET reserved = reserved + ? WHERE item_id = ? AND location_id = ? AND lot = ? AND on_hand - reserved >= ?`,
			int64(a.Qty), l.ItemID, a.LocationID, a.Lot, int64(a.Qty))
		if err != nil {
			return fmt.Errorf("reserve stock: %w", wrapErr(err))
		}
		if n, _ := res.RowsAffected(); n != 1 {
			// The rows are locked, so this is not expected; run again
			// from a fresh read rather than reserve what is not there.
			return fmt.Errorf("balance changed while reserving: %w", errRetry)
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO reservations (order_id, line_id, item_id, location_id, lot, qty, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?) RETURNING id`,
			o.ID, l.ID, l.ItemID, a.LocationID, a.Lot, int64(a.Qty), ms(now), ms(now)).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert reservation: %w", wrapErr(err))
		}
		if err := appendEvent(ctx, tx, now, warehouse.EventReservationCreated, "order/"+o.Number, actor,
			reservationEvent{ID: id, Order: o.Number, LineID: l.ID, ItemID: l.ItemID, Location: a.LocationID, Lot: a.Lot, Qty: a.Qty}); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseOrder gives back what the order's open reservations hold (lineID
// 0: every line); the order returns to confirmed, or stays partially
// allocated by what was picked.
func (db *DB) ReleaseOrder(ctx context.Context, number string, lineID int64, actor string) (_ *warehouse.Order, err error) {
	defer wrap(&err, "ReleaseOrder")
	return db.orderTx(ctx, number, func(tx *txn, now time.Time, o *warehouse.Order) error {
		if err := o.CanDo(warehouse.ActRelease); err != nil {
			return err
		}
		if lineID != 0 {
			if _, err := selectLines(o, lineID); err != nil {
				return err
			}
		}
		if err := releaseTx(ctx, tx, now, o, lineID, actor); err != nil {
			return err
		}
		if err := loadOrderLines(ctx, tx, o); err != nil {
			return err
		}
		st := o.AllocationState()
		if st == warehouse.OrderPicking {
			st = warehouse.OrderAllocated
		}
		return setState(ctx, tx, now, o, st, actor)
	})
}

// releaseTx releases every open reservation of o (of line lineID if not
// 0), in balance lock order, each by exactly what it still holds.
func releaseTx(ctx context.Context, tx *txn, now time.Time, o *warehouse.Order, lineID int64, actor string) error {
	q := `SELECT ` + reservationColumns + reservationFrom + ` WHERE r.order_id = ? AND r.state = 'open'`
	args := []any{o.ID}
	if lineID != 0 {
		q += ` AND r.line_id = ?`
		args = append(args, lineID)
	}
	rs, err := queryRows(ctx, tx, q+` ORDER BY r.item_id, r.location_id, r.lot, r.id`+tx.forUpdate("r"), args, scanReservation)
	if err != nil {
		return fmt.Errorf("read reservations: %w", err)
	}
	for _, r := range rs {
		if err := releaseReservationTx(ctx, tx, now, r, r.OpenQty(), 0, actor, "released"); err != nil {
			return err
		}
	}
	return nil
}

// releaseReservationTx gives back release of r (and records short as found
// missing), lowering the balance's reserved by both; the reservation is
// closed when nothing is left.
func releaseReservationTx(ctx context.Context, tx *txn, now time.Time, r warehouse.Reservation, release, short warehouse.Qty, actor, reason string) error {
	give := release + short
	if give <= 0 {
		return nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE stock_balances SET reserved = reserved - ? WHERE item_id = ? AND location_id = ? AND lot = ? AND reserved >= ?`,
		int64(give), r.ItemID, r.LocationID, r.Lot, int64(give))
	if err != nil {
		return fmt.Errorf("release stock: %w", wrapErr(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("reservation %d holds %s but its balance has less reserved", r.ID, give)
	}
	state := warehouse.ReservationOpen
	if r.OpenQty() == give {
		state = warehouse.ReservationReleased
	}
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET released = released + ?, short = short + ?, state = ?, updated_at = ? WHERE id = ?`,
		int64(release), int64(short), state, ms(now), r.ID); err != nil {
		return fmt.Errorf("update reservation: %w", wrapErr(err))
	}
	return appendEvent(ctx, tx, now, warehouse.EventReservationReleased, "order/"+r.OrderNumber, actor,
		reservationEvent{ID: r.ID, Order: r.OrderNumber, LineID: r.LineID, ItemID: r.ItemID, Location: r.LocationID, Lot: r.Lot, Qty: give, Reason: reason})
}

// ListReservations returns a page of reservations, oldest first.
func (db *DB) ListReservations(ctx context.Context, f warehouse.ReservationFilter, p warehouse.Page) (_ []warehouse.Reservation, _ string, err error) {
	defer wrap(&err, "ListReservations")
	w := &where{}
	if f.ItemID != 0 {
		w.add(`r.item_id = ?`, f.ItemID)
	}
	if f.LocationID != 0 {
		w.add(`r.location_id = ?`, f.LocationID)
	}
	if f.OrderNumber != "" {
		w.add(`o.number = ?`, f.OrderNumber)
	}
	if f.State != "" {
		w.add(`r.state = ?`, f.State)
	}
	var after int64
	if ok, err := decodeCursor(p.After, "reservations", &after); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`r.id > ?`, after)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT `+reservationColumns+reservationFrom+w.String()+` ORDER BY r.id LIMIT ?`, append(w.args, limit+1), scanReservation)
	if err != nil {
		return nil, "", fmt.Errorf("list reservations: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor("reservations", out[limit-1].ID)
	}
	return out, next, nil
}

// explainReserved completes a shortage with what is reserved at its
// balance and by which orders, so that a refused issue or transfer names
// the reservations holding the stock.
func explainReserved(ctx context.Context, tx *txn, o *warehouse.Posting, s *warehouse.Shortage) error {
	var reserved int64
	err := tx.QueryRowContext(ctx, `SELECT reserved FROM stock_balances WHERE item_id = ? AND location_id = ? AND lot = ?`, o.Item.ID, o.Location.ID, o.Lot).Scan(&reserved)
	if errors.Is(err, sql.ErrNoRows) || err == nil && reserved == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read reserved stock: %w", wrapErr(err))
	}
	s.Reserved = warehouse.Qty(reserved)
	s.ReservedBy, err = queryRows(ctx, tx, `SELECT DISTINCT o.number FROM reservations r JOIN orders o ON o.id = r.order_id
		WHERE r.item_id = ? AND r.location_id = ? AND r.lot = ? AND r.state = 'open' ORDER BY o.number LIMIT 20`,
		[]any{o.Item.ID, o.Location.ID, o.Lot}, func(r scanner) (string, error) {
			var n string
			return n, r.Scan(&n)
		})
	if err != nil {
		return fmt.Errorf("read reservations: %w", err)
	}
	return nil
}

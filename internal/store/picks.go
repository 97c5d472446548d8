// Picks: confirming a pick line posts its movement through the ledger in
// the transaction that lowers the reservation, with the request's
// idempotency key; and the pick list's reads.

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/warehouse-api/warehouse"
)

const pickColumns = `p.id, p.order_id, p.reservation_id, r.line_id, r.item_id, i.sku, r.location_id, l.code, r.lot, p.qty, p.short, p.movement_id, p.picked_by, p.picked_at`

const pickFrom = ` FROM picks p JOIN reservations r ON r.id = p.reservation_id JOIN items i ON i.id = r.item_id JOIN locations l ON l.id = r.location_id`

func scanPick(row scanner) (warehouse.Pick, error) {
	var p warehouse.Pick
	var movement sql.NullInt64
	var at int64
	err := row.Scan(&p.ID, &p.OrderID, &p.ReservationID, &p.LineID, &p.ItemID, &p.SKU, &p.LocationID, &p.LocationCode, &p.Lot, &p.Qty, &p.Short, &movement, &p.PickedBy, &at)
	p.MovementID = int64Ptr(movement)
	p.PickedAt = fromMS(at)
	return p, err
}

// pickEvent is the payload of a pick confirmed.
type pickEvent struct {
	ID            int64         `json:"id"`
	Order         string        `json:"order"`
	ReservationID int64         `json:"reservation_id"`
	Qty           warehouse.Qty `json:"qty"`
	Short         warehouse.Qty `json:"short"`
	MovementID    *int64        `json:"movement_id"`
}

// OpenReservations are the open reservations of an order, for its pick
// list.
func (db *DB) OpenReservations(ctx context.Context, number string) (_ *warehouse.Order, err error) {
	defer wrap(&err, "OpenReservations")
	o, err := db.Order(ctx, number)
	if err != nil {
		return nil, err
	}
	open := o.Reservations[:0:0]
	for _, r := range o.Reservations {
		if r.State == warehouse.ReservationOpen {
			open = append(open, r)
		}
	}
	o.Reservations = open
	return o, nil
}

// ConfirmPick confirms one pick line of order number in one transaction:
// the reservation and the balance's reserved go down by what was picked
// and found short, the picked stock is issued (or transferred to the
// order's staging location) through the ledger, and the pick is recorded
// with the idempotency key, whose replay answers the same pick. A short
// pick sends the order back to partially allocated.
func (db *DB) ConfirmPick(ctx context.Context, number string, req warehouse.PickRequest, actor string, idem *warehouse.Idempotency) (_ *warehouse.Pick, err error) {
	defer wrap(&err, "ConfirmPick")
	now := db.now()
	var id int64
	err = db.tx(ctx, func(tx *txn) error {
		if err := checkIdempotency(ctx, tx, idem); err != nil {
			return err
		}
		o, err := lockOrder(ctx, tx, number)
		if err != nil {
			return err
		}
		if err := o.CanDo(warehouse.ActPick); err != nil {
			return err
		}
		r, err := pickReservation(ctx, tx, o, req)
		if err != nil {
			return err
		}
		picked, short, err := warehouse.PlanPick(r, req.Qty, req.Short)
		if err != nil {
			return err
		}
		p, err := pickTx(ctx, tx, now, o, r, picked, short, actor)
		if err != nil {
			return err
		}
		id = p.ID
		if err := loadOrderLines(ctx, tx, o); err != nil {
			return err
		}
		state := warehouse.OrderPicking
		if short > 0 {
			// The line is no longer covered: partially allocated (or
			// confirmed, when nothing of the order is left covered).
			state = o.AllocationState()
		}
		if err := setState(ctx, tx, now, o, state, actor); err != nil {
			return err
		}
		return savePickIdempotency(ctx, tx, now, idem, p)
	})
	if err != nil {
		return nil, err
	}
	return db.Pick(ctx, id)
}

// pickReservation finds the reservation a pick names: by id, or by the
// scanned location code and item barcode or SKU (and lot), the oldest
// open one of this order there.
func pickReservation(ctx context.Context, tx *txn, o *warehouse.Order, req warehouse.PickRequest) (warehouse.Reservation, error) {
	q := `SELECT ` + reservationColumns + reservationFrom + ` WHERE r.order_id = ?`
	args := []any{o.ID}
	var what string
	if req.ReservationID != 0 {
		q += ` AND r.id = ?`
		args = append(args, req.ReservationID)
		what = fmt.Sprintf("reservation %d", req.ReservationID)
	} else {
		if req.LocationCode == "" || req.ItemCode == "" {
			return warehouse.Reservation{}, &warehouse.Error{Code: warehouse.EINVALID, Message: "give reservation_id, or the scanned location and item",
				Fields: []warehouse.FieldError{{Field: "reservation_id", Message: "or location and item"}}}
		}
		q += ` AND r.state = 'open' AND l.code = ? AND (i.sku = ? OR i.barcode = ?)`
		args = append(args, req.LocationCode, req.ItemCode, req.ItemCode)
		what = fmt.Sprintf("an open reservation of %s at %s", req.ItemCode, req.LocationCode)
		if req.Lot != "" {
			q += ` AND r.lot = ?`
			args = append(args, req.Lot)
			what += " lot " + req.Lot
		}
	}
	r, err := scanReservation(tx.QueryRowContext(ctx, q+` ORDER BY r.id LIMIT 1`+tx.forUpdate("r"), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return r, warehouse.Errorf(warehouse.ENOTFOUND, "order %s has no %s", o.Number, what)
	}
	if err != nil {
		return r, fmt.Errorf("read reservation: %w", wrapErr(err))
	}
	return r, nil
}

// pickTx applies one pick of reservation r: lower the reservation first, so
// that the movement may take the stock it held.
func pickTx(ctx context.Context, tx *txn, now time.Time, o *warehouse.Order, r warehouse.Reservation, picked, short warehouse.Qty, actor string) (*warehouse.Pick, error) {
	give := picked + short
	res, err := tx.ExecContext(ctx, `UPDATE stock_balances SET reserved = reserved - ? WHERE item_id = ? AND location_id = ? AND lot = ? AND reserved >= ?`,
		int64(give), r.ItemID, r.LocationID, r.Lot, int64(give))
	if err != nil {
		return nil, fmt.Errorf("lower reserved stock: %w", wrapErr(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, fmt.Errorf("reservation %d holds %s but its balance has less reserved", r.ID, give)
	}
	state := warehouse.ReservationOpen
	switch {
	case r.OpenQty() > give:
	case short > 0 || r.Short > 0 || r.Released > 0:
		state = warehouse.ReservationReleased
	default:
		state = warehouse.ReservationPicked
	}
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET picked = picked + ?, short = short + ?, state = ?, updated_at = ? WHERE id = ?`,
		int64(picked), int64(short), state, ms(now), r.ID); err != nil {
		return nil, fmt.Errorf("update reservation: %w", wrapErr(err))
	}
	var movementID *int64
	if picked > 0 {
		nm := warehouse.NewMovement{Type: warehouse.MoveIssue, Reference: o.Number, Note: fmt.Sprintf("pick of reservation %d", r.ID),
			Lines: []warehouse.MovementLine{{ItemID: r.ItemID, Lot: r.Lot, FromLocationID: &r.LocationID, Qty: &picked}}}
		if o.StagingLocationID != nil {
			nm.Type = warehouse.MoveTransfer
			nm.Lines[0].ToLocationID = o.StagingLocationID
		}
		m, err := postMovementTx(ctx, tx, now, nm, actor, nil)
		if err != nil {
			return nil, err
		}
		movementID = &m.ID
	}
	p := &warehouse.Pick{OrderID: o.ID, ReservationID: r.ID, LineID: r.LineID, ItemID: r.ItemID, SKU: r.SKU, LocationID: r.LocationID, LocationCode: r.LocationCode,
		Lot: r.Lot, Qty: picked, Short: short, MovementID: movementID, PickedBy: actor, PickedAt: fromMS(ms(now))}
	err = tx.QueryRowContext(ctx, `INSERT INTO picks (order_id, reservation_id, qty, short, movement_id, picked_by, picked_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		o.ID, r.ID, int64(picked), int64(short), movementID, actor, ms(now)).Scan(&p.ID)
	if err != nil {
		return nil, fmt.Errorf("insert pick: %w", wrapErr(err))
	}
	if err := appendEvent(ctx, tx, now, warehouse.EventPickConfirmed, "order/"+o.Number, actor,
		pickEvent{ID: p.ID, Order: o.Number, ReservationID: r.ID, Qty: picked, Short: short, MovementID: movementID}); err != nil {
		return nil, err
	}
	if short > 0 {
		err := appendEvent(ctx, tx, now, warehouse.EventReservationReleased, "order/"+o.Number, actor,
			reservationEvent{ID: r.ID, Order: o.Number, LineID: r.LineID, ItemID: r.ItemID, Location: r.LocationID, Lot: r.Lot, Qty: short, Reason: "short pick"})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// savePickIdempotency stores the pick as the answer to its key, in the
// pick's transaction (as saveIdempotency does for a movement): a retry
// replays it and posts nothing.
func savePickIdempotency(ctx context.Context, tx *txn, now time.Time, idem *warehouse.Idempotency, p *warehouse.Pick) error {
	if idem == nil {
		return nil
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode pick: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys (username, key, request_hash, status, body, movement_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		idem.User, idem.Key, idem.Hash, legacyReplayStatus, body, p.MovementID, ms(now))
	if isUniqueViolation(err) {
		if tx.pg {
			return fmt.Errorf("idempotency key taken concurrently: %w", errRetry)
		}
		return warehouse.Errorf(warehouse.ECONFLICT, "a request with this Idempotency-Key is already in progress")
	}
	if err != nil {
		return fmt.Errorf("store idempotency key: %w", wrapErr(err))
	}
	return nil
}

// Pick reads one pick.
func (db *DB) Pick(ctx context.Context, id int64) (_ *warehouse.Pick, err error) {
	defer wrap(&err, "Pick")
	p, err := scanPick(db.read.QueryRowContext(ctx, `SELECT `+pickColumns+pickFrom+` WHERE p.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("pick", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read pick: %w", wrapErr(err))
	}
	return &p, nil
}

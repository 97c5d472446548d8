// Outbound orders: create, edit a draft, confirm, cancel, ship, expire, and
// the reads. Reservations are in reservations.go, picks in picks.go.

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/warehouse-api/warehouse"
)

const orderColumns = `o.id, o.number, o.customer, o.note, o.state, o.staging_location_id, o.expires_at, o.created_at, o.created_by, o.updated_at, o.updated_by, o.version`

func scanOrder(row scanner) (*warehouse.Order, error) {
	var o warehouse.Order
	var staging, expires sql.NullInt64
	var created, updated int64
	if err := row.Scan(&o.ID, &o.Number, &o.Customer, &o.Note, &o.State, &staging, &expires, &created, &o.CreatedBy, &updated, &o.UpdatedBy, &o.Version); err != nil {
		return nil, err
	}
	o.StagingLocationID = int64Ptr(staging)
	o.ExpiresAt = timePtr(expires)
	o.CreatedAt, o.UpdatedAt = fromMS(created), fromMS(updated)
	o.Lines = []warehouse.OrderLine{}
	return &o, nil
}

func orderNotFound(number string) error {
	return warehouse.Errorf(warehouse.ENOTFOUND, "order %q not found", number)
}

// lockOrder reads the order by number with its lines, locked until commit
// on PostgreSQL: every change of an order starts here, so two changes of
// one order run one after the other.
func lockOrder(ctx context.Context, tx *txn, number string) (*warehouse.Order, error) {
	o, err := scanOrder(tx.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders o WHERE o.number = ?`+tx.forUpdate(""), number))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, orderNotFound(number)
	}
	if err != nil {
		return nil, fmt.Errorf("read order: %w", wrapErr(err))
	}
	return o, loadOrderLines(ctx, tx, o)
}

// loadOrderLines fills o's lines, with what reservations hold, picked and
// found short for each.
func loadOrderLines(ctx context.Context, q querier, o *warehouse.Order) error {
	ls, err := queryRows(ctx, q, `SELECT l.id, l.line_no, l.item_id, i.sku, l.qty,
			coalesce((SELECT sum(r.qty - r.picked - r.short - r.released) FROM reservations r WHERE r.line_id = l.id AND r.state = 'open'), 0),
			coalesce((SELECT sum(r.picked) FROM reservations r WHERE r.line_id = l.id), 0),
			coalesce((SELECT sum(r.short) FROM reservations r WHERE r.line_id = l.id), 0)
		FROM order_lines l JOIN items i ON i.id = l.item_id WHERE l.order_id = ? ORDER BY l.line_no`, []any{o.ID},
		func(r scanner) (warehouse.OrderLine, error) {
			var l warehouse.OrderLine
			err := r.Scan(&l.ID, &l.LineNo, &l.ItemID, &l.SKU, &l.Qty, &l.Reserved, &l.Picked, &l.Short)
			return l, err
		})
	if err != nil {
		return fmt.Errorf("read order lines: %w", err)
	}
	o.Lines = append(o.Lines[:0], ls...)
	return nil
}

// resolveOrderItems looks up the items of lines, nil where none exists.
func resolveOrderItems(ctx context.Context, tx *txn, lines []warehouse.NewOrderLine) ([]*warehouse.Item, error) {
	r := newResolver(ctx, tx)
	items := make([]*warehouse.Item, len(lines))
	for i, l := range lines {
		if err := r.item(l.ItemID, l.SKU); err != nil {
			return nil, err
		}
		if l.ItemID != 0 {
			items[i] = r.res.ItemsByID[l.ItemID]
		} else {
			items[i] = r.res.ItemsBySKU[l.SKU]
		}
	}
	return items, warehouse.CheckOrderItems(lines, items)
}

func insertOrderLines(ctx context.Context, tx *txn, orderID int64, lines []warehouse.NewOrderLine, items []*warehouse.Item) error {
	for i, l := range lines {
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, line_no, item_id, qty) VALUES (?, ?, ?, ?)`, orderID, i+1, items[i].ID, int64(l.Qty)); err != nil {
			return fmt.Errorf("insert order line: %w", wrapErr(err))
		}
	}
	return nil
}

// CreateOrder creates a draft order.
func (db *DB) CreateOrder(ctx context.Context, no warehouse.NewOrder, actor string) (_ *warehouse.Order, err error) {
	defer wrap(&err, "CreateOrder")
	now := db.now()
	if err := no.Validate(now); err != nil {
		return nil, err
	}
	var number string
	err = db.tx(ctx, func(tx *txn) error {
		if no.StagingLocationID != nil {
			l, err := lockLocationTx(ctx, tx, *no.StagingLocationID, tx.keyShare("l"))
			if err != nil {
				return fieldErr(err, "staging_location_id")
			}
			if l.Structural || !l.Active {
				return &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("staging location %s cannot hold stock (structural or archived)", l.Code),
					Fields: []warehouse.FieldError{{Field: "staging_location_id", Message: "cannot hold stock"}}}
			}
		}
		items, err := resolveOrderItems(ctx, tx, no.Lines)
		if err != nil {
			return err
		}
		var expires sql.NullInt64
		if no.ExpiresAt != nil {
			expires = sql.NullInt64{Int64: ms(*no.ExpiresAt), Valid: true}
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO orders (number, customer, note, state, staging_location_id, expires_at, created_at, created_by, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			no.Number, no.Customer, no.Note, warehouse.OrderDraft, no.StagingLocationID, expires, ms(now), actor, ms(now), actor).Scan(&id)
		if isUniqueViolation(err) {
			return &warehouse.Error{Code: warehouse.ECONFLICT, Message: fmt.Sprintf("order %s exists already", no.Number),
				Fields: []warehouse.FieldError{{Field: "number", Message: "taken"}}}
		}
		if err != nil {
			return fmt.Errorf("insert order: %w", wrapErr(err))
		}
		if err := insertOrderLines(ctx, tx, id, no.Lines, items); err != nil {
			return err
		}
		number = no.Number
		return appendEvent(ctx, tx, now, warehouse.EventOrderChanged, "order/"+no.Number, actor, orderEvent{Number: no.Number, To: warehouse.OrderDraft})
	})
	if err != nil {
		return nil, err
	}
	return db.Order(ctx, number)
}

// fieldErr names field in a not-found error of a referenced row, which is
// bad input (422), not a missing resource.
func fieldErr(err error, field string) error {
	if warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
		return err
	}
	return &warehouse.Error{Code: warehouse.EINVALID, Message: field + ": " + warehouse.ErrorMessage(err), Fields: []warehouse.FieldError{{Field: field, Message: "no such row"}}}
}

// orderEvent is the payload of an order's state change.
type orderEvent struct {
	Number string `json:"number"`
	From   string `json:"from,omitempty"`
	To     string `json:"to"`
}

// setState moves o to state (bumping its version) and records the
// change in the event log; staying in the same state only bumps the
// version.
func setState(ctx context.Context, tx *txn, now time.Time, o *warehouse.Order, state, actor string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET state = ?, version = version + 1, updated_at = ?, updated_by = ? WHERE id = ?`, state, ms(now), actor, o.ID); err != nil {
		return fmt.Errorf("update order: %w", wrapErr(err))
	}
	from := o.State
	o.State, o.Version, o.UpdatedAt, o.UpdatedBy = state, o.Version+1, fromMS(ms(now)), actor
	if from == state {
		return nil
	}
	return appendEvent(ctx, tx, now, warehouse.EventOrderChanged, "order/"+o.Number, actor, orderEvent{Number: o.Number, From: from, To: state})
}

// orderTx runs fn on the locked order number, then answers the order as
// committed.
func (db *DB) orderTx(ctx context.Context, number string, fn func(tx *txn, now time.Time, o *warehouse.Order) error) (*warehouse.Order, error) {
	now := db.now()
	err := db.tx(ctx, func(tx *txn) error {
		o, err := lockOrder(ctx, tx, number)
		if err != nil {
			return err
		}
		return fn(tx, now, o)
	})
	if err != nil {
		return nil, err
	}
	return db.Order(ctx, number)
}

// UpdateOrderLines replaces the lines of a draft order at version.
func (db *DB) UpdateOrderLines(ctx context.Context, number string, version int64, lines []warehouse.NewOrderLine, actor string) (_ *warehouse.Order, err error) {
	defer wrap(&err, "UpdateOrderLines")
	if err := warehouse.ValidateOrderLines(lines); err != nil {
		return nil, err
	}
	return db.orderTx(ctx, number, func(tx *txn, now time.Time, o *warehouse.Order) error {
		if err := checkVersion(o.Version, version); err != nil {
			return err
		}
		if err := o.CanDo(warehouse.ActUpdate); err != nil {
			return err
		}
		items, err := resolveOrderItems(ctx, tx, lines)
		if err != nil {
			return err
		}
		// A draft has no reservations, so its lines may go.
		if _, err := tx.ExecContext(ctx, `DELETE FROM order_lines WHERE order_id = ?`, o.ID); err != nil {
			return fmt.Errorf("delete order lines: %w", wrapErr(err))
		}
		if err := insertOrderLines(ctx, tx, o.ID, lines, items); err != nil {
			return err
		}
		return setState(ctx, tx, now, o, o.State, actor)
	})
}

// ConfirmOrder confirms a draft: its lines are fixed and it may be
// allocated.
func (db *DB) ConfirmOrder(ctx context.Context, number, actor string) (_ *warehouse.Order, err error) {
	defer wrap(&err, "ConfirmOrder")
	return db.orderTx(ctx, number, func(tx *txn, now time.Time, o *warehouse.Order) error {
		if err := o.CanDo(warehouse.ActConfirm); err != nil {
			return err
		}
		return setState(ctx, tx, now, o, warehouse.OrderConfirmed, actor)
	})
}

// CancelOrder cancels the order and releases every reservation it holds,
// in the same transaction: a reservation never outlives its order.
func (db *DB) CancelOrder(ctx context.Context, number, actor string) (_ *warehouse.Order, err error) {
	defer wrap(&err, "CancelOrder")
	return db.orderTx(ctx, number, func(tx *txn, now time.Time, o *warehouse.Order) error {
		return cancelTx(ctx, tx, now, o, actor)
	})
}

func cancelTx(ctx context.Context, tx *txn, now time.Time, o *warehouse.Order, actor string) error {
	if err := o.CanDo(warehouse.ActCancel); err != nil {
		return err
	}
	if err := releaseTx(ctx, tx, now, o, 0, actor); err != nil {
		return err
	}
	return setState(ctx, tx, now, o, warehouse.OrderCancelled, actor)
}

// ExpireOrders cancels every order whose hold expired by now and is not
// shipped or cancelled, each in its own transaction, and returns how many.
func (db *DB) ExpireOrders(ctx context.Context, actor string) (_ int, err error) {
	defer wrap(&err, "ExpireOrders")
	numbers, err := queryRows(ctx, db.read, `SELECT number FROM orders WHERE expires_at <= ? AND state NOT IN ('shipped', 'cancelled') ORDER BY id LIMIT 500`,
		[]any{ms(db.now())}, func(r scanner) (string, error) {
			var s string
			return s, r.Scan(&s)
		})
	if err != nil {
		return 0, fmt.Errorf("find expired orders: %w", err)
	}
	n := 0
	for _, number := range numbers {
		expired := false
		err := db.tx(ctx, func(tx *txn) error {
			expired = false
			now := db.now()
			o, err := lockOrder(ctx, tx, number)
			if err != nil {
				return err
			}
			// Checked again under the lock: it may have shipped meanwhile.
			if o.ExpiresAt == nil || o.ExpiresAt.After(now) || o.CanDo(warehouse.ActCancel) != nil {
				return nil
			}
			expired = true
			return cancelTx(ctx, tx, now, o, actor)
		})
		if err != nil {
			return n, err
		}
		if expired {
			n++
		}
	}
	return n, nil
}

// ShipOrder ships what was picked: with a staging location, an issue of
// the picked stock from there (the picks moved it there); without, the
// picks issued it already and shipping closes the order.
func (db *DB) ShipOrder(ctx context.Context, number, actor string) (_ *warehouse.Order, err error) {
	defer wrap(&err, "ShipOrder")
	return db.orderTx(ctx, number, func(tx *txn, now time.Time, o *warehouse.Order) error {
		if err := o.CanShip(); err != nil {
			return err
		}
		if o.StagingLocationID != nil {
			nm := warehouse.NewMovement{Type: warehouse.MoveIssue, Reference: o.Number, Note: "ship order " + o.Number}
			type key struct {
				item int64
				lot  string
			}
			picked := map[key]warehouse.Qty{}
			var keys []key
			err := eachRow(ctx, tx, `SELECT r.item_id, r.lot, sum(r.picked) FROM reservations r WHERE r.order_id = ? AND r.picked > 0 GROUP BY r.item_id, r.lot ORDER BY r.item_id, r.lot`,
				[]any{o.ID}, func(r scanner) (struct{}, error) {
					var k key
					var q int64
					if err := r.Scan(&k.item, &k.lot, &q); err != nil {
						return struct{}{}, err
					}
					picked[k] += warehouse.Qty(q)
					keys = append(keys, k)
					return struct{}{}, nil
				}, func(struct{}) error { return nil })
			if err != nil {
				return fmt.Errorf("read picked stock: %w", err)
			}
			for _, k := range keys {
				q := picked[k]
				nm.Lines = append(nm.Lines, warehouse.MovementLine{ItemID: k.item, Lot: k.lot, FromLocationID: o.StagingLocationID, Qty: &q})
			}
			if _, err := postMovementTx(ctx, tx, now, nm, actor, nil); err != nil {
				return err
			}
		}
		return setState(ctx, tx, now, o, warehouse.OrderShipped, actor)
	})
}

// Order reads one order with its lines, reservations and picks.
func (db *DB) Order(ctx context.Context, number string) (_ *warehouse.Order, err error) {
	defer wrap(&err, "Order")
	o, err := scanOrder(db.read.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders o WHERE o.number = ?`, number))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, orderNotFound(number)
	}
	if err != nil {
		return nil, fmt.Errorf("read order: %w", wrapErr(err))
	}
	if err := loadOrderLines(ctx, db.read, o); err != nil {
		return nil, err
	}
	if o.Reservations, err = queryRows(ctx, db.read, `SELECT `+reservationColumns+reservationFrom+` WHERE r.order_id = ? ORDER BY r.id`, []any{o.ID}, scanReservation); err != nil {
		return nil, fmt.Errorf("read reservations: %w", err)
	}
	if o.Picks, err = queryRows(ctx, db.read, `SELECT `+pickColumns+pickFrom+` WHERE p.order_id = ? ORDER BY p.id`, []any{o.ID}, scanPick); err != nil {
		return nil, fmt.Errorf("read picks: %w", err)
	}
	return o, nil
}

// ListOrders returns a page of orders, newest first, with their lines.
func (db *DB) ListOrders(ctx context.Context, f warehouse.OrderFilter, p warehouse.Page) (_ []*warehouse.Order, _ string, err error) {
	defer wrap(&err, "ListOrders")
	w := &where{}
	if f.State != "" {
		w.add(`o.state = ?`, f.State)
	}
	if f.Customer != "" {
		w.add(`o.customer = ?`, f.Customer)
	}
	if f.ItemID != 0 {
		w.add(`EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.item_id = ?)`, f.ItemID)
	}
	var after int64
	if ok, err := decodeCursor(p.After, "orders", &after); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`o.id < ?`, after)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT `+orderColumns+` FROM orders o`+w.String()+` ORDER BY o.id DESC LIMIT ?`, append(w.args, limit+1), scanOrder)
	if err != nil {
		return nil, "", fmt.Errorf("list orders: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor("orders", out[limit-1].ID)
	}
	for _, o := range out {
		if err := loadOrderLines(ctx, db.read, o); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

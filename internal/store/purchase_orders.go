// Purchase (inbound) orders and receiving against them.

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

const purchaseColumns = `p.id, p.number, p.supplier, p.note, p.status, p.tolerance_pct, p.close_reason, p.created_at, p.created_by, p.updated_at, p.updated_by, p.version`

func scanPurchase(row scanner) (*warehouse.PurchaseOrder, error) {
	var po warehouse.PurchaseOrder
	var created, updated int64
	if err := row.Scan(&po.ID, &po.Number, &po.Supplier, &po.Note, &po.Status, &po.TolerancePct, &po.CloseReason,
		&created, &po.CreatedBy, &updated, &po.UpdatedBy, &po.Version); err != nil {
		return nil, err
	}
	po.CreatedAt, po.UpdatedAt = fromMS(created), fromMS(updated)
	po.Lines, po.Receipts = []warehouse.PurchaseLine{}, []warehouse.PurchaseReceipt{}
	return &po, nil
}

func purchaseNotFound(number string) error {
	return warehouse.Errorf(warehouse.ENOTFOUND, "purchase order %s not found", number)
}

// loadPurchase reads one order with its lines and receipts; lock is the
// locking clause for the order's row ("" for none).
func loadPurchase(ctx context.Context, q querier, number, lock string) (*warehouse.PurchaseOrder, error) {
	po, err := scanPurchase(q.QueryRowContext(ctx, `SELECT `+purchaseColumns+` FROM purchase_orders p WHERE p.number = ?`+lock, number))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, purchaseNotFound(number)
	}
	if err != nil {
		return nil, fmt.Errorf("read purchase order: %w", wrapErr(err))
	}
	if err := loadPurchaseDetails(ctx, q, []*warehouse.PurchaseOrder{po}); err != nil {
		return nil, err
	}
	return po, nil
}

// loadPurchaseDetails fills the lines and receipts of orders, in two
// queries whatever their number.
func loadPurchaseDetails(ctx context.Context, q querier, orders []*warehouse.PurchaseOrder) error {
	if len(orders) == 0 {
		return nil
	}
	byID := map[int64]*warehouse.PurchaseOrder{}
	ids := make([]any, 0, len(orders))
	for _, po := range orders {
		byID[po.ID] = po
		ids = append(ids, po.ID)
	}
	in := `(` + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + `)`
	err := eachRow(ctx, q, `SELECT pl.order_id, pl.line_no, pl.item_id, i.sku, pl.lot, pl.expires_on, pl.expected, pl.received
		FROM purchase_order_lines pl JOIN items i ON i.id = pl.item_id WHERE pl.order_id IN `+in+` ORDER BY pl.order_id, pl.line_no`, ids,
		func(row scanner) (warehouse.PurchaseLine, error) {
			var l warehouse.PurchaseLine
			var order int64
			var expires sql.NullString
			if err := row.Scan(&order, &l.LineNo, &l.ItemID, &l.SKU, &l.Lot, &expires, &l.Expected, &l.Received); err != nil {
				return l, err
			}
			l.ExpiresOn = expires.String
			l.Open = l.OpenQty()
			byID[order].Lines = append(byID[order].Lines, l)
			return l, nil
		}, func(warehouse.PurchaseLine) error { return nil })
	if err != nil {
		return fmt.Errorf("read purchase order lines: %w", err)
	}
	err = eachRow(ctx, q, `SELECT order_id, movement_id, created_at, created_by, reason FROM purchase_receipts WHERE order_id IN `+in+` ORDER BY order_id, movement_id`, ids,
		func(row scanner) (warehouse.PurchaseReceipt, error) {
			var r warehouse.PurchaseReceipt
			var order, at int64
			if err := row.Scan(&order, &r.MovementID, &at, &r.CreatedBy, &r.Reason); err != nil {
				return r, err
			}
			r.CreatedAt = fromMS(at)
			byID[order].Receipts = append(byID[order].Receipts, r)
			return r, nil
		}, func(warehouse.PurchaseReceipt) error { return nil })
	if err != nil {
		return fmt.Errorf("read purchase receipts: %w", err)
	}
	return nil
}

// purchaseEvent is the payload of a purchase order's events.
type purchaseEvent struct {
	Number     string `json:"number"`
	Status     string `json:"status"`
	From       string `json:"from,omitempty"`
	Version    int64  `json:"version"`
	MovementID int64  `json:"movement_id,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

func purchaseSubject(number string) string { return "purchase_order/" + number }

// CreatePurchaseOrder creates a draft order. Its lines' items are resolved
// and checked (active, lot only if lot-tracked, precision) in the
// transaction.
func (db *DB) CreatePurchaseOrder(ctx context.Context, n warehouse.NewPurchaseOrder, actor string) (_ *warehouse.PurchaseOrder, err error) {
	defer wrap(&err, "CreatePurchaseOrder")
	if err := n.Validate(); err != nil {
		return nil, err
	}
	now := db.now()
	var out *warehouse.PurchaseOrder
	err = db.tx(ctx, func(tx *txn) error {
		r := newResolver(ctx, tx)
		items := make([]*warehouse.Item, len(n.Lines))
		for i, l := range n.Lines {
			if err := r.item(l.ItemID, l.SKU); err != nil {
				return err
			}
			it := r.res.ItemsByID[l.ItemID]
			if l.ItemID == 0 {
				it = r.res.ItemsBySKU[l.SKU]
			}
			if it == nil {
				ref := l.SKU
				if l.ItemID != 0 {
					ref = fmt.Sprint(l.ItemID)
				}
				return &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("lines[%d]: no item %s", i, ref),
					Fields: []warehouse.FieldError{{Field: fmt.Sprintf("lines[%d].sku", i), Message: "unknown item"}}}
			}
			if err := it.CheckPurchaseLine(i, l); err != nil {
				return err
			}
			items[i] = it
		}
		pct := 0
		if n.TolerancePct != nil {
			pct = *n.TolerancePct
		}
		po := &warehouse.PurchaseOrder{Number: n.Number, Supplier: n.Supplier, Note: n.Note, Status: warehouse.PurchaseDraft, TolerancePct: pct,
			CreatedAt: fromMS(ms(now)), CreatedBy: actor, UpdatedAt: fromMS(ms(now)), UpdatedBy: actor, Version: 1, Receipts: []warehouse.PurchaseReceipt{}}
		err := tx.QueryRowContext(ctx, `INSERT INTO purchase_orders (number, supplier, note, status, tolerance_pct, created_at, created_by, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			po.Number, po.Supplier, po.Note, po.Status, po.TolerancePct, ms(now), actor, ms(now), actor).Scan(&po.ID)
		if isUniqueViolation(err) {
			return warehouse.Errorf(warehouse.ECONFLICT, "purchase order %s already exists", n.Number)
		}
		if err != nil {
			return fmt.Errorf("insert purchase order: %w", wrapErr(err))
		}
		for i, l := range n.Lines {
			pl := warehouse.PurchaseLine{LineNo: int64(i + 1), ItemID: items[i].ID, SKU: items[i].SKU, Lot: l.Lot, ExpiresOn: l.ExpiresOn, Expected: l.Expected}
			pl.Open = pl.OpenQty()
			if _, err := tx.ExecContext(ctx, `INSERT INTO purchase_order_lines (order_id, line_no, item_id, lot, expires_on, expected) VALUES (?, ?, ?, ?, ?, ?)`,
				po.ID, pl.LineNo, pl.ItemID, pl.Lot, nullString(pl.ExpiresOn), int64(pl.Expected)); err != nil {
				return fmt.Errorf("insert purchase order line: %w", wrapErr(err))
			}
			po.Lines = append(po.Lines, pl)
		}
		out = po
		return appendEvent(ctx, tx, now, warehouse.EventPurchaseChanged, purchaseSubject(po.Number), actor,
			purchaseEvent{Number: po.Number, Status: po.Status, Version: po.Version})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PurchaseOrder reads one order by number.
func (db *DB) PurchaseOrder(ctx context.Context, number string) (_ *warehouse.PurchaseOrder, err error) {
	defer wrap(&err, "PurchaseOrder(%s)", number)
	return loadPurchase(ctx, db.read, number, "")
}

// ListPurchaseOrders returns a page of orders by number, with their lines.
func (db *DB) ListPurchaseOrders(ctx context.Context, f warehouse.PurchaseFilter, p warehouse.Page) (_ []*warehouse.PurchaseOrder, _ string, err error) {
	defer wrap(&err, "ListPurchaseOrders")
	w := &where{}
	if f.Status != "" {
		w.add(`p.status = ?`, f.Status)
	}
	if f.Supplier != "" {
		w.add(`p.supplier = ?`, f.Supplier)
	}
	var after string
	if ok, err := decodeCursor(p.After, "purchase-orders", &after); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`p.number > ?`, after)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT `+purchaseColumns+` FROM purchase_orders p`+w.String()+` ORDER BY p.number LIMIT ?`, append(w.args, limit+1), scanPurchase)
	if err != nil {
		return nil, "", fmt.Errorf("list purchase orders: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor("purchase-orders", out[limit-1].Number)
	}
	if err := loadPurchaseDetails(ctx, db.read, out); err != nil {
		return nil, "", err
	}
	if out == nil {
		out = []*warehouse.PurchaseOrder{}
	}
	return out, next, nil
}

// setPurchaseStatus moves po to status in tx and writes the state-change
// event.
func setPurchaseStatus(ctx context.Context, tx *txn, now time.Time, po *warehouse.PurchaseOrder, status, reason, actor string) error {
	from := po.Status
	if _, err := tx.ExecContext(ctx, `UPDATE purchase_orders SET status = ?, close_reason = ?, updated_at = ?, updated_by = ?, version = version + 1 WHERE id = ?`,
		status, reason, ms(now), actor, po.ID); err != nil {
		return fmt.Errorf("update purchase order: %w", wrapErr(err))
	}
	po.Status, po.CloseReason, po.UpdatedAt, po.UpdatedBy, po.Version = status, reason, fromMS(ms(now)), actor, po.Version+1
	return appendEvent(ctx, tx, now, warehouse.EventPurchaseChanged, purchaseSubject(po.Number), actor,
		purchaseEvent{Number: po.Number, Status: status, From: from, Version: po.Version, Reason: reason})
}

// changePurchase locks the order, checks version (warehouse.AnyVersion: any), applies the
// domain's check and moves it to status.
func (db *DB) changePurchase(ctx context.Context, number string, version int64, actor, status, reason string, check func(*warehouse.PurchaseOrder) error) (*warehouse.PurchaseOrder, error) {
	now := db.now()
	var out *warehouse.PurchaseOrder
	err := db.tx(ctx, func(tx *txn) error {
		po, err := loadPurchase(ctx, tx, number, tx.forUpdate("p"))
		if err != nil {
			return err
		}
		if err := checkVersion(po.Version, version); err != nil {
			return err
		}
		if err := check(po); err != nil {
			return err
		}
		out = po
		return setPurchaseStatus(ctx, tx, now, po, status, reason, actor)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ConfirmPurchaseOrder opens a draft for receiving at version (If-Match;
// warehouse.AnyVersion for any).
func (db *DB) ConfirmPurchaseOrder(ctx context.Context, number string, version int64, actor string) (_ *warehouse.PurchaseOrder, err error) {
	defer wrap(&err, "ConfirmPurchaseOrder(%s)", number)
	return db.changePurchase(ctx, number, version, actor, warehouse.PurchaseConfirmed, "", (*warehouse.PurchaseOrder).CanConfirm)
}

// CancelPurchaseOrder closes an order short with a reason; what was
// received stays received.
func (db *DB) CancelPurchaseOrder(ctx context.Context, number string, version int64, reason, actor string) (_ *warehouse.PurchaseOrder, err error) {
	defer wrap(&err, "CancelPurchaseOrder(%s)", number)
	return db.changePurchase(ctx, number, version, actor, warehouse.PurchaseCancelled, reason, func(po *warehouse.PurchaseOrder) error {
		return po.CanCancel(reason)
	})
}

// ReceivePurchaseOrder posts a receipt against an order in one
// transaction: the receipt movement (through postMovementTx, with its
// idempotency record), the lots' expiry dates, the received quantity per
// line, the order's state and the events. A replayed key returns
// *warehouse.IdempotentReplay as the error.
func (db *DB) ReceivePurchaseOrder(ctx context.Context, number string, r warehouse.NewReceipt, actor string, idem *warehouse.Idempotency) (_ *warehouse.PurchaseOrder, _ *warehouse.Movement, err error) {
	defer wrap(&err, "ReceivePurchaseOrder(%s)", number)
	now := db.now()
	var po *warehouse.PurchaseOrder
	var m *warehouse.Movement
	err = db.tx(ctx, func(tx *txn) error {
		// A replay answers before the order is looked at: it may have
		// been received in full since.
		if err := checkIdempotency(ctx, tx, idem); err != nil {
			return err
		}
		var err error
		po, err = loadPurchase(ctx, tx, number, tx.forUpdate("p"))
		if err != nil {
			return err
		}
		plan, err := po.PlanReceipt(r)
		if err != nil {
			return err
		}
		nm := warehouse.NewMovement{Type: warehouse.MoveReceipt, Reference: po.Number, Note: r.Note}
		for i, l := range plan.Lines {
			to := l.LocationID
			q := l.Qty
			nm.Lines = append(nm.Lines, warehouse.MovementLine{ItemID: plan.ItemIDs[i], Lot: l.Lot, ToLocationID: &to, Qty: &q})
		}
		m, err = postMovementTx(ctx, tx, now, nm, actor, idem)
		if err != nil {
			return err
		}
		// The movement's planning checked each lot against its item
		// (required iff lot-tracked), so the lots written here are real.
		for i, l := range plan.Lines {
			if l.ExpiresOn == "" {
				continue
			}
			if err := receiveLotTx(ctx, tx, now, plan.ItemIDs[i], m.Lines[i].SKU, l.Lot, l.ExpiresOn, actor); err != nil {
				return err
			}
		}
		for i := range po.Lines {
			l := &po.Lines[i]
			got, ok := plan.Received[l.LineNo]
			if !ok {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE purchase_order_lines SET received = ? WHERE order_id = ? AND line_no = ?`, int64(got), po.ID, l.LineNo); err != nil {
				return fmt.Errorf("update purchase order line: %w", wrapErr(err))
			}
			l.Received = got
			l.Open = l.OpenQty()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO purchase_receipts (movement_id, order_id, created_at, created_by, reason) VALUES (?, ?, ?, ?, ?)`,
			m.ID, po.ID, ms(now), actor, r.Reason); err != nil {
			return fmt.Errorf("insert purchase receipt: %w", wrapErr(err))
		}
		po.Receipts = append(po.Receipts, warehouse.PurchaseReceipt{MovementID: m.ID, CreatedAt: fromMS(ms(now)), CreatedBy: actor, Reason: r.Reason})
		if err := appendEvent(ctx, tx, now, warehouse.EventPurchaseReceived, purchaseSubject(po.Number), actor,
			purchaseEvent{Number: po.Number, Status: plan.Status, Version: po.Version + 1, MovementID: m.ID, Reason: r.Reason}); err != nil {
			return err
		}
		if plan.Status != po.Status {
			return setPurchaseStatus(ctx, tx, now, po, plan.Status, "", actor)
		}
		// The lines changed: the order's version counts that too.
		if _, err := tx.ExecContext(ctx, `UPDATE purchase_orders SET updated_at = ?, updated_by = ?, version = version + 1 WHERE id = ?`, ms(now), actor, po.ID); err != nil {
			return fmt.Errorf("update purchase order: %w", wrapErr(err))
		}
		po.UpdatedAt, po.UpdatedBy, po.Version = fromMS(ms(now)), actor, po.Version+1
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return po, m, nil
}

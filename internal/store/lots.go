// Lots with expiry dates, and the report of stock expiring soon.

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/warehouse-api/warehouse"
)

const lotColumns = `lt.item_id, i.sku, lt.lot, lt.expires_on, lt.created_at, lt.created_by, lt.updated_at, lt.updated_by`

func scanLot(row scanner) (*warehouse.Lot, error) {
	var l warehouse.Lot
	var expires sql.NullString
	var created, updated int64
	if err := row.Scan(&l.ItemID, &l.SKU, &l.Lot, &expires, &created, &l.CreatedBy, &updated, &l.UpdatedBy); err != nil {
		return nil, err
	}
	l.ExpiresOn = expires.String
	l.CreatedAt, l.UpdatedAt = fromMS(created), fromMS(updated)
	return &l, nil
}

// ItemLots returns the lots of an item that carry an expiry record, by lot.
func (db *DB) ItemLots(ctx context.Context, itemID int64) (_ []*warehouse.Lot, err error) {
	defer wrap(&err, "ItemLots(%d)", itemID)
	if _, err := db.Item(ctx, itemID); err != nil {
		return nil, err
	}
	out, err := queryRows(ctx, db.read, `SELECT `+lotColumns+` FROM lots lt JOIN items i ON i.id = lt.item_id WHERE lt.item_id = ? ORDER BY lt.lot`, []any{itemID}, scanLot)
	if err != nil {
		return nil, fmt.Errorf("list lots: %w", err)
	}
	if out == nil {
		out = []*warehouse.Lot{}
	}
	return out, nil
}

// SetLotExpiry records (or clears, with "") the expiry date of an item's
// lot; only lot-tracked items have lots.
func (db *DB) SetLotExpiry(ctx context.Context, itemID int64, lot, expiresOn, actor string) (_ *warehouse.Lot, err error) {
	defer wrap(&err, "SetLotExpiry(%d)", itemID)
	if err := warehouse.ValidateLot(lot); err != nil {
		return nil, err
	}
	if err := warehouse.ValidateLotExpiry(expiresOn); err != nil {
		return nil, err
	}
	now := db.now()
	var out *warehouse.Lot
	err = db.tx(ctx, func(tx *txn) error {
		it, err := scanItem(tx.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items i WHERE i.id = ?`+tx.keyShare("i"), itemID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("item", itemID)
		}
		if err != nil {
			return fmt.Errorf("read item: %w", wrapErr(err))
		}
		if err := it.CanHaveLots(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO lots (item_id, lot, expires_on, created_at, created_by, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (item_id, lot) DO UPDATE SET expires_on = excluded.expires_on, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			itemID, lot, nullString(expiresOn), ms(now), actor, ms(now), actor)
		if err != nil {
			return fmt.Errorf("upsert lot: %w", wrapErr(err))
		}
		out, err = scanLot(tx.QueryRowContext(ctx, `SELECT `+lotColumns+` FROM lots lt JOIN items i ON i.id = lt.item_id WHERE lt.item_id = ? AND lt.lot = ?`, itemID, lot))
		if err != nil {
			return fmt.Errorf("read lot: %w", wrapErr(err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// receiveLotTx records the expiry a receipt gives a lot: a new lot takes
// it, a lot without one takes it, a lot with another date is refused (one
// lot has one expiry; correct it with SetLotExpiry first).
func receiveLotTx(ctx context.Context, tx *txn, now time.Time, itemID int64, sku, lot, expiresOn, actor string) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO lots (item_id, lot, expires_on, created_at, created_by, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (item_id, lot) DO NOTHING`, itemID, lot, expiresOn, ms(now), actor, ms(now), actor)
	if err != nil {
		return fmt.Errorf("insert lot: %w", wrapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var have sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT expires_on FROM lots WHERE item_id = ? AND lot = ?`+tx.forUpdate(""), itemID, lot).Scan(&have); err != nil {
		return fmt.Errorf("read lot: %w", wrapErr(err))
	}
	switch {
	case have.String == expiresOn:
		return nil
	case have.Valid && have.String != "":
		return warehouse.Errorf(warehouse.ECONFLICT, "%s already expires on %s, the receipt says %s: correct the lot's expiry first (PUT /api/v1/items/%d/lots/%s)",
			warehouse.LotKey(sku, lot), have.String, expiresOn, itemID, lot)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE lots SET expires_on = ?, updated_at = ?, updated_by = ? WHERE item_id = ? AND lot = ?`, expiresOn, ms(now), actor, itemID, lot); err != nil {
		return fmt.Errorf("update lot: %w", wrapErr(err))
	}
	return nil
}

// ListExpiring returns the balances of lots expiring on or before today +
// withinDays (already expired ones included, flagged), under locationID's
// subtree if not 0, soonest first (then sku, location path, lot).
func (db *DB) ListExpiring(ctx context.Context, withinDays int, locationID int64, p warehouse.Page) (_ []*warehouse.ExpiringStock, _ string, err error) {
	defer wrap(&err, "ListExpiring(%d, %d)", withinDays, locationID)
	if withinDays < 0 || withinDays > warehouse.MaxExpiringDays {
		return nil, "", &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("within_days must be 0-%d", warehouse.MaxExpiringDays),
			Fields: []warehouse.FieldError{{Field: "within_days", Message: fmt.Sprintf("must be 0-%d", warehouse.MaxExpiringDays)}}}
	}
	today := db.now().UTC()
	w := &where{}
	w.add(`lt.expires_on IS NOT NULL`)
	w.add(`lt.expires_on <= ?`, warehouse.FormatDate(today.AddDate(0, 0, withinDays)))
	w.add(`b.on_hand <> 0`)
	if locationID != 0 {
		loc, err := db.Location(ctx, locationID)
		if err != nil {
			return nil, "", err
		}
		w.add(`(l.id = ? OR substr(l.path, 1, ?) = ?)`, loc.ID, len(loc.Path)+1, loc.Path+"/")
	}
	var exp, sku, path, lot string
	if ok, err := decodeCursor(p.After, "expiring", &exp, &sku, &path, &lot); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`(lt.expires_on, i.sku, l.path, b.lot) > (?, ?, ?, ?)`, exp, sku, path, lot)
	}
	limit := pageLimit(p.Limit)
	q := `SELECT b.item_id, i.sku, b.location_id, l.code, l.path, b.lot, lt.expires_on, b.on_hand, b.reserved
		FROM stock_balances b JOIN lots lt ON lt.item_id = b.item_id AND lt.lot = b.lot
		JOIN items i ON i.id = b.item_id JOIN locations l ON l.id = b.location_id` + w.String() + `
		ORDER BY lt.expires_on, i.sku, l.path, b.lot LIMIT ?`
	todayS := warehouse.FormatDate(today)
	out, err := queryRows(ctx, db.read, q, append(w.args, limit+1), func(row scanner) (*warehouse.ExpiringStock, error) {
		var e warehouse.ExpiringStock
		if err := row.Scan(&e.ItemID, &e.SKU, &e.LocationID, &e.LocationCode, &e.LocationPath, &e.Lot, &e.ExpiresOn, &e.OnHand, &e.Reserved); err != nil {
			return nil, err
		}
		e.Available = e.OnHand - e.Reserved
		e.DaysLeft = warehouse.DaysUntil(today, e.ExpiresOn)
		e.Expired = warehouse.ExpiresBefore(e.ExpiresOn, todayS)
		return &e, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("expiring report: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor("expiring", last.ExpiresOn, last.SKU, last.LocationPath, last.Lot)
	}
	if out == nil {
		out = []*warehouse.ExpiringStock{}
	}
	return out, next, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/warehouse-api/warehouse"
)

const ledgerColumns = `e.id, e.movement_id, e.line_no, e.type, e.item_id, i.sku, e.location_id, l.code, e.lot, e.qty_delta, e.qty_after, e.created_by, e.created_at`

func scanLedger(row scanner) (*warehouse.LedgerEntry, error) {
	var e warehouse.LedgerEntry
	var created int64
	if err := row.Scan(&e.ID, &e.MovementID, &e.LineNo, &e.Type, &e.ItemID, &e.SKU, &e.LocationID, &e.LocationCode, &e.Lot, &e.QtyDelta, &e.QtyAfter, &e.CreatedBy, &created); err != nil {
		return nil, err
	}
	e.CreatedAt = fromMS(created)
	return &e, nil
}

const ledgerFrom = ` FROM ledger_entries e JOIN items i ON i.id = e.item_id JOIN locations l ON l.id = e.location_id`

func ledgerWhere(f warehouse.LedgerFilter) *where {
	w := &where{}
	if f.ItemID != 0 {
		w.add(`e.item_id = ?`, f.ItemID)
	}
	if f.LocationID != 0 {
		w.add(`e.location_id = ?`, f.LocationID)
	}
	if f.Lot != nil {
		w.add(`e.lot = ?`, *f.Lot)
	}
	if f.MovementID != 0 {
		w.add(`e.movement_id = ?`, f.MovementID)
	}
	if f.Type != "" {
		w.add(`e.type = ?`, f.Type)
	}
	if f.CreatedBy != "" {
		w.add(`e.created_by = ?`, f.CreatedBy)
	}
	if f.Since != nil {
		w.add(`e.created_at >= ?`, ms(*f.Since))
	}
	if f.Until != nil {
		w.add(`e.created_at < ?`, ms(*f.Until))
	}
	return w
}

// ListLedger returns a page of ledger entries, newest first.
func (db *DB) ListLedger(ctx context.Context, f warehouse.LedgerFilter, p warehouse.Page) (_ []*warehouse.LedgerEntry, _ string, err error) {
	defer wrap(&err, "ListLedger")
	w := ledgerWhere(f)
	var after int64
	if ok, err := decodeCursor(p.After, "ledger", &after); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`e.id < ?`, after)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT `+ledgerColumns+ledgerFrom+w.String()+` ORDER BY e.id DESC LIMIT ?`, append(w.args, limit+1), scanLedger)
	if err != nil {
		return nil, "", fmt.Errorf("list ledger: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor("ledger", out[limit-1].ID)
	}
	return out, next, nil
}

// CountLedger counts the entries matching f.
func (db *DB) CountLedger(ctx context.Context, f warehouse.LedgerFilter) (_ int, err error) {
	defer wrap(&err, "CountLedger")
	w := ledgerWhere(f)
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*)`+ledgerFrom+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count ledger: %w", wrapErr(err))
	}
	return n, nil
}

// EachLedger streams the entries matching f, newest first.
func (db *DB) EachLedger(ctx context.Context, f warehouse.LedgerFilter, fn func(*warehouse.LedgerEntry) error) (err error) {
	defer wrap(&err, "EachLedger")
	w := ledgerWhere(f)
	return eachRow(ctx, db.read, `SELECT `+ledgerColumns+ledgerFrom+w.String()+` ORDER BY e.id DESC`, w.args, scanLedger, fn)
}

// A lot's expiry is one primary-key probe, and none for the balances
// without a lot.
const balanceColumns = `b.item_id, i.sku, b.location_id, l.code, l.path, b.lot, b.on_hand, b.reserved, b.last_movement_at, b.last_counted_at,
	CASE WHEN b.lot = '' THEN NULL ELSE (SELECT lt.expires_on FROM lots lt WHERE lt.item_id = b.item_id AND lt.lot = b.lot) END`

const balanceFrom = ` FROM stock_balances b JOIN items i ON i.id = b.item_id JOIN locations l ON l.id = b.location_id`

func scanBalance(row scanner) (*warehouse.Balance, error) {
	var b warehouse.Balance
	var moved, counted sql.NullInt64
	var expires sql.NullString
	if err := row.Scan(&b.ItemID, &b.SKU, &b.LocationID, &b.LocationCode, &b.LocationPath, &b.Lot, &b.OnHand, &b.Reserved, &moved, &counted, &expires); err != nil {
		return nil, err
	}
	b.ExpiresOn = expires.String
	b.Available = b.OnHand - b.Reserved
	b.LastMovementAt, b.LastCountedAt = timePtr(moved), timePtr(counted)
	return &b, nil
}

// stockWhere needs the database to resolve a location's subtree.
func (db *DB) stockWhere(ctx context.Context, f warehouse.StockFilter) (*where, error) {
	w := &where{}
	if f.ItemID != 0 {
		w.add(`b.item_id = ?`, f.ItemID)
	}
	if f.SKU != "" {
		w.add(`i.sku = ?`, f.SKU)
	}
	if f.LocationID != 0 {
		if f.IncludeSublocations {
			loc, err := db.Location(ctx, f.LocationID)
			if err != nil {
				return nil, err
			}
			w.add(`(l.id = ? OR substr(l.path, 1, ?) = ?)`, loc.ID, len(loc.Path)+1, loc.Path+"/")
		} else {
			w.add(`b.location_id = ?`, f.LocationID)
		}
	}
	if f.Lot != nil {
		w.add(`b.lot = ?`, *f.Lot)
	}
	if f.Nonzero {
		w.add(`b.on_hand <> 0`)
	}
	return w, nil
}

// ListStock returns a page of balances ordered by sku, location path, lot.
func (db *DB) ListStock(ctx context.Context, f warehouse.StockFilter, p warehouse.Page) (_ []*warehouse.Balance, _ string, err error) {
	defer wrap(&err, "ListStock")
	w, err := db.stockWhere(ctx, f)
	if err != nil {
		return nil, "", err
	}
	var sku, path, lot string
	if ok, err := decodeCursor(p.After, "stock", &sku, &path, &lot); err != nil {
		return nil, "", err
	} else if ok {
		// Row-value comparison: standard SQL, SQLite >= 3.15 and PostgreSQL.
		w.add(`(i.sku, l.path, b.lot) > (?, ?, ?)`, sku, path, lot)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT `+balanceColumns+balanceFrom+w.String()+` ORDER BY i.sku, l.path, b.lot LIMIT ?`, append(w.args, limit+1), scanBalance)
	if err != nil {
		return nil, "", fmt.Errorf("list stock: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor("stock", last.SKU, last.LocationPath, last.Lot)
	}
	return out, next, nil
}

// CountStock counts the balances matching f.
func (db *DB) CountStock(ctx context.Context, f warehouse.StockFilter) (_ int, err error) {
	defer wrap(&err, "CountStock")
	w, err := db.stockWhere(ctx, f)
	if err != nil {
		return 0, err
	}
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*)`+balanceFrom+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count stock: %w", wrapErr(err))
	}
	return n, nil
}

// EachStock streams the balances matching f.
func (db *DB) EachStock(ctx context.Context, f warehouse.StockFilter, fn func(*warehouse.Balance) error) (err error) {
	defer wrap(&err, "EachStock")
	w, err := db.stockWhere(ctx, f)
	if err != nil {
		return err
	}
	return eachRow(ctx, db.read, `SELECT `+balanceColumns+balanceFrom+w.String()+` ORDER BY i.sku, l.path, b.lot`, w.args, scanBalance, fn)
}

// ListLowStock returns active items whose available total (under
// locationID's subtree if not 0) is below their reorder point, by sku.
func (db *DB) ListLowStock(ctx context.Context, locationID int64, p warehouse.Page) (_ []*warehouse.LowStock, _ string, err error) {
	defer wrap(&err, "ListLowStock(%d)", locationID)
	sub := `SELECT coalesce(sum(b.on_hand - b.reserved), 0) FROM stock_balances b WHERE b.item_id = i.id`
	var args []any
	if locationID != 0 {
		loc, err := db.Location(ctx, locationID)
		if err != nil {
			return nil, "", err
		}
		sub += ` AND b.location_id IN (SELECT id FROM locations WHERE id = ? OR substr(path, 1, ?) = ?)`
		args = append(args, loc.ID, len(loc.Path)+1, loc.Path+"/")
	}
	w := &where{}
	w.add(`i.active = ?`, true)
	w.add(`i.reorder_point IS NOT NULL`)
	var after string
	if ok, err := decodeCursor(p.After, "low-stock", &after); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`i.sku > ?`, after)
	}
	limit := pageLimit(p.Limit)
	q := `SELECT * FROM (SELECT i.id, i.sku, i.name, i.uom, i.reorder_point, (` + sub + `) AS avail FROM items i` + w.String() + `) t
		WHERE t.avail < t.reorder_point ORDER BY t.sku LIMIT ?`
	all := append(append(args, w.args...), limit+1)
	out, err := queryRows(ctx, db.read, q, all, func(row scanner) (*warehouse.LowStock, error) {
		var r warehouse.LowStock
		if err := row.Scan(&r.ItemID, &r.SKU, &r.Name, &r.UOM, &r.ReorderPoint, &r.Available); err != nil {
			return nil, err
		}
		r.Shortfall = r.ReorderPoint - r.Available
		return &r, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("low-stock report: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor("low-stock", out[limit-1].SKU)
	}
	return out, next, nil
}

// HasItems reports whether any item exists (demo seeding runs only on an
// empty warehouse).
func (db *DB) HasItems(ctx context.Context) (_ bool, err error) {
	defer wrap(&err, "HasItems")
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM items LIMIT 1) t`).Scan(&n); err != nil {
		return false, fmt.Errorf("count items: %w", wrapErr(err))
	}
	return n > 0, nil
}

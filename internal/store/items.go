package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/warehouse-api/warehouse"
)

// The totals are computed from balances on read: they are never stored
// twice, so they cannot drift.
const itemColumns = `i.id, i.sku, i.name, i.description, i.uom, i.qty_precision, i.barcode, i.lot_tracked, i.reorder_point, i.active,
	i.created_at, i.created_by, i.updated_at, i.updated_by, i.version,
	(SELECT coalesce(sum(b.on_hand), 0) FROM stock_balances b WHERE b.item_id = i.id),
	(SELECT coalesce(sum(b.on_hand - b.reserved), 0) FROM stock_balances b WHERE b.item_id = i.id)`

func scanItem(row scanner) (*warehouse.Item, error) {
	var it warehouse.Item
	dest, done := itemDest(&it)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	done()
	return &it, nil
}

// itemDest returns the scan destinations of itemColumns into it, and what
// completes it after the scan (for a row that also holds other columns).
func itemDest(it *warehouse.Item) ([]any, func()) {
	var barcode sql.NullString
	var reorder sql.NullInt64
	var created, updated int64
	return []any{&it.ID, &it.SKU, &it.Name, &it.Description, &it.UOM, &it.QtyPrecision, &barcode, &it.LotTracked, &reorder, &it.Active,
			&created, &it.CreatedBy, &updated, &it.UpdatedBy, &it.Version, &it.OnHand, &it.Available}, func() {
			it.Barcode = barcode.String
			if reorder.Valid {
				q := warehouse.Qty(reorder.Int64)
				it.ReorderPoint = &q
			}
			it.CreatedAt, it.UpdatedAt = fromMS(created), fromMS(updated)
		}
}

func notFound(what string, id int64) error {
	return warehouse.Errorf(warehouse.ENOTFOUND, "%s %d not found", what, id)
}

// checkBarcodeFree refuses a barcode that is an item barcode (other than
// item selfID) or a location code: a scan must resolve to one thing.
func checkBarcodeFree(ctx context.Context, tx *txn, code string, selfItem, selfLocation int64) error {
	if code == "" {
		return nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM items WHERE barcode = ? AND id <> ?) + (SELECT count(*) FROM locations WHERE code = ? AND id <> ?)`,
		code, selfItem, code, selfLocation).Scan(&n)
	if err != nil {
		return fmt.Errorf("check barcode: %w", wrapErr(err))
	}
	if n > 0 {
		return warehouse.Errorf(warehouse.ECONFLICT, "barcode %q is already used by an item or a location", code)
	}
	return nil
}

func checkSKUFree(ctx context.Context, tx *txn, sku string, self int64) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM items WHERE sku = ? AND id <> ?`, sku, self).Scan(&n); err != nil {
		return fmt.Errorf("check sku: %w", wrapErr(err))
	}
	if n > 0 {
		return warehouse.Errorf(warehouse.ECONFLICT, "sku %q already exists", sku)
	}
	return nil
}

// CreateItem inserts it; a taken sku or barcode is ECONFLICT.
func (db *DB) CreateItem(ctx context.Context, it *warehouse.Item, actor string) (err error) {
	defer wrap(&err, "CreateItem(%q)", it.SKU)
	if err := it.Validate(); err != nil {
		return err
	}
	now := db.now()
	return db.tx(ctx, func(tx *txn) error {
		if err := tx.serialize(ctx, lockMasterData); err != nil {
			return err
		}
		return createItemTx(ctx, tx, now, it, actor)
	})
}

// createItemTx is CreateItem inside tx, on a validated it (bulk import
// creates items with it, so both follow the same rules).
func createItemTx(ctx context.Context, tx *txn, now time.Time, it *warehouse.Item, actor string) error {
	if err := checkSKUFree(ctx, tx, it.SKU, 0); err != nil {
		return err
	}
	if err := checkBarcodeFree(ctx, tx, it.Barcode, 0, 0); err != nil {
		return err
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO items (sku, name, description, uom, qty_precision, barcode, lot_tracked, reorder_point, active, created_at, created_by, updated_at, updated_by, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
		it.SKU, it.Name, it.Description, it.UOM, it.QtyPrecision, nullString(it.Barcode), it.LotTracked, nullQty(it.ReorderPoint), it.Active,
		ms(now), actor, ms(now), actor).Scan(&id)
	if err != nil {
		if isUniqueViolation(err) {
			return warehouse.Errorf(warehouse.ECONFLICT, "sku or barcode already exists")
		}
		return fmt.Errorf("insert item: %w", wrapErr(err))
	}
	// The row is what was inserted, with no stock yet: built here
	// rather than read back (a bulk import creates 100,000).
	at := fromMS(ms(now))
	it.ID, it.OnHand, it.Available = id, 0, 0
	it.Audit = warehouse.Audit{CreatedAt: at, CreatedBy: actor, UpdatedAt: at, UpdatedBy: actor, Version: 1}
	if it.ReorderPoint != nil {
		rp := *it.ReorderPoint
		it.ReorderPoint = &rp
	}
	return audit(ctx, tx, now, "item", strconv.FormatInt(id, 10), "create", nil, it, actor)
}

// Item returns one item with its totals.
func (db *DB) Item(ctx context.Context, id int64) (_ *warehouse.Item, err error) {
	defer wrap(&err, "Item(%d)", id)
	it, err := scanItem(db.read.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items i WHERE i.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("item", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read item: %w", wrapErr(err))
	}
	return it, nil
}

func itemWhere(f warehouse.ItemFilter) *where {
	w := &where{}
	if f.Q != "" {
		p := "%" + likeEscape(f.Q) + "%"
		// lower() on both sides: SQLite's LIKE ignores ASCII case,
		// PostgreSQL's does not.
		w.add(`(lower(i.sku) LIKE lower(?) ESCAPE '\' OR lower(i.name) LIKE lower(?) ESCAPE '\')`, p, p)
	}
	if f.SKU != "" {
		w.add(`i.sku = ?`, f.SKU)
	}
	if f.Barcode != "" {
		w.add(`i.barcode = ?`, f.Barcode)
	}
	if f.Active != nil {
		w.add(`i.active = ?`, *f.Active)
	}
	if f.BelowReorder {
		w.add(`i.reorder_point IS NOT NULL AND (SELECT coalesce(sum(b.on_hand - b.reserved), 0) FROM stock_balances b WHERE b.item_id = i.id) < i.reorder_point`)
	}
	return w
}

// ListItems returns a page of items ordered by sku, and the cursor of the
// next page ("" at the end).
func (db *DB) ListItems(ctx context.Context, f warehouse.ItemFilter, p warehouse.Page) (_ []*warehouse.Item, _ string, err error) {
	defer wrap(&err, "ListItems")
	w := itemWhere(f)
	var after string
	if ok, err := decodeCursor(p.After, "items", &after); err != nil {
		return nil, "", err
	} else if ok {
		w.add(`i.sku > ?`, after)
	}
	limit := pageLimit(p.Limit)
	out, err := queryRows(ctx, db.read, `SELECT `+itemColumns+` FROM items i`+w.String()+` ORDER BY i.sku LIMIT ?`, append(w.args, limit+1), scanItem)
	if err != nil {
		return nil, "", fmt.Errorf("list items: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor("items", out[limit-1].SKU)
	}
	return out, next, nil
}

// EachItem calls fn for every item matching f, in sku order, stopping at
// max rows (CSV export). It returns how many matched in all.
func (db *DB) CountItems(ctx context.Context, f warehouse.ItemFilter) (_ int, err error) {
	defer wrap(&err, "CountItems")
	w := itemWhere(f)
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM items i`+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count items: %w", wrapErr(err))
	}
	return n, nil
}

// EachItem streams every item matching f in sku order to fn.
func (db *DB) EachItem(ctx context.Context, f warehouse.ItemFilter, fn func(*warehouse.Item) error) (err error) {
	defer wrap(&err, "EachItem")
	w := itemWhere(f)
	return eachRow(ctx, db.read, `SELECT `+itemColumns+` FROM items i`+w.String()+` ORDER BY i.sku`, w.args, scanItem, fn)
}

// hasLedger reports whether the item has any ledger entries: its sku and
// lot tracking are frozen from then on.
func hasLedger(ctx context.Context, tx *txn, col string, id int64) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM ledger_entries WHERE `+col+` = ? LIMIT 1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check ledger: %w", wrapErr(err))
	}
	return true, nil
}

func checkVersion(current, want int64) error {
	if want != warehouse.AnyVersion && want != current {
		return &warehouse.StaleError{Current: current}
	}
	return nil
}

// UpdateItem applies p if the item is still at version; else StaleError.
func (db *DB) UpdateItem(ctx context.Context, id, version int64, p warehouse.ItemPatch, actor string) (_ *warehouse.Item, err error) {
	defer wrap(&err, "UpdateItem(%d)", id)
	now := db.now()
	var out *warehouse.Item
	err = db.tx(ctx, func(tx *txn) error {
		if err := tx.serialize(ctx, lockMasterData); err != nil {
			return err
		}
		var err error
		out, _, err = updateItemTx(ctx, tx, now, id, version, p, actor, false)
		return err
	})
	return out, err
}

// updateItemTx is UpdateItem inside tx. With skipSame, a patch that
// changes nothing writes nothing (no version, no audit event) and reports
// changed false: an import of an unchanged export is a no-op.
func updateItemTx(ctx context.Context, tx *txn, now time.Time, id, version int64, p warehouse.ItemPatch, actor string, skipSame bool) (out *warehouse.Item, changed bool, err error) {
	err = func() error {
		if err := tx.lockRow(ctx, "items", id); err != nil {
			return err
		}
		before, err := scanItem(tx.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items i WHERE i.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("item", id)
		}
		if err != nil {
			return fmt.Errorf("read item: %w", wrapErr(err))
		}
		if err := checkVersion(before.Version, version); err != nil {
			return err
		}
		it := *before
		p.Apply(&it)
		if err := it.Validate(); err != nil {
			return err
		}
		if skipSame && sameItem(before, &it) {
			out = before
			return nil
		}
		changed = true
		if it.SKU != before.SKU || it.LotTracked != before.LotTracked || it.QtyPrecision < before.QtyPrecision {
			used, err := hasLedger(ctx, tx, "item_id", id)
			if err != nil {
				return err
			}
			if used {
				// Name each field the request tried to change, not always sku.
				var fields []warehouse.FieldError
				if it.SKU != before.SKU {
					fields = append(fields, warehouse.FieldError{Field: "sku", Message: "immutable once the item has ledger entries"})
				}
				if it.LotTracked != before.LotTracked {
					fields = append(fields, warehouse.FieldError{Field: "lot_tracked", Message: "immutable once the item has ledger entries"})
				}
				if it.QtyPrecision < before.QtyPrecision {
					fields = append(fields, warehouse.FieldError{Field: "qty_precision", Message: "cannot be lowered once the item has ledger entries"})
				}
				return &warehouse.Error{Code: warehouse.EINVALID,
					Message: "sku, lot_tracked and a lower qty_precision cannot change once the item has ledger entries",
					Fields:  fields}
			}
		}
		if it.SKU != before.SKU {
			if err := checkSKUFree(ctx, tx, it.SKU, id); err != nil {
				return err
			}
		}
		if it.Barcode != before.Barcode {
			if err := checkBarcodeFree(ctx, tx, it.Barcode, id, 0); err != nil {
				return err
			}
		}
		if before.Active && !it.Active && before.OnHand != 0 {
			return warehouse.Errorf(warehouse.ECONFLICT, "item %s still has %s %s on hand; issue or transfer it out before archiving", it.SKU, before.OnHand, it.UOM)
		}
		_, err = tx.ExecContext(ctx, `UPDATE items SET sku = ?, name = ?, description = ?, uom = ?, qty_precision = ?, barcode = ?, lot_tracked = ?, reorder_point = ?, active = ?,
			updated_at = ?, updated_by = ?, version = version + 1 WHERE id = ?`,
			it.SKU, it.Name, it.Description, it.UOM, it.QtyPrecision, nullString(it.Barcode), it.LotTracked, nullQty(it.ReorderPoint), it.Active, ms(now), actor, id)
		if err != nil {
			if isUniqueViolation(err) {
				return warehouse.Errorf(warehouse.ECONFLICT, "sku or barcode already exists")
			}
			return fmt.Errorf("update item: %w", wrapErr(err))
		}
		out, err = scanItem(tx.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items i WHERE i.id = ?`, id))
		if err != nil {
			return fmt.Errorf("read item: %w", wrapErr(err))
		}
		return audit(ctx, tx, now, "item", strconv.FormatInt(id, 10), "update", before, out, actor)
	}()
	return out, changed, err
}

// sameItem reports whether b has a's editable fields.
func sameItem(a, b *warehouse.Item) bool {
	rp := func(q *warehouse.Qty) string {
		if q == nil {
			return ""
		}
		return q.String()
	}
	return a.SKU == b.SKU && a.Name == b.Name && a.Description == b.Description && a.UOM == b.UOM &&
		a.QtyPrecision == b.QtyPrecision && a.Barcode == b.Barcode && a.LotTracked == b.LotTracked &&
		rp(a.ReorderPoint) == rp(b.ReorderPoint) && a.Active == b.Active
}

// ArchiveItem sets active=false; the item must have no stock anywhere.
func (db *DB) ArchiveItem(ctx context.Context, id, version int64, actor string) (err error) {
	defer wrap(&err, "ArchiveItem(%d)", id)
	f := false
	_, err = db.UpdateItem(ctx, id, version, warehouse.ItemPatch{Active: &f}, actor)
	return err
}

// ItemByBarcode returns the item with that barcode (or sku), or ENOTFOUND.
func (db *DB) ItemByBarcode(ctx context.Context, code string) (_ *warehouse.Item, err error) {
	defer wrap(&err, "ItemByBarcode")
	it, err := scanItem(db.read.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items i WHERE i.barcode = ? OR i.sku = ? ORDER BY (i.barcode IS NOT NULL AND i.barcode = ?) DESC LIMIT 1`, code, code, code))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, warehouse.Errorf(warehouse.ENOTFOUND, "no item with barcode %q", code)
	}
	if err != nil {
		return nil, fmt.Errorf("read item: %w", wrapErr(err))
	}
	return it, nil
}

// Bulk import: every row of a file applied in one transaction, with the
// same rules as a single create, update or movement (the *Tx helpers), and
// every refused row reported rather than only the first.

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse"
)

// errDryRun rolls back a dry run's transaction once it has done all of
// its work, so the counts and errors it reports are exactly a real run's.
var errDryRun = errors.New("dry run: rolled back")

// importTx runs fn in one transaction with its statements prepared once.
// A row fn records in bad, or a dry run, rolls everything back. fn must
// start from scratch: PostgreSQL may run it again.
func (db *DB) importTx(ctx context.Context, dryRun bool, fn func(tx *txn, now time.Time, bad *warehouse.RowErrors) error) error {
	now := db.now()
	err := db.tx(ctx, func(tx *txn) error {
		tx.local = map[string]*sql.Stmt{}
		if err := tx.serialize(ctx, lockMasterData); err != nil {
			return err
		}
		var bad warehouse.RowErrors
		if err := fn(tx, now, &bad); err != nil {
			return err
		}
		if err := bad.Err(); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}

// refused records a domain refusal of one row and lets the import go on to
// find the others; any other error ends it.
func refused(bad *warehouse.RowErrors, line int, column string, err error) error {
	switch warehouse.ErrorCode(err) {
	case warehouse.EINVALID, warehouse.ECONFLICT, warehouse.ENOTFOUND, warehouse.EINSUFFICIENT, warehouse.ECOUNTOUTDATED:
		bad.AddErr(line, column, err)
		return nil
	}
	return err
}

// idByKey returns the id of the row of table whose column is key, or 0.
func idByKey(ctx context.Context, tx *txn, table, column, key string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM `+table+` WHERE `+column+` = ?`, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s %q: %w", table, key, wrapErr(err))
	}
	return id, nil
}

// ImportItems creates the items of rows whose sku is new and updates the
// others (an upsert), in one transaction; rows that change nothing write
// nothing. each calls its argument once per row, in file order.
func (db *DB) ImportItems(ctx context.Context, actor string, each func(func(warehouse.ItemRow) error) error, dryRun bool) (c warehouse.ImportCounts, err error) {
	defer wrap(&err, "ImportItems")
	err = db.importTx(ctx, dryRun, func(tx *txn, now time.Time, bad *warehouse.RowErrors) error {
		c = warehouse.ImportCounts{}
		return each(func(r warehouse.ItemRow) error {
			id, err := idByKey(ctx, tx, "items", "sku", r.SKU)
			if err != nil {
				return err
			}
			if id == 0 {
				it := warehouse.Item{SKU: r.SKU, Active: true}
				r.Patch.Apply(&it)
				if err := it.Validate(); err != nil {
					return refused(bad, r.Line, "", err)
				}
				if err := createItemTx(ctx, tx, now, &it, actor); err != nil {
					return refused(bad, r.Line, "", err)
				}
				c.Created++
				return nil
			}
			_, changed, err := updateItemTx(ctx, tx, now, id, warehouse.AnyVersion, r.Patch, actor, true)
			if err != nil {
				return refused(bad, r.Line, "", err)
			}
			c.Upserted(changed)
			return nil
		})
	})
	return c, err
}

// ImportLocations upserts locations by code in one transaction. each
// gives parents before their children (the service orders the file's
// rows); a parent_code names a location of the file or of the database.
func (db *DB) ImportLocations(ctx context.Context, actor string, each func(func(warehouse.LocationRow) error) error, dryRun bool) (c warehouse.ImportCounts, err error) {
	defer wrap(&err, "ImportLocations")
	err = db.importTx(ctx, dryRun, func(tx *txn, now time.Time, bad *warehouse.RowErrors) error {
		c = warehouse.ImportCounts{}
		return each(func(r warehouse.LocationRow) error {
			var parent *int64
			if r.ParentCode != nil && *r.ParentCode != "" {
				pid, err := idByKey(ctx, tx, "locations", "code", *r.ParentCode)
				if err != nil {
					return err
				}
				if pid == 0 {
					bad.Add(r.Line, "parent_code", fmt.Sprintf("no location %q in the file or the database", *r.ParentCode))
					return nil
				}
				parent = &pid
			}
			id, err := idByKey(ctx, tx, "locations", "code", r.Code)
			if err != nil {
				return err
			}
			if id == 0 {
				l := warehouse.Location{Code: r.Code, ParentID: parent}
				if r.Name != nil {
					l.Name = *r.Name
				}
				if r.Structural != nil {
					l.Structural = *r.Structural
				}
				if err := l.Validate(); err != nil {
					return refused(bad, r.Line, "", err)
				}
				if err := createLocationTx(ctx, tx, now, &l, actor); err != nil {
					return refused(bad, r.Line, "parent_code", err)
				}
				c.Created++
				if r.Active != nil && !*r.Active {
					// Created archived (an export of archived locations).
					f := false
					if _, _, err := updateLocationTx(ctx, tx, now, l.ID, warehouse.AnyVersion, warehouse.LocationPatch{Active: &f}, actor, true); err != nil {
						return refused(bad, r.Line, "active", err)
					}
				}
				return nil
			}
			p := warehouse.LocationPatch{Name: r.Name, Structural: r.Structural, Active: r.Active}
			if r.ParentCode != nil {
				p.ParentID = &parent
			}
			_, changed, err := updateLocationTx(ctx, tx, now, id, warehouse.AnyVersion, p, actor, true)
			if err != nil {
				return refused(bad, r.Line, "", err)
			}
			c.Upserted(changed)
			return nil
		})
	})
	return c, err
}

// ImportStock posts each chunk as one count movement, all in one
// transaction, through the movement path (idempotency key, the domain's
// planning, balances, ledger). A chunk whose key was used replays; the
// chunks of one file commit together, so if the first replays all do.
func (db *DB) ImportStock(ctx context.Context, actor string, each func(func(warehouse.StockChunk) error) error, dryRun bool) (c warehouse.ImportCounts, err error) {
	defer wrap(&err, "ImportStock")
	err = db.importTx(ctx, dryRun, func(tx *txn, now time.Time, bad *warehouse.RowErrors) error {
		c = warehouse.ImportCounts{}
		locations := map[string]int64{}
		return each(func(ch warehouse.StockChunk) error {
			lines := make([]warehouse.MovementLine, 0, len(ch.Rows))
			for _, r := range ch.Rows {
				item, err := idByKey(ctx, tx, "items", "sku", r.SKU)
				if err != nil {
					return err
				}
				if item == 0 {
					bad.Add(r.Line, "sku", fmt.Sprintf("no item with sku %q", r.SKU))
				}
				loc, ok := locations[r.LocationCode]
				if !ok {
					if loc, err = idByKey(ctx, tx, "locations", "code", r.LocationCode); err != nil {
						return err
					}
					locations[r.LocationCode] = loc
				}
				if loc == 0 {
					bad.Add(r.Line, "location_code", fmt.Sprintf("no location with code %q", r.LocationCode))
				}
				qty := r.Qty
				lines = append(lines, warehouse.MovementLine{SKU: r.SKU, Lot: r.Lot, LocationID: &loc, CountedQty: &qty})
			}
			if bad.Len() > 0 {
				// Refused already: look for the other bad rows, post nothing.
				return nil
			}
			nm := warehouse.NewMovement{Type: warehouse.MoveCount, Reference: ch.Reference, Note: ch.Note, Lines: lines}
			m, err := postMovementTx(ctx, tx, now, nm, actor, ch.Idem)
			var replay *warehouse.IdempotentReplay
			switch {
			case errors.As(err, &replay):
				c.Replayed = true
				c.MovementIDs = append(c.MovementIDs, replay.MovementID)
				return nil
			case err != nil:
				line, column := chunkLine(ch, err)
				return refused(bad, line, column, lineless(err))
			}
			c.MovementIDs = append(c.MovementIDs, m.ID)
			c.Created += len(m.Lines)
			return nil
		})
	})
	return c, err
}

// chunkLine maps a movement's error at lines[i].field to the file's line
// and column.
func chunkLine(ch warehouse.StockChunk, err error) (int, string) {
	var e *warehouse.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return ch.Rows[0].Line, ""
	}
	f := e.Fields[0].Field
	rest, ok := strings.CutPrefix(f, "lines[")
	if !ok {
		return ch.Rows[0].Line, ""
	}
	idx, field, _ := strings.Cut(rest, "].")
	i, convErr := strconv.Atoi(idx)
	if convErr != nil || i < 0 || i >= len(ch.Rows) {
		return ch.Rows[0].Line, ""
	}
	switch field {
	case "item_id", "sku":
		field = "sku"
	case "location_id":
		field = "location_code"
	case "counted_qty":
		field = "qty"
	}
	return ch.Rows[i].Line, field
}

// lineless is err's message without its field list, so that the row
// error names the file's column, not the movement's field.
func lineless(err error) error {
	var e *warehouse.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		return &warehouse.Error{Code: e.Code, Message: e.Fields[0].Message}
	}
	return err
}

// The resolver looks up and locks the items and locations a movement names,
// once per transaction.

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/warehouse-api/warehouse"
)

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
